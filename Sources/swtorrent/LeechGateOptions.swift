import ArgumentParser
import Node
import SignatureGate

/// The signature-gate options of `swtorrent leech`. Every download goes through the gate (`Node.GatedLeech`): the
/// torrent is downloaded into a 0700 staging directory and only files whose signatures verify against the trust
/// policy are released into `--out` (see Docs/signing.md, "The gate in leech"). Without a trust policy the command
/// refuses to start unless `--allow-unsigned` says that the torrent's piece hashes are enough.
struct LeechGateOptions: ParsableArguments {
    @Option(name: .long, help: "Trust this public key (cosign.pub PEM or minisign.pub). Repeatable.")
    var trust: [String] = []

    @Option(name: .customLong("trust-dir"), help: "Trust every *.pub key in this directory.")
    var trustDir: [String] = []

    @Option(
        name: .long,
        help: "Distinct trusted signers each file needs (M of N; default 1; the larger of this and the policy's wins).")
    var require: Int?

    @Option(name: .long, help: "A trust-policy file (trust / trust-dir / require / require-prehashed lines).")
    var policy: String?

    @Option(
        name: .customLong("require-attestation"),
        help: """
            Release manifests: every file needs a provenance attestation of this predicate type (e.g. \
            https://slsa.dev/provenance/v1), signed by a trusted key and naming its SHA-256. Repeatable (any listed \
            type will do).
            """)
    var requireAttestation: [String] = []

    @Flag(
        name: .customLong("allow-unsigned"),
        help: """
            No trust policy: release files that passed the torrent's piece hashes only (still staged and released \
            by rename; the audit log says released-unsigned). Not with --trust/--trust-dir/--require/--policy.
            """)
    var allowUnsigned = false

    @Option(
        name: .long, help: "Gate: download here, not into --out (default OUT/../.NAME.swtorrent-gate/staging/HASH).")
    var staging: String?

    @Option(name: .long, help: "Gate: refused files go here (default OUT/../.NAME.swtorrent-gate/quarantine).")
    var quarantine: String?

    @Option(
        name: .customLong("audit-log"),
        help: "Gate: JSON-lines audit log (default OUT/../.NAME.swtorrent-gate/audit.jsonl).")
    var auditLog: String?

    /// The trust options as the node's policy sources (the same merge `verify` uses).
    var sources: TrustPolicySources {
        TrustPolicySources(
            keyFiles: trust, keyDirectories: trustDir, requiredSigners: require, policyFile: policy,
            attestationPredicateTypes: requireAttestation)
    }

    /// Nothing unverified is released by default: a leech needs a trust policy or an explicit `--allow-unsigned`
    /// (exit 2 otherwise, before any network activity).
    func validate() throws {
        if sources.isEmpty && !allowUnsigned {
            throw usage(
                "no trust policy: give --trust PUBKEY, --trust-dir DIR or --policy FILE (a trust-policy file), "
                    + "or pass --allow-unsigned to release files that only passed the torrent's piece hashes")
        }
        if !sources.isEmpty && allowUnsigned {
            throw usage(
                "--allow-unsigned means no trust policy; it cannot be combined with --trust, --trust-dir, "
                    + "--require or --policy (to let unsigned files through a policy, use --require 0)")
        }
        if let require, require < 0 { throw usage("--require must be 0 or more") }
    }

    private func usage(_ message: String) -> ExitCode {
        StandardError.report("leech", message)
        return ExitCode(ExitCodes.badInput)
    }

    /// The trust policy, or the exit code to stop with (after saying why).
    func trustPolicy() -> Result<TrustPolicy, ExitCode> {
        if allowUnsigned { return .success(TrustPolicySources.unsigned) }
        do {
            return .success(try sources.policy())
        } catch {
            if error.code == .noTrustedKey {
                StandardError.report(
                    "leech", "no trusted key: give --trust PUB, --trust-dir DIR or a policy file with 'trust' lines")
            } else {
                StandardError.report("leech", error.message)
            }
            return .failure(ExitCode(ExitCodes.of(error)))
        }
    }
}
