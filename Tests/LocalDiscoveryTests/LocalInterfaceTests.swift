import LocalDiscovery
import Testing

/// Which interfaces local discovery runs on: named ones must exist, be up and have an address; with none named,
/// every interface that is up, multicast-capable and not loopback, with an address, and loopback only when nothing
/// else qualifies.
@Suite struct LocalInterfaceTests {
    typealias Subnet = LocalInterface.Subnet
    static let v4 = Subnet(address: [10, 0, 0, 2], prefixLength: 24)
    static let v6 = Subnet(address: [0xFD, 0x5E] + [UInt8](repeating: 0, count: 13) + [2], prefixLength: 64)
    static let lo = LocalInterface(
        name: "lo", index: 1, isUp: true, isLoopback: true, supportsMulticast: false,
        ipv4: Subnet(address: [127, 0, 0, 1], prefixLength: 8))
    static let eth0 = LocalInterface(
        name: "eth0", index: 2, isUp: true, isLoopback: false, supportsMulticast: true, ipv4: v4)
    static let wlan0 = LocalInterface(
        name: "wlan0", index: 3, isUp: true, isLoopback: false, supportsMulticast: true, ipv6: v6)
    static let down = LocalInterface(
        name: "eth1", index: 4, isUp: false, isLoopback: false, supportsMulticast: true, ipv4: v4)
    static let tunnel = LocalInterface(
        name: "tun0", index: 5, isUp: true, isLoopback: false, supportsMulticast: false, ipv4: v4)
    static let bare = LocalInterface(name: "eth2", index: 6, isUp: true, isLoopback: false, supportsMulticast: true)

    @Test(arguments: [
        ([lo, eth0, wlan0, down, tunnel, bare], ["eth0", "wlan0"]),
        ([lo, down, tunnel, bare], ["lo"]),
        ([lo, eth0], ["eth0"]),
    ])
    func automaticChoice(interfaces: [LocalInterface], chosen: [String]) throws {
        #expect(try LocalInterface.select(from: interfaces, named: []).map(\.name) == chosen)
    }

    @Test func nothingSuitableIsAnErrorThatNamesTheFix() {
        #expect {
            try LocalInterface.select(from: [Self.down, Self.bare], named: [])
        } throws: { error in
            let error = error as? LocalDiscoveryError
            return error?.code == .unknownInterface && error?.message.contains("--no-lsd") == true
        }
    }

    /// Named interfaces are taken as asked (loopback and non-multicast ones too: the operator chose them), once each.
    @Test func namedInterfaces() throws {
        let all = [Self.lo, Self.eth0, Self.wlan0, Self.down, Self.tunnel, Self.bare]
        #expect(try LocalInterface.select(from: all, named: ["lo", "eth0", "lo"]).map(\.name) == ["lo", "eth0"])
        #expect(try LocalInterface.select(from: all, named: ["tun0"]).map(\.name) == ["tun0"])
    }

    @Test(arguments: [("nosuch0", "does not exist"), ("eth1", "is down"), ("eth2", "no IPv4 or routable IPv6")])
    func badNamedInterface(name: String, message: String) {
        let all = [Self.lo, Self.eth0, Self.down, Self.bare]
        #expect {
            try LocalInterface.select(from: all, named: [name])
        } throws: { error in
            let error = error as? LocalDiscoveryError
            return error?.code == .unknownInterface && error?.message.contains(message) == true
                && error?.message.contains("choose one of: lo, eth0, eth1, eth2") == true
        }
    }

    /// This host's interfaces as read by getifaddrs: the loopback interface is there, up, with 127.0.0.1/8.
    @Test func readsThisHostsInterfaces() throws {
        let lo = try #require(try LocalInterface.current().first { $0.isLoopback })
        #expect(lo.isUp && lo.index > 0)
        #expect(lo.ipv4 == Subnet(address: [127, 0, 0, 1], prefixLength: 8))
    }
}
