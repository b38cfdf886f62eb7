/// What the announcer drops before it believes a datagram, and the counts of each.
///
/// A datagram is dropped when it was not sent to the multicast group (a unicast datagram to the group's port), when
/// it carries our own cookie (our own announcement, looped back), when its source is not
/// inside the subnet of the interface it arrived on (BEP 14 is link-local; libtorrent does the same), when its
/// source already sent ``maximumPerSecond`` datagrams in the current one-second window (Transmission drops floods
/// over 10 a second), or when it does not parse (``LSDAnnouncement/init(decoding:)``).
///
/// Pure and not thread-safe: owned by the announcer, on its loop.
public struct InboundFilter: Sendable {
    /// Why a datagram was dropped.
    public enum Drop: String, Sendable, Hashable, CaseIterable {
        case notToGroup = "not sent to the group"
        case ownCookie = "own cookie"
        case foreignSubnet = "outside the interface's subnet"
        case rateLimited = "rate limited"
        case malformed = "malformed"
    }

    /// Datagrams a source may send in one second; the rest of that second's are dropped.
    public var maximumPerSecond: Int
    /// Sources tracked at once; when more send in one window, the new ones are rate limited as a group.
    public var maximumSources: Int
    /// Our cookie.
    public let cookie: String

    private var window: Int64 = .min
    private var counts: [[UInt8]: Int] = [:]
    private var overflow = 0
    /// Dropped datagrams by reason.
    public private(set) var dropped: [Drop: Int] = [:]
    /// Datagrams accepted.
    public private(set) var accepted = 0

    public init(cookie: String, maximumPerSecond: Int = 10, maximumSources: Int = 1024) {
        precondition(maximumPerSecond > 0 && maximumSources > 0)
        self.cookie = cookie
        self.maximumPerSecond = maximumPerSecond
        self.maximumSources = maximumSources
    }

    /// Decides on one datagram.
    ///
    /// - Parameters:
    ///   - datagram: its bytes.
    ///   - source: the sender's address bytes (4 or 16).
    ///   - subnet: the receiving interface's network (address and prefix length), or nil when it is unknown (then
    ///     the datagram is dropped as foreign).
    ///   - now: seconds on a monotonic clock.
    ///   - toGroup: whether the datagram was addressed to the multicast group.
    /// - Returns: the announcement, or nil when it was dropped (and counted).
    public mutating func accept<Bytes: Collection>(
        _ datagram: Bytes, from source: [UInt8], subnet: (address: [UInt8], prefixLength: Int)?, now: Double,
        toGroup: Bool = true
    ) -> LSDAnnouncement? where Bytes.Element == UInt8 {
        guard toGroup else { return drop(.notToGroup) }
        guard let subnet, Self.contains(subnet, source) else { return drop(.foreignSubnet) }
        let second = Int64(now.rounded(.down))
        if second != window {
            window = second
            counts.removeAll(keepingCapacity: true)
            overflow = 0
        }
        if counts[source] == nil && counts.count >= maximumSources {
            overflow += 1
            if overflow > maximumPerSecond { return drop(.rateLimited) }
        } else {
            counts[source, default: 0] += 1
            if counts[source]! > maximumPerSecond { return drop(.rateLimited) }
        }
        guard let announcement = try? LSDAnnouncement(decoding: datagram) else { return drop(.malformed) }
        if announcement.cookie == cookie { return drop(.ownCookie) }
        accepted += 1
        return announcement
    }

    private mutating func drop(_ reason: Drop) -> LSDAnnouncement? {
        dropped[reason, default: 0] += 1
        return nil
    }

    /// Whether `address` is inside `network` (same family, first `prefixLength` bits equal).
    static func contains(_ network: (address: [UInt8], prefixLength: Int), _ address: [UInt8]) -> Bool {
        guard network.address.count == address.count else { return false }
        var bits = network.prefixLength
        for (a, b) in zip(network.address, address) where bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if a & mask != b & mask { return false }
            bits -= 8
        }
        return true
    }
}
