import ArgumentParser
import SignatureGate

extension KeygenCommand {
    /// The tools whose key formats `keygen --signing` writes.
    enum SigningTool: String, ExpressibleByArgument, CaseIterable {
        case minisign
        case cosign

        var format: SignatureFormat {
            switch self {
            case .minisign: .minisign
            case .cosign: .cosign
            }
        }

        /// The variable `sign` reads this key's password from.
        var passwordVariable: String {
            switch self {
            case .minisign: "MINISIGN_PASSWORD"
            case .cosign: "COSIGN_PASSWORD"
            }
        }
    }

    /// `keygen --signing TOOL --out PATH`: writes the pair and prints where, and the key id.
    func writeSigningKeyPair(_ tool: SigningTool, to path: String) throws {
        let publicPath = SigningKeyPair.publicPath(forSecretPath: path)
        let pair: SigningKeyPair
        do {
            if !force { try SigningKeyPair.refuseExisting(secretPath: path, publicPath: publicPath) }
            let password =
                unencrypted
                ? nil
                : try PasswordSource.readNew(
                    environmentVariable: tool.passwordVariable, prompt: "Password for the new \(tool.rawValue) key: ")
            pair = try SigningKeyPair.generate(tool.format, password: password)
            try pair.write(secretPath: path, publicPath: publicPath, force: force)
        } catch {
            throw failure(error)
        }
        let protection = pair.isEncrypted ? "password-encrypted" : "unencrypted"
        print("secret key: \(path) (\(tool.rawValue), mode 0600, \(protection))")
        print("public key: \(publicPath) (for verify --key and leech --trust)")
        print("key id:     \(pair.key.keyID)")
    }

    /// keygen's code for a signature-gate error: an existing file 3, no password 2, anything else 1.
    private func failure(_ error: SignatureGateError) -> ExitCode {
        switch error.code {
        case .outputExists:
            fail("\(error.description); pass --force to replace it, or choose another --out", code: ExitCodes.exists)
        case .passwordUnavailable: fail(error.description, code: ExitCodes.badInput)
        default: fail(error.description, code: ExitCodes.failure)
        }
    }
}
