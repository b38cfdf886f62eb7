/// How a session uses HTTP mirrors and web seeds (Docs/mirrors.md): request depth, backoff, when a mirror is
/// dropped, and the limits every response is held to.
public struct MirrorSettings: Sendable, Hashable {
    /// HTTP requests in flight per mirror at once (its request depth); a slow mirror gets one.
    public var requestsPerMirror = 4
    /// Bytes one request asks for at most: a run of whole pieces, or one piece when a piece is larger. The blocks
    /// of a request are held in memory only until each is complete (16 KiB at a time).
    public var bytesPerRequest = 2 << 20
    /// The wait after a mirror's first failure; it doubles with each further failure in a row (1 s, 2 s, 4 s ...).
    public var initialBackoff: Duration = .seconds(1)
    /// The longest wait between attempts.
    public var maxBackoff: Duration = .seconds(60)
    /// Failures in a row after which a mirror is dropped for the rest of the session.
    public var failureLimit = 5
    /// A request that receives no byte for this long (no answer, or a server that stalls mid-body) fails.
    public var readTimeout: Duration = .seconds(15)
    /// Pieces that fail their hash check with this mirror among the sources of their blocks before it is dropped
    /// (a piece whose every block came from the mirror drops it at once).
    public var sharedHashFailureLimit = 3
    /// A mirror whose download rate is below this fraction of the fastest mirror's gets one request at a time.
    public var slowFraction = 0.25
    /// The origin (``SessionConfiguration/origin``) is asked for nothing during this long after the session
    /// starts (peers and mirrors get the first chance), nor while any peer with pieces we lack is connected or any
    /// other mirror is active.
    public var originGrace: Duration = .seconds(5)
    /// Use the torrent's BEP 19 web seeds (`url-list`) besides the mirrors given.
    public var useWebSeeds = true

    public init() {}

    /// The wait after `failures` failures in a row (1 ≤ failures): ``initialBackoff`` × 2^(failures − 1), at most
    /// ``maxBackoff``.
    public func backoff(afterFailures failures: Int) -> Duration {
        let doublings = min(max(failures - 1, 0), 30)
        let wait = initialBackoff * (1 << doublings)
        return min(wait, maxBackoff)
    }
}
