import SwarmPrimitives

/// Why the tracker refused a request. Each cause has its own `failure reason` text and metrics label.
public enum RefusalCause: String, Sendable, Hashable, CaseIterable {
    /// The node key or passkey is not on the allowlist.
    case unknownKey = "unknown_key"
    /// The node key or passkey is on the allowlist as revoked, or was removed from it.
    case revokedKey = "revoked_key"
    /// The signed announce's signature does not verify.
    case badSignature = "bad_signature"
    /// The signed announce's timestamp is outside the window.
    case staleTimestamp = "stale_timestamp"
    /// The info-hash is not one of the tracked torrents.
    case unregisteredTorrent = "unregistered_torrent"
    /// The query could not be parsed.
    case malformedRequest = "malformed_request"
}

/// A refusal: the cause and the `failure reason` sent to the client.
public struct Refusal: Error, Sendable, Hashable {
    /// The cause, for metrics and tests.
    public var cause: RefusalCause
    /// The bencoded `failure reason` text.
    public var reason: String

    /// Creates a refusal.
    public init(_ cause: RefusalCause, _ reason: String) {
        self.cause = cause
        self.reason = reason
    }

    static let unknownPasskey = Refusal(.unknownKey, "unknown passkey: this passkey is not on the tracker's allowlist")
    static let revokedPasskey = Refusal(
        .revokedKey, "revoked passkey: this passkey has been removed from the tracker's allowlist")
    static let revokedWhileAnnouncing = Refusal(
        .revokedKey, "revoked key: this key was removed from the tracker's allowlist")

    static func malformed(_ error: TrackerError) -> Refusal {
        Refusal(.malformedRequest, "malformed request: \(error)")
    }

    static func unregistered(_ hash: InfoHash) -> Refusal {
        Refusal(.unregisteredTorrent, "unregistered torrent: \(hash.hex) is not tracked here")
    }
}
