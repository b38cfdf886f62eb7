/// Remembers which peers sent data that failed the hash check and bans them after ``failureLimit`` bad pieces.
/// Keyed by IP address (not port), so a banned peer cannot come back by reconnecting.
public struct PeerReputation: Sendable, Hashable {
    public var failureLimit: Int
    public private(set) var failures: [String: Int] = [:]
    public private(set) var banned: Set<String> = []

    public init(failureLimit: Int = 3) {
        self.failureLimit = failureLimit
    }

    /// A piece the peer at `host` contributed to failed its hash check. Returns whether the peer is now banned.
    ///
    /// A piece made of blocks from one peer is surely that peer's fault; one with several contributors counts
    /// against each of them (mainline's approach), so a bad peer that mixes in is still caught after a few pieces.
    @discardableResult
    public mutating func pieceFailed(host: String) -> Bool {
        failures[host, default: 0] += 1
        if failures[host]! >= failureLimit { banned.insert(host) }
        return banned.contains(host)
    }

    /// Bans at once (a protocol violation that cannot be an accident, e.g. a request outside the torrent).
    public mutating func ban(host: String) {
        banned.insert(host)
    }

    public func isBanned(host: String) -> Bool { banned.contains(host) }
}
