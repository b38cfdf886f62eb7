/// Bounds applied to every request before and while it is parsed.
public struct RequestLimits: Sendable, Hashable {
    /// Longest accepted request target (path plus query), in bytes.
    public var maxTargetLength: Int = 8192
    /// Longest accepted request head (request line, header fields and the blank line), in bytes.
    public var maxHeadLength: Int = 16384
    /// Most header fields accepted in one request head.
    public var maxHeaderFields: Int = 64
    /// Most query parameters accepted in one request (known and unknown alike).
    public var maxParameters: Int = 128
    /// Peers returned when the client does not send `numwant`.
    public var defaultNumwant: Int = 50
    /// Cap on `numwant`: larger requests are served this many peers.
    public var maxNumwant: Int = 200
    /// Most info-hashes accepted in one scrape.
    public var maxScrapeHashes: Int = 64

    /// The defaults: 8 KiB target, 16 KiB head with at most 64 header fields, 128 parameters, numwant 50
    /// (cap 200), 64 hashes per scrape.
    public init() {}
}
