import Foundation
import Metainfo
import SignatureGate

/// A release manifest that passed every check, with what the audit log says about it.
public struct AcceptedManifest: Sendable, Hashable {
    public var signed: SignedManifest
    public var manifest: ReleaseManifest
    /// The trusted signers of the manifest.
    public var signers: [Signer]
    /// How audit records name it.
    public var reference: ManifestReference
    /// For each file (path joined with `/`), the key id and predicate type of the attestation that vouched for it
    /// (empty when the policy requires none).
    public var attestations: [String: ProvenanceAttestation.Vouch] = [:]
}

/// The checks a release manifest passes before anything is fetched (Docs/manifest.md, "Accepting a manifest"), in
/// this order: its signatures against the trust policy (at least one trusted signer, M-of-N as for files); then,
/// reading what it says, freshness (not expired, not created in the future, each with ``clockSkew``), the policy's
/// minimum version for its name, rollback (not lower than the highest version of the name this node released,
/// unless ``allowDowngrade``), agreement with its own torrent (info-hash, file list, the torrent's embedded
/// per-file SHA-256), and, when the policy asks, a valid provenance attestation for every file.
public struct ManifestAcceptance: Sendable {
    public var policy: TrustPolicy
    public var ledger: VersionLedger
    public var allowDowngrade: Bool
    /// Seconds a clock may be off: a manifest counts as expired only `clockSkew` after `expires`, and as created in
    /// the future only `clockSkew` before `created`.
    public var clockSkew: Int64
    /// The time now, seconds since 1970.
    public var now: @Sendable () -> Int64

    /// The default clock-skew allowance: 5 minutes.
    public static let defaultClockSkew: Int64 = 300

    public init(
        policy: TrustPolicy, ledger: VersionLedger, allowDowngrade: Bool = false,
        clockSkew: Int64 = ManifestAcceptance.defaultClockSkew,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.policy = policy
        self.ledger = ledger
        self.allowDowngrade = allowDowngrade
        self.clockSkew = clockSkew
        self.now = now
    }

    /// A refusal, with the manifest as far as it could be named (name and version as claimed when its signature
    /// did not verify).
    public struct Refusal: Error, Sendable, Hashable {
        public var reason: ManifestRefusal
        public var reference: ManifestReference
    }

    /// Checks `signed`, read from `source`.
    ///
    /// - Returns: the accepted manifest, or the refusal.
    /// - Throws: ``NodeError`` `.malformedInput` for a manifest whose signatures verify but whose content breaks the
    ///   schema, `.io` when the state directory cannot be read.
    public func check(_ signed: SignedManifest, source: String) throws(NodeError) -> Result<AcceptedManifest, Refusal> {
        let claimed = try? signed.manifest(subject: source)
        var reference = ManifestReference(
            name: claimed?.name ?? "", version: claimed?.version.text ?? "", sha256: signed.digest, signers: [],
            source: source)
        let signers: [Signer]
        switch signed.verify(policy: policy, subject: source) {
        case .verified(let verified): signers = verified
        case .rejected(let reason): return .failure(Refusal(reason: .signature(reason), reference: reference))
        }
        reference.signers = signers.map(\.keyID)
        let manifest: ReleaseManifest
        do {
            manifest = try signed.manifest(subject: source)
        } catch {
            throw NodeError(error)
        }
        func refuse(_ reason: ManifestRefusal) -> Result<AcceptedManifest, Refusal> {
            .failure(Refusal(reason: reason, reference: reference))
        }
        let now = now()
        if now > manifest.expires + clockSkew {
            return refuse(.expired(expires: manifest.expires, now: now, skew: clockSkew))
        }
        if manifest.created > now + clockSkew {
            return refuse(.notYetValid(created: manifest.created, now: now, skew: clockSkew))
        }
        if let minimum = policy.minimumVersions[manifest.name], manifest.version < minimum {
            return refuse(.belowMinimumVersion(name: manifest.name, version: manifest.version, minimum: minimum))
        }
        let highest: ReleaseVersion?
        do {
            highest = try ledger.highest(manifest.name)
        } catch {
            throw NodeError(error)
        }
        if let highest, manifest.version < highest, !allowDowngrade {
            return refuse(.rollback(name: manifest.name, version: manifest.version, highest: highest))
        }
        if let mismatch = Self.torrentMismatch(manifest) { return refuse(.torrentMismatch(mismatch)) }
        var accepted = AcceptedManifest(signed: signed, manifest: manifest, signers: signers, reference: reference)
        if !policy.attestationPredicateTypes.isEmpty {
            for file in manifest.files {
                switch ProvenanceAttestation.check(file.attestations, sha256: file.sha256, policy: policy) {
                case .success(let vouched): accepted.attestations[file.displayPath] = vouched
                case .failure(let failure): return refuse(.attestation(file: file.displayPath, failure))
                }
            }
        }
        return .success(accepted)
    }

    /// What is wrong between the manifest and its embedded torrent, nil when they agree: the info-hash, every
    /// file's path and size (same order), and every SHA-256 the torrent's embedded signatures record.
    static func torrentMismatch(_ manifest: ReleaseManifest) -> String? {
        let torrent: Torrent
        let files: [TorrentFileEntry]
        let embedded: [EmbeddedSignature]
        do {
            torrent = try Torrent(bytes: manifest.torrent)
            files = try TorrentSignatures.files(of: manifest.torrent, subject: "embedded torrent")
            embedded = try TorrentSignatures.read(manifest.torrent, subject: "embedded torrent")
        } catch {
            return "the embedded torrent does not parse: \(error)"
        }
        if torrent.infoHash.hex != manifest.infoHash {
            return "info_hash \(manifest.infoHash) but the torrent's is \(torrent.infoHash.hex)"
        }
        let stated = manifest.files.map { "\($0.displayPath) (\($0.size) bytes)" }
        let actual = files.map { "\($0.path.joined(separator: "/")) (\($0.length) bytes)" }
        if stated != actual {
            return "files [\(stated.joined(separator: ", "))] but the torrent has [\(actual.joined(separator: ", "))]"
        }
        let digests = Dictionary(manifest.files.map { ($0.path, $0.sha256) }, uniquingKeysWith: { first, _ in first })
        for signature in embedded where digests[signature.path] != nil && digests[signature.path] != signature.sha256 {
            return "\(signature.path.joined(separator: "/")): the manifest's SHA-256 differs from the one the "
                + "torrent's signature by \(signature.keyID) records"
        }
        return nil
    }
}
