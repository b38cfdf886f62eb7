import NIOCore

/// The client a ``MirrorServer`` counts connections by (``MirrorServer/Settings/connectionsPerClient``): an IPv4
/// address, or the /64 network of an IPv6 one (an IPv6 host commonly holds a whole /64 and may take a new address
/// from it for each connection). An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, how a dual-stack listener sees an
/// IPv4 client) counts as that IPv4 address, not as the one /64 every IPv4 client would share.
struct MirrorClientAddress: Sendable, Hashable {
    /// The IPv4 address's 4 bytes, or the IPv6 address's first 8.
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
            bytes = mapped ? Array(all[12..<16]) : Array(all[0..<8])
        case .unixDomainSocket:
            return nil
        }
    }
}
