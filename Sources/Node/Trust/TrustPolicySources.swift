import SignatureGate

/// Where a node's trust policy comes from: key files, key directories, an explicit signer count and a policy file.
/// `leech`, `verify` and the seed daemon all turn their options into one of these and call ``policy()``, so one
/// set of inputs means one policy everywhere.
///
/// The merge rule (Docs/signing.md, "One policy"):
/// - trusted keys: every key file, every `*.pub` in every key directory, and every key the policy file names;
/// - required signers: each source that states a count (``requiredSigners``, the policy file's `require` line) sets a
///   minimum, and the policy needs the largest of them; when none states one, 1 signer is needed;
/// - legacy minisign signatures are refused when ``requirePrehashedMinisign`` or the file's `require-prehashed` says
///   so;
/// - release manifests: the accepted attestation predicate types are those of ``attestationPredicateTypes`` and the
///   file's `require-attestation` lines together; minimum versions come from the file's `min-version` lines;
/// - a policy that needs at least one signer but trusts no key is an error (``NodeError/Code/noTrustedKey``):
///   nothing could ever pass it.
public struct TrustPolicySources: Sendable, Hashable {
    /// Public key files (cosign PEM or minisign).
    public var keyFiles: [String]
    /// Directories whose `*.pub` files are trusted.
    public var keyDirectories: [String]
    /// An explicitly stated number of distinct trusted signers (nil: not stated).
    public var requiredSigners: Int?
    /// A trust-policy file (``TrustPolicyFile``).
    public var policyFile: String?
    /// Refuse legacy (non-prehashed) minisign signatures.
    public var requirePrehashedMinisign: Bool
    /// Provenance predicate types a release manifest's files must be attested with (added to the file's
    /// `require-attestation` lines).
    public var attestationPredicateTypes: [String]

    public init(
        keyFiles: [String] = [], keyDirectories: [String] = [], requiredSigners: Int? = nil,
        policyFile: String? = nil, requirePrehashedMinisign: Bool = false, attestationPredicateTypes: [String] = []
    ) {
        self.attestationPredicateTypes = attestationPredicateTypes
        self.keyFiles = keyFiles
        self.keyDirectories = keyDirectories
        self.requiredSigners = requiredSigners
        self.policyFile = policyFile
        self.requirePrehashedMinisign = requirePrehashedMinisign
    }

    /// No source at all: nothing trusted, nothing stated.
    public var isEmpty: Bool {
        keyFiles.isEmpty && keyDirectories.isEmpty && requiredSigners == nil && policyFile == nil
    }

    /// The policy that trusts nothing and requires no signer: files pass on the torrent's piece hashes alone
    /// (`leech --allow-unsigned`; the audit log says `released-unsigned`, reason `no-trust-policy`).
    public static let unsigned = TrustPolicy(keys: [], requiredSigners: 0)

    /// Loads every source and merges them by the rule above.
    ///
    /// - Throws: ``NodeError`` `.malformedInput` for a key or policy file that does not parse or a negative count,
    ///   `.io` for one that cannot be read, `.noTrustedKey` when signers are required but no key is trusted.
    public func policy() throws(NodeError) -> TrustPolicy {
        if let requiredSigners, requiredSigners < 0 {
            throw NodeError(.malformedInput, "required signers must be 0 or more (got \(requiredSigners))")
        }
        var stated = requiredSigners.map { [$0] } ?? []
        var keyFiles = self.keyFiles
        var directories = keyDirectories
        var prehashed = requirePrehashedMinisign
        var predicateTypes = attestationPredicateTypes
        var minimumVersions: [String: ReleaseVersion] = [:]
        let policy: TrustPolicy
        do {
            if let policyFile {
                let file = try TrustPolicyFile.read(policyFile)
                keyFiles += file.keyFiles
                directories += file.directories
                if let count = file.requiredSigners { stated.append(count) }
                prehashed = prehashed || file.requirePrehashedMinisign
                predicateTypes += file.attestationPredicateTypes.filter { !predicateTypes.contains($0) }
                minimumVersions = file.minimumVersions
            }
            // Duplicates (a key named on the command line and in the file) count once.
            policy = try TrustPolicy.load(
                keyFiles: keyFiles, directories: directories, requiredSigners: stated.max() ?? 1)
        } catch {
            throw NodeError(error)
        }
        var merged = policy
        merged.requirePrehashedMinisign = prehashed
        merged.attestationPredicateTypes = predicateTypes
        merged.minimumVersions = minimumVersions
        try Self.requireUsable(merged)
        return merged
    }

    /// Refuses a policy that requires signers but trusts no key (nothing could ever pass it).
    ///
    /// - Throws: ``NodeError`` `.noTrustedKey`.
    public static func requireUsable(_ policy: TrustPolicy) throws(NodeError) {
        if policy.keys.isEmpty && policy.requiredSigners > 0 {
            throw NodeError(
                .noTrustedKey,
                "the trust policy requires \(policy.requiredSigners) signer(s) but trusts no key: add a trusted "
                    + "public key, or require 0 signers")
        }
    }
}
