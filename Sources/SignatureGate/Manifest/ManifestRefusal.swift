/// Why a release manifest was refused before anything was fetched. A refused manifest releases nothing; each case
/// has its own audit-log name (``name``) and `swtorrent leech` exits with a code per class (Docs/cli.md).
public enum ManifestRefusal: Sendable, Hashable, CustomStringConvertible {
    /// The manifest's signatures do not satisfy the trust policy (untrusted key, altered byte, too few signers).
    case signature(RejectionReason)
    /// Past its expiry (plus the allowed clock skew).
    case expired(expires: Int64, now: Int64, skew: Int64)
    /// Created in the future (beyond the allowed clock skew).
    case notYetValid(created: Int64, now: Int64, skew: Int64)
    /// Lower than the highest version of this release the node has already released.
    case rollback(name: String, version: ReleaseVersion, highest: ReleaseVersion)
    /// Lower than the trust policy's minimum version for this release.
    case belowMinimumVersion(name: String, version: ReleaseVersion, minimum: ReleaseVersion)
    /// The manifest disagrees with its own torrent (info-hash, file list, or a file's SHA-256).
    case torrentMismatch(String)
    /// A file lacks the provenance attestation the policy requires, or its attestation does not vouch for it.
    case attestation(file: String, ProvenanceAttestation.Failure)

    /// The audit log's reason name.
    public var name: String {
        switch self {
        case .signature(let reason): reason.name
        case .expired: "expired"
        case .notYetValid: "not-yet-valid"
        case .rollback: "rollback"
        case .belowMinimumVersion: "below-minimum-version"
        case .torrentMismatch: "manifest-torrent-mismatch"
        case .attestation(_, let failure): failure.name
        }
    }

    public var description: String {
        switch self {
        case .signature(let reason):
            "manifest signature: \(reason)"
        case .expired(let expires, let now, let skew):
            "the manifest expired at \(ReleaseManifest.formatTime(expires)) (now \(ReleaseManifest.formatTime(now)), "
                + "\(skew) s clock skew allowed): ask for a freshly signed manifest"
        case .notYetValid(let created, let now, let skew):
            "the manifest was created at \(ReleaseManifest.formatTime(created)), in the future (now "
                + "\(ReleaseManifest.formatTime(now)), \(skew) s clock skew allowed): check this node's clock"
        case .rollback(let name, let version, let highest):
            "\(name) \(version) is older than \(highest), which this node already released: a replayed old "
                + "manifest is refused (pass --allow-downgrade to install an older version on purpose)"
        case .belowMinimumVersion(let name, let version, let minimum):
            "\(name) \(version) is below the trust policy's minimum version \(minimum) (min-version)"
        case .torrentMismatch(let detail):
            "the manifest disagrees with its torrent: \(detail)"
        case .attestation(let file, let failure):
            "\(file): \(failure)"
        }
    }
}
