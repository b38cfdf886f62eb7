import ArgumentParser
import Foundation
import SignatureGate

/// `swtorrent verify`: the signature gate on its own.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a file's cosign / sigstore-bundle / minisign signatures against trusted keys.",
        discussion: """
            Trusted keys: --key PUB (repeatable; a cosign.pub PEM or a minisign.pub), --trust-dir DIR (every \
            *.pub in it) and --policy FILE (lines 'trust PATH', 'trust-dir DIR', 'require N', \
            'require-prehashed'; the larger --require wins). Signatures: --signature SIG (FILE.sig from \
            cosign sign-blob, or a .minisig) and --bundle B (a sigstore bundle, v0.1-v0.3); when neither is \
            given, FILE.sig, FILE.minisig and FILE.sigstore.json are used if present. With --torrent T --data \
            DIR, every file of the torrent is checked against the signatures embedded in it and the signature \
            files shipped beside it in the torrent (NAME.sig, NAME.minisig, NAME.sigstore.json). The file is \
            read once; one SHA-256 serves every cosign signature. Sigstore bundles are checked with the trusted \
            key only: transparency-log entries and timestamps are NOT verified (like cosign verify-blob \
            --insecure-ignore-tlog).

            Exits 0 only when at least --require N distinct trusted keys verified, and prints their key ids.
            Exit codes: 0 verified; 1 I/O failure; 2 bad arguments or malformed key/signature/bundle file; \
            3 invalid signature (file or signature altered, or a cosign signature by an untrusted key); \
            4 digest mismatch (the file differs from the digest the bundle or torrent recorded); \
            5 signed by an untrusted key; 6 no signature; 7 not enough distinct signers for --require; \
            8 minisign trusted comment altered; 9 refused by policy (legacy minisign with --require-prehashed, \
            unsupported digest).
            """
    )

    @Option(name: .long, help: "A trusted public key (cosign.pub PEM or minisign.pub). Repeatable.")
    var key: [String] = []

    @Option(name: .customLong("trust-dir"), help: "Trust every *.pub key in this directory.")
    var trustDir: [String] = []

    @Option(name: .long, help: "A trust-policy file (trust / trust-dir / require lines; see Docs/signing.md).")
    var policy: String?

    @Option(name: .long, help: "A detached signature (.sig or .minisig). Repeatable.")
    var signature: [String] = []

    @Option(name: .long, help: "A sigstore bundle (.sigstore.json). Repeatable.")
    var bundle: [String] = []

    @Option(name: .long, help: "Distinct trusted signers required (M of N).")
    var require: Int = 1

    @Flag(name: .customLong("require-prehashed"), help: "Refuse legacy (non-prehashed) minisign signatures.")
    var requirePrehashed = false

    @Option(name: .long, help: "Verify every file of this torrent against its embedded signatures.")
    var torrent: String?

    @Option(name: .long, help: "With --torrent: the directory holding the torrent's content.")
    var data: String?

    @Argument(help: "The file to verify.")
    var file: String?

    /// Argument checks (exit 2, as Docs/cli.md says for bad arguments).
    func checkArguments() {
        if key.isEmpty && trustDir.isEmpty && policy == nil {
            GateCommandOutput.fail(
                "verify", "no trusted key: give --key PUB or --trust-dir DIR (a bundle's own key is not trusted)",
                code: 2
            )
        }
        if require < 0 {
            GateCommandOutput.fail("verify", "--require must be 0 or more", code: 2)
        }
        if torrent == nil && file == nil {
            GateCommandOutput.fail("verify", "give FILE, or --torrent T --data DIR", code: 2)
        }
        if torrent != nil && data == nil {
            GateCommandOutput.fail("verify", "--torrent needs --data DIR", code: 2)
        }
    }

    func run() throws {
        checkArguments()
        do {
            var policy = try TrustPolicy.load(keyFiles: key, directories: trustDir, requiredSigners: require)
            if let file = self.policy {
                let fromFile = try TrustPolicy.load(policyFile: file)
                policy.keys += fromFile.keys.filter { !policy.keys.contains($0) }
                policy.requiredSigners = max(policy.requiredSigners, fromFile.requiredSigners)
                policy.requirePrehashedMinisign = fromFile.requirePrehashedMinisign
            }
            policy.requirePrehashedMinisign = policy.requirePrehashedMinisign || requirePrehashed
            let verifier = Verifier(policy: policy)
            if let torrent, let data {
                try verifyTorrent(torrent, data: data, verifier: verifier)
            } else if let file {
                let signatures = try loadSignatures(for: file)
                let (result, _) = try verifier.verify(path: file, signatures: signatures, alwaysSHA256: false)
                report(file, result)
            }
        } catch let exit as ExitCode {
            throw exit
        } catch let error as SignatureGateError {
            GateCommandOutput.fail("verify", error.description, code: error.code == .io ? 1 : 2)
        } catch {
            GateCommandOutput.fail("verify", "\(error)", code: 1)
        }
    }

    private func loadSignatures(for file: String) throws -> [DetachedSignature] {
        var paths = signature + bundle
        if paths.isEmpty {
            paths = [".sig", ".minisig", ".sigstore.json"].map { file + $0 }
                .filter { FileManager.default.fileExists(atPath: $0) }
        }
        return try paths.map { path throws(SignatureGateError) in try DetachedSignature.load(path) }
    }

    private func verifyTorrent(_ torrent: String, data: String, verifier: Verifier) throws {
        let bytes = try TorrentSignatures.readTorrentFile(torrent)
        let embedded = try TorrentSignatures.read(bytes, subject: torrent)
        var worst: (Int32, String)?
        let files = try TorrentSignatures.files(of: bytes, subject: torrent)
        for artifact in TorrentSignatures.plan(files: files, embedded: embedded) {
            let path = TorrentSignatures.contentPath(artifact.file.path, dataDirectory: data)
            let signatures = try artifact.signatures(dataDirectory: data)
            let (result, _) = try verifier.verify(path: path, signatures: signatures)
            switch result {
            case .verified(let signers):
                print("verified \(path): signed by \(signers.map(\.keyID).joined(separator: ", "))")
            case .rejected(let reason):
                FileHandle.standardError.write(Data("swtorrent verify: \(path): \(reason)\n".utf8))
                if worst == nil { worst = (reason.exitCode, reason.description) }
            }
        }
        if let worst { throw ExitCode(worst.0) }
    }

    private func report(_ file: String, _ result: VerificationResult) {
        switch result {
        case .verified(let signers):
            if signers.isEmpty { print("\(file): no signature, accepted because --require 0") }
            for signer in signers {
                print("verified \(file): signed by \(signer.keyID) (\(signer.format.rawValue), \(signer.origin))")
                for note in signer.notes { print("  \(note)") }
            }
        case .rejected(let reason):
            GateCommandOutput.fail("verify", "\(file): \(reason)", code: reason.exitCode)
        }
    }
}
