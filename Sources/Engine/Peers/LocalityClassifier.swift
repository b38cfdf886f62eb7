import SwarmPrimitives

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Decides whether a peer is on the local network (``PeerLocality``), where a ``PeerRecord`` is made.
///
/// A peer is `.wan` when its address is inside one of the networks the operator declared WAN (that rule wins);
/// otherwise `.lan` when it was found by local service discovery, when its address is a loopback address, inside
/// one of the configured site networks, or inside the subnet of one of this host's interfaces (address and
/// netmask); `.wan` for any other numeric address; `.unknown` for a host name (not resolved here).
public struct LocalityClassifier: Sendable {
    /// Networks the operator declared local (a site's address plan spans more than one subnet).
    public var siteNetworks: [CIDR]
    /// Networks the operator declared WAN although they look local (`--wan`): a router's subnet, a test's seed.
    public var wanNetworks: [CIDR]
    /// The subnets of this host's interfaces.
    public var interfaceNetworks: [CIDR]
    /// This host's own addresses (4 or 16 bytes each), so a session never dials itself.
    public var interfaceAddresses: [[UInt8]]

    /// - Parameters:
    ///   - siteNetworks: networks declared local.
    ///   - wanNetworks: networks declared WAN (they win over every other rule).
    ///   - interfaceNetworks: this host's subnets; ``forThisHost(siteNetworks:wanNetworks:)`` reads them, tests pass
    ///     their own.
    ///   - interfaceAddresses: this host's addresses.
    public init(
        siteNetworks: [CIDR] = [], wanNetworks: [CIDR] = [], interfaceNetworks: [CIDR],
        interfaceAddresses: [[UInt8]] = []
    ) {
        self.siteNetworks = siteNetworks
        self.wanNetworks = wanNetworks
        self.interfaceNetworks = interfaceNetworks
        self.interfaceAddresses = interfaceAddresses
    }

    /// A classifier with this host's interfaces as `getifaddrs` reports them now.
    public static func forThisHost(siteNetworks: [CIDR] = [], wanNetworks: [CIDR] = []) -> LocalityClassifier {
        let interfaces = localInterfaces()
        return LocalityClassifier(
            siteNetworks: siteNetworks, wanNetworks: wanNetworks, interfaceNetworks: interfaces.networks,
            interfaceAddresses: interfaces.addresses)
    }

    /// The locality of a peer at `address`, learned from `source`.
    public func locality(of address: PeerAddress, source: PeerSource) -> PeerLocality {
        let bytes = CIDR.addressBytes(address.host)
        if let bytes, wanNetworks.contains(where: { $0.contains(bytes) }) { return .wan }
        if source == .lsd { return .lan }
        guard let bytes else { return address.host == "localhost" ? .lan : .unknown }
        if Self.loopback.contains(where: { $0.contains(bytes) }) { return .lan }
        if siteNetworks.contains(where: { $0.contains(bytes) }) { return .lan }
        if interfaceNetworks.contains(where: { $0.contains(bytes) }) { return .lan }
        return .wan
    }

    /// A record for a peer at `address` learned from `source`, with its locality set.
    public func record(_ address: PeerAddress, source: PeerSource, peerID: PeerID? = nil) -> PeerRecord {
        PeerRecord(address: address, source: source, locality: locality(of: address, source: source), peerID: peerID)
    }

    /// 127.0.0.0/8 and ::1.
    private static let loopback = [
        CIDR(address: [127, 0, 0, 0], prefixLength: 8)!,
        CIDR(address: [UInt8](repeating: 0, count: 15) + [1], prefixLength: 128)!,
    ]

    /// Every address of this host's interfaces that are up (IPv4 and IPv6, loopback included) and its subnet, read
    /// with `getifaddrs`; empty if it fails.
    public static func localInterfaces() -> (addresses: [[UInt8]], networks: [CIDR]) {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return ([], []) }
        defer { freeifaddrs(list) }
        var addresses: [[UInt8]] = []
        var networks: [CIDR] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard entry.pointee.ifa_flags & UInt32(IFF_UP) != 0, let address = entry.pointee.ifa_addr,
                let netmask = entry.pointee.ifa_netmask
            else { continue }
            let bytes: [UInt8]
            let mask: [UInt8]
            switch Int32(address.pointee.sa_family) {
            case AF_INET:
                bytes = Self.bytes(address, of: sockaddr_in.self) { $0.sin_addr }
                mask = Self.bytes(netmask, of: sockaddr_in.self) { $0.sin_addr }
            case AF_INET6:
                bytes = Self.bytes(address, of: sockaddr_in6.self) { $0.sin6_addr }
                mask = Self.bytes(netmask, of: sockaddr_in6.self) { $0.sin6_addr }
            default:
                continue
            }
            if !addresses.contains(bytes) { addresses.append(bytes) }
            if let network = CIDR(address: bytes, netmask: mask), !networks.contains(network) {
                networks.append(network)
            }
        }
        return (addresses, networks)
    }

    /// The raw address bytes of a `sockaddr_in` or `sockaddr_in6`.
    private static func bytes<Socket, Address>(
        _ pointer: UnsafeMutablePointer<sockaddr>, of type: Socket.Type, _ field: (Socket) -> Address
    ) -> [UInt8] {
        let address = pointer.withMemoryRebound(to: type, capacity: 1) { field($0.pointee) }
        return withUnsafeBytes(of: address) { Array($0) }
    }
}
