import ArgumentParser
import Node
import SignatureGate

/// `swtorrent verify`: the signature gate on its own.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a file's cosign / sigstore-bundle / minisign signatures against trusted keys.",
        discussion: """
            Trusted keys: --key PUB (repeatable; a cosign.pub PEM or a minisign.pub), --trust-dir DIR (every \
            *.pub in it) and --policy FILE (lines 'trust PATH', 'trust-dir DIR', 'require N', \
            'require-prehashed'). The policy is merged as in `swtorrent leech`: every key counts, and the larger of \
            --require and the file's 'require' wins (1 when neither says). Signatures: --signature SIG (FILE.sig from \
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

    @Option(name: .long, help: "Distinct trusted signers required (M of N; default 1).")
    var require: Int?

    @Flag(name: .customLong("require-prehashed"), help: "Refuse legacy (non-prehashed) minisign signatures.")
    var requirePrehashed = false

    @Option(name: .long, help: "Verify every file of this torrent against its embedded signatures.")
    var torrent: String?

    @Option(name: .long, help: "With --torrent: the directory holding the torrent's content.")
    var data: String?

    @Argument(help: "The file to verify.")
    var file: String?

    /// Argument checks (exit 2, as Docs/cli.md says for bad arguments).
    func checkArguments() throws {
        if let require, require < 0 { throw fail("--require must be 0 or more", code: ExitCodes.badInput) }
        if torrent == nil && file == nil {
            throw fail("give FILE, or --torrent T --data DIR", code: ExitCodes.badInput)
        }
        if torrent != nil && data == nil { throw fail("--torrent needs --data DIR", code: ExitCodes.badInput) }
    }

    func run() throws {
        try checkArguments()
        let sources = TrustPolicySources(
            keyFiles: key, keyDirectories: trustDir, requiredSigners: require, policyFile: policy,
            requirePrehashedMinisign: requirePrehashed)
        do {
            let verifier = ArtifactVerifier(policy: try sources.policy())
            if let torrent, let data {
                try verifyTorrent(torrent, data: data, verifier: verifier)
            } else if let file {
                try report(file, verifier.verify(file: file, signatureFiles: signature + bundle))
            }
        } catch let error as NodeError {
            if error.code == .noTrustedKey {
                throw fail(
                    "no trusted key: give --key PUB or --trust-dir DIR (a bundle's own key is not trusted)",
                    code: ExitCodes.badInput)
            }
            throw fail(error.message, code: ExitCodes.of(error))
        }
    }

    private func verifyTorrent(_ torrent: String, data: String, verifier: ArtifactVerifier) throws {
        var worst: Int32?
        for verdict in try verifier.verify(torrentPath: torrent, dataDirectory: data) {
            switch verdict.result {
            case .verified(let signers):
                print("verified \(verdict.path): signed by \(signers.map(\.keyID).joined(separator: ", "))")
            case .rejected(let reason):
                StandardError.report("verify", "\(verdict.path): \(reason)")
                if worst == nil { worst = ExitCodes.verdict(reason) }
            }
        }
        if let worst { throw ExitCode(worst) }
    }

    private func report(_ file: String, _ result: VerificationResult) throws {
        switch result {
        case .verified(let signers):
            if signers.isEmpty { print("\(file): no signature, accepted because --require 0") }
            for signer in signers {
                print("verified \(file): signed by \(signer.keyID) (\(signer.format.rawValue), \(signer.origin))")
                for note in signer.notes { print("  \(note)") }
            }
        case .rejected(let reason):
            throw fail("\(file): \(reason)", code: ExitCodes.verdict(reason))
        }
    }

    private func fail(_ message: String, code: Int32) -> ExitCode {
        StandardError.report("verify", message)
        return ExitCode(code)
    }
}
