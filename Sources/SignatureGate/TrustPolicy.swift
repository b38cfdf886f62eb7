import Foundation

/// A public key the gate trusts: a cosign PEM key or a minisign key.
public enum TrustedKey: Sendable, Hashable {
    case cosign(PublicKey)
    case minisign(MinisignPublicKey)

    /// The key id shown in messages and the audit log: `sha256:<hex of the DER key>` for cosign keys,
    /// `minisign:<KEYID>` for minisign keys.
    public var keyID: String {
        switch self {
        case .cosign(let key): "sha256:\(key.keyID)"
        case .minisign(let key): "minisign:\(key.keyID)"
        }
    }

    /// Parses a key file: a PEM `PUBLIC KEY` (cosign.pub) or a minisign public key.
    public static func parse(text: String, subject: String) throws(SignatureGateError) -> TrustedKey {
        if text.contains("-----BEGIN ") { return .cosign(try PublicKey(pem: text, subject: subject)) }
        return .minisign(try MinisignPublicKey(text: text, subject: subject))
    }

    /// Reads a key file (format detected from its content).
    public static func load(_ path: String) throws(SignatureGateError) -> TrustedKey {
        try parse(text: try BoundedInput.readText(path, limit: 64 << 10), subject: path)
    }
}

/// Which keys are trusted and how many distinct signers a file needs.
public struct TrustPolicy: Sendable, Hashable {
    public var keys: [TrustedKey]
    /// M of M-of-N: the number of distinct trusted keys whose signatures must verify (default 1). 0 lets unsigned
    /// files through (not recommended; the audit log still records them).
    public var requiredSigners: Int
    /// Refuse legacy (non-prehashed, `Ed`) minisign signatures, like `minisign -V -H`.
    public var requirePrehashedMinisign: Bool
    /// Legacy minisign signatures cover the whole file, which must then be read into memory: refuse files larger
    /// than this (minisign itself prehashes anything over 1 GiB).
    public var maxLegacyMessageBytes: Int
    /// Release manifests: the predicate types a file's provenance attestation may have; when not empty, every file
    /// of a manifest needs an attestation of one of these types, signed by a trusted key, naming its SHA-256
    /// (``ProvenanceAttestation``). Empty: no attestation required.
    public var attestationPredicateTypes: [String] = []
    /// Release manifests: the lowest version accepted per release name (policy file `min-version NAME VERSION`).
    public var minimumVersions: [String: ReleaseVersion] = [:]

    public init(
        keys: [TrustedKey],
        requiredSigners: Int = 1,
        requirePrehashedMinisign: Bool = false,
        maxLegacyMessageBytes: Int = 256 << 20
    ) {
        self.keys = keys
        self.requiredSigners = requiredSigners
        self.requirePrehashedMinisign = requirePrehashedMinisign
        self.maxLegacyMessageBytes = maxLegacyMessageBytes
    }

    /// A policy from key files and directories: every `*.pub` file in each directory is trusted.
    public static func load(
        keyFiles: [String], directories: [String] = [], requiredSigners: Int = 1
    )
        throws(SignatureGateError) -> TrustPolicy
    {
        var keys: [TrustedKey] = []
        for path in keyFiles { keys.append(try TrustedKey.load(path)) }
        for directory in directories {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
            } catch {
                throw SignatureGateError(.io, directory, "cannot list the trust directory: \(error)")
            }
            for name in names where name.hasSuffix(".pub") {
                keys.append(try TrustedKey.load((directory as NSString).appendingPathComponent(name)))
            }
        }
        var unique: [TrustedKey] = []
        for key in keys where !unique.contains(key) { unique.append(key) }
        return TrustPolicy(keys: unique, requiredSigners: requiredSigners)
    }

    /// Reads a trust-policy file (see ``TrustPolicyFile``) and loads its keys; a file without a `require` line
    /// requires 1 signer.
    public static func load(policyFile path: String) throws(SignatureGateError) -> TrustPolicy {
        let file = try TrustPolicyFile.read(path)
        var policy = try load(
            keyFiles: file.keyFiles, directories: file.directories, requiredSigners: file.requiredSigners ?? 1)
        policy.requirePrehashedMinisign = file.requirePrehashedMinisign
        policy.attestationPredicateTypes = file.attestationPredicateTypes
        policy.minimumVersions = file.minimumVersions
        return policy
    }

    var cosignKeys: [PublicKey] {
        keys.compactMap { if case .cosign(let key) = $0 { key } else { nil } }
    }

    var minisignKeys: [MinisignPublicKey] {
        keys.compactMap { if case .minisign(let key) = $0 { key } else { nil } }
    }
}
