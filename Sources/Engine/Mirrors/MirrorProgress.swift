/// One mirror as progress reports it: where it is, whether it is being used, what it delivered, and why it is
/// backing off or was dropped.
public struct MirrorProgress: Sendable, Hashable, Codable {
    /// What a mirror is doing.
    public enum State: String, Sendable, Hashable, Codable {
        /// Requests go to it (or will, when there are blocks to ask for).
        case active
        /// Not used: a LAN mirror is active and this one is not on the LAN, or this is the origin and other sources
        /// are there (Docs/mirrors.md, "Order").
        case standby
        /// Waiting after a failure before it is asked again.
        case backingOff = "backing-off"
        /// Not used again in this session.
        case dropped
    }

    /// The URL as given (`--mirror`, the torrent's `url-list`, a manifest).
    public var url: String
    /// The origin, a last resort (``SessionConfiguration/origin``), rather than a mirror.
    public var isOrigin: Bool
    public var locality: PeerLocality
    public var state: State
    /// Payload bytes accepted from it (before the hash check).
    public var bytes: Int64
    /// Bytes per second, averaged over the last seconds.
    public var rate: Double
    /// Failures in a row (reset by a request that succeeds).
    public var failures: Int
    /// Why it is backing off or was dropped: `3 failures, backing off 4 s (HTTP 503)`, `bad data in piece 17`.
    public var reason: String?

    public init(
        url: String, isOrigin: Bool = false, locality: PeerLocality, state: State, bytes: Int64, rate: Double,
        failures: Int, reason: String? = nil
    ) {
        self.url = url
        self.isOrigin = isOrigin
        self.locality = locality
        self.state = state
        self.bytes = bytes
        self.rate = rate
        self.failures = failures
        self.reason = reason
    }
}
