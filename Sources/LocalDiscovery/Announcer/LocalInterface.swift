#if canImport(Glibc)
    import Glibc
#endif

/// One network interface as local discovery sees it: its flags and the addresses discovery can use on it.
public struct LocalInterface: Sendable, Hashable {
    /// An address and the length of its network prefix.
    public struct Subnet: Sendable, Hashable {
        /// 4 or 16 bytes, network order.
        public var address: [UInt8]
        public var prefixLength: Int

        public init(address: [UInt8], prefixLength: Int) {
            self.address = address
            self.prefixLength = prefixLength
        }
    }

    public var name: String
    /// The kernel's interface index (what IPv6 multicast and IP_PKTINFO name an interface by).
    public var index: Int
    /// IFF_UP.
    public var isUp: Bool
    /// IFF_LOOPBACK.
    public var isLoopback: Bool
    /// IFF_MULTICAST.
    public var supportsMulticast: Bool
    /// The interface's (first) IPv4 address and netmask: the IPv4 group is joined and sent to through it.
    public var ipv4: Subnet?
    /// The interface's first routable IPv6 address (global or unique-local; not link-local, whose peers could not
    /// be dialled without a scope id): the IPv6 group is joined and sent to through it.
    public var ipv6: Subnet?

    public init(
        name: String, index: Int, isUp: Bool, isLoopback: Bool, supportsMulticast: Bool, ipv4: Subnet? = nil,
        ipv6: Subnet? = nil
    ) {
        self.name = name
        self.index = index
        self.isUp = isUp
        self.isLoopback = isLoopback
        self.supportsMulticast = supportsMulticast
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }

    /// Whether discovery can run on it at all: up, with an address of either family.
    public var isUsable: Bool { isUp && (ipv4 != nil || ipv6 != nil) }

    /// The interfaces discovery runs on.
    ///
    /// - Parameters:
    ///   - interfaces: the host's interfaces (``current()``).
    ///   - names: the interfaces asked for (`--lsd-interface`); empty chooses automatically: every interface that is
    ///     up, multicast-capable, not loopback and has an address; when there is none, the loopback interfaces that
    ///     are up (multicast on `lo` stays on this host).
    /// - Throws: ``LocalDiscoveryError`` `unknownInterface` when a named interface does not exist, is down or has no
    ///   usable address, or when nothing suitable is found, listing the interfaces there are.
    public static func select(from interfaces: [LocalInterface], named names: [String]) throws(LocalDiscoveryError)
        -> [LocalInterface]
    {
        let known = interfaces.map(\.name).joined(separator: ", ")
        guard !names.isEmpty else {
            let chosen = interfaces.filter { $0.isUsable && $0.supportsMulticast && !$0.isLoopback }
            if !chosen.isEmpty { return chosen }
            let loopback = interfaces.filter { $0.isUsable && $0.isLoopback }
            guard !loopback.isEmpty else {
                throw LocalDiscoveryError(
                    .unknownInterface,
                    "no interface is up with an IPv4 or routable IPv6 address (there are: \(known)); "
                        + "name one with --lsd-interface or turn local discovery off with --no-lsd")
            }
            return loopback
        }
        var chosen: [LocalInterface] = []
        for name in names where !chosen.contains(where: { $0.name == name }) {
            guard let interface = interfaces.first(where: { $0.name == name }) else {
                throw LocalDiscoveryError(
                    .unknownInterface, "interface '\(name)' does not exist; choose one of: \(known)")
            }
            guard interface.isUp else {
                throw LocalDiscoveryError(.unknownInterface, "interface '\(name)' is down; choose one of: \(known)")
            }
            guard interface.isUsable else {
                throw LocalDiscoveryError(
                    .unknownInterface,
                    "interface '\(name)' has no IPv4 or routable IPv6 address; choose one of: \(known)")
            }
            chosen.append(interface)
        }
        return chosen
    }

    /// The host's interfaces now (`getifaddrs`), in the kernel's order.
    ///
    /// - Throws: ``LocalDiscoveryError`` `unknownInterface` when they cannot be listed.
    public static func current() throws(LocalDiscoveryError) -> [LocalInterface] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else {
            throw LocalDiscoveryError(.unknownInterface, "cannot list the network interfaces (errno \(errno))")
        }
        defer { freeifaddrs(list) }
        var result: [LocalInterface] = []
        var entry: UnsafeMutablePointer<ifaddrs>? = first
        while let current = entry {
            entry = current.pointee.ifa_next
            let name = String(cString: current.pointee.ifa_name)
            let flags = Int32(bitPattern: current.pointee.ifa_flags)
            var position = result.firstIndex { $0.name == name }
            if position == nil {
                result.append(
                    LocalInterface(
                        name: name, index: Int(if_nametoindex(name)), isUp: flags & Int32(IFF_UP) != 0,
                        isLoopback: flags & Int32(IFF_LOOPBACK) != 0,
                        supportsMulticast: flags & Int32(IFF_MULTICAST) != 0))
                position = result.count - 1
            }
            guard let index = position, let bytes = current.pointee.ifa_addr.flatMap(Self.bytes) else { continue }
            // The netmask's set bits are the prefix length; a missing mask means a host address.
            let prefix = current.pointee.ifa_netmask.flatMap(Self.bytes)?.reduce(0) { $0 + $1.nonzeroBitCount }
            let subnet = Subnet(address: bytes, prefixLength: prefix ?? bytes.count * 8)
            if bytes.count == 4, result[index].ipv4 == nil {
                result[index].ipv4 = subnet
            } else if bytes.count == 16, result[index].ipv6 == nil, Self.isRoutableIPv6(bytes) {
                result[index].ipv6 = subnet
            }
        }
        return result
    }

    /// The address bytes of an IPv4 or IPv6 socket address (network order); nil for other families.
    private static func bytes(_ address: UnsafeMutablePointer<sockaddr>) -> [UInt8]? {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                withUnsafeBytes(of: $0.pointee.sin_addr) { Array($0) }
            }
        case AF_INET6:
            address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                withUnsafeBytes(of: $0.pointee.sin6_addr) { Array($0) }
            }
        default:
            nil
        }
    }

    /// Whether a unicast IPv6 address can be dialled without a scope id: not link-local (fe80::/10), not
    /// multicast, not unspecified.
    static func isRoutableIPv6(_ bytes: [UInt8]) -> Bool {
        guard bytes.count == 16, bytes[0] != 0xFF, bytes.contains(where: { $0 != 0 }) else { return false }
        return !(bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80)
    }
}
