import SwarmPrimitives

/// One BEP 14 announcement: "this host listens on ``port`` for these torrents".
///
/// On the wire (``encode(family:)``, ``init(decoding:)``):
///
/// ```
/// BT-SEARCH * HTTP/1.1\r\n
/// Host: 239.192.152.143:6771\r\n      ([ff15::efc0:988f]:6771 on IPv6)
/// Port: 6881\r\n
/// Infohash: 40 hex digits\r\n         (one per datagram as we send it; up to 25 accepted)
/// cookie: 1f2e3d4c\r\n                (optional; identifies the sender's own datagrams)
/// \r\n
/// \r\n                                (two empty lines end it: BEP 14's form, which Transmission requires)
/// ```
public struct LSDAnnouncement: Sendable, Hashable {
    /// Which multicast group a datagram is for: it names the group in its `Host` header.
    public enum Family: Sendable, Hashable {
        case ipv4
        case ipv6

        /// The `Host` header's value.
        public var hostHeader: String {
            switch self {
            case .ipv4: "\(LSDLimits.ipv4Group):\(LSDLimits.multicastPort)"
            case .ipv6: "[\(LSDLimits.ipv6Group)]:\(LSDLimits.multicastPort)"
            }
        }

        /// The group's address as text.
        public var groupAddress: String {
            switch self {
            case .ipv4: LSDLimits.ipv4Group
            case .ipv6: LSDLimits.ipv6Group
            }
        }

        /// The group's address bytes, network order.
        public var groupBytes: [UInt8] {
            switch self {
            case .ipv4: [239, 192, 152, 143]
            case .ipv6: [0xFF, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xEF, 0xC0, 0x98, 0x8F]
            }
        }

        /// `IPv4` or `IPv6`, for logs.
        public var name: String {
            switch self {
            case .ipv4: "IPv4"
            case .ipv6: "IPv6"
            }
        }
    }

    /// The sender's BitTorrent listening port.
    public var port: Int
    /// BitTorrent v1 info-hashes.
    public var infoHashes: [InfoHash]
    /// The sender's cookie, if it sent one.
    public var cookie: String?

    public init(port: Int, infoHashes: [InfoHash], cookie: String?) {
        self.port = port
        self.infoHashes = infoHashes
        self.cookie = cookie
    }
}
