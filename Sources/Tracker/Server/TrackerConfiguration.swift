/// Everything `TrackerServer` needs to know, with defaults suited to production.
public struct TrackerConfiguration: Sendable {
    /// Where announces and scrapes are served: host (IPv4 or IPv6 literal, or a name) and port (0 picks one).
    public var listenHost: String
    /// The announce port; 0 lets the system choose (see `TrackerServer.listeningPorts`).
    public var listenPort: Int
    /// Where `/metrics` is served; nil serves no metrics endpoint.
    public var metricsHost: String?
    /// The metrics port; 0 lets the system choose.
    public var metricsPort: Int
    /// The allowlist file (`ed25519 …` / `passkey …` lines), re-read on SIGHUP and when it changes.
    public var allowlistPath: String
    /// Only info-hashes of the `.torrent` files in this directory are tracked; nil tracks any info-hash.
    public var torrentsDirectory: String?
    /// The announce `interval` in seconds; `min interval` is min(60, interval) and peers expire after 2 × interval.
    public var interval: UInt32
    /// Take the client address from the right-most `X-Forwarded-For` entry (only behind a trusted proxy).
    public var trustForwardedFor: Bool
    /// Take the client address from the `ip` query parameter when it is a valid IP literal.
    public var trustIPParameter: Bool
    /// The authority that signed announces must name (`host[:port]`); nil uses each request's `Host` header.
    public var publicHost: String?
    /// Accepted clock difference for signed announces, seconds either way.
    public var signatureWindow: Int64
    /// Request parsing bounds.
    public var limits: RequestLimits
    /// Most open client connections; more are closed on accept.
    public var maxConnections: Int
    /// A connection must deliver each complete request head within this many seconds of connecting or of the
    /// previous response, or it is closed (covers idle keep-alive connections and slow clients alike).
    public var requestTimeoutSeconds: Int64
    /// How often the allowlist file is checked for changes, milliseconds.
    public var reloadPollMilliseconds: Int64
    /// Event-loop threads for `/metrics`; 0 means one. Announces and scrapes are served by one dedicated thread.
    public var threads: Int

    /// A configuration with production defaults: interval 900 s, 10 s request timeout, 16,384 connections,
    /// allowlist checked every 250 ms, 300 s signature window.
    public init(listenHost: String, listenPort: Int, allowlistPath: String) {
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.allowlistPath = allowlistPath
        metricsHost = nil
        metricsPort = 0
        torrentsDirectory = nil
        interval = 900
        trustForwardedFor = false
        trustIPParameter = false
        publicHost = nil
        signatureWindow = 300
        limits = RequestLimits()
        maxConnections = 16384
        requestTimeoutSeconds = 10
        reloadPollMilliseconds = 250
        threads = 0
    }
}
