import NIOCore

/// The client a ``MirrorServer`` counts connections by (``MirrorServer/Settings/connectionsPerClient``): its IPv4 or
/// IPv6 address, as nginx's `limit_conn $binary_remote_addr` counts. Not the IPv6 /64: on a LAN the /64 is the whole
/// subnet, so every fleet node of a rack or VLAN (and every link-local client) would share one client's cap, and an
/// appliance mirror would be closed to all but the first few in an outage. (A host that takes a new address per
/// connection from its /64 gets a cap per address; the node-wide limit still bounds it.) An IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`, how a dual-stack listener sees an IPv4 client) counts as that IPv4 address.
struct MirrorClientAddress: Sendable, Hashable {
    /// The IPv4 address's 4 bytes, or the IPv6 address's 16.
    let bytes: [UInt8]

    /// The client of a connection from `address`; nil for one that is not IP (a Unix socket), which no per-client
    /// limit applies to.
    init?(_ address: SocketAddress) {
        switch address {
        case .v4(let v4):
            bytes = withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6):
            let all = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            let mapped = all.prefix(10).allSatisfy { $0 == 0 } && all[10] == 0xff && all[11] == 0xff
            bytes = mapped ? Array(all[12..<16]) : all
        case .unixDomainSocket:
            return nil
        }
    }
}
