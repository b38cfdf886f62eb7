import Testing

@testable import Engine

@Suite struct LocalityClassifierTests {
    /// This host as the tests see it: one site LAN 192.168.10.0/24, one IPv6 /64, loopback.
    static let interfaces = [
        CIDR(address: [192, 168, 10, 7], prefixLength: 24)!,
        CIDR(address: CIDR.addressBytes("2001:db8:1:2::7")!, prefixLength: 64)!,
        CIDR(address: [127, 0, 0, 1], prefixLength: 8)!,
    ]

    @Test(arguments: [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.1.2.3/8", "10.0.0.0/8"),
        ("192.168.1.77/23", "192.168.0.0/23"),
        ("172.16.5.4", "172.16.5.4/32"),
        ("fd00:1:2:3::9/48", "fd00:1:2::/48"),
        ("[2001:db8::1]/128", "2001:db8::1/128"),
        ("0.0.0.0/0", "0.0.0.0/0"),
    ])
    func parsesNetworks(text: String, expected: String) throws {
        #expect(try CIDR(parsing: text).description == expected)
    }

    @Test(arguments: ["", "10.0.0.0/33", "10.0.0/8", "fd00::/129", "10.0.0.0/-1", "10.0.0.0/abc", "lan.example/24"])
    func refusesMalformedNetworks(text: String) throws {
        let error = try #require(throws: EngineError.self) { try CIDR(parsing: text) }
        #expect(error.code == .badNetwork)
        #expect(error.context.contains("'\(text)'"), "the message names the network")
    }

    @Test func netmasksBecomePrefixLengths() throws {
        #expect(CIDR(address: [10, 9, 8, 7], netmask: [255, 255, 240, 0])?.description == "10.9.0.0/20")
        #expect(CIDR(address: [10, 9, 8, 7], netmask: [255, 0, 255, 0]) == nil, "not a run of leading ones")
        let v6 = try #require(CIDR.addressBytes("fe80::1:2"))
        let mask = [UInt8](repeating: 0xff, count: 8) + [UInt8](repeating: 0, count: 8)
        #expect(CIDR(address: v6, netmask: mask)?.description == "fe80::/64")
    }

    @Test(arguments: [
        // Loopback, the interfaces' subnets, the site network: LAN.
        ("127.0.0.1", PeerSource.tracker, PeerLocality.lan),
        ("127.9.9.9", .incoming, .lan),
        ("::1", .tracker, .lan),
        ("localhost", .manual, .lan),
        ("192.168.10.200", .tracker, .lan),
        ("2001:db8:1:2:aaaa::1", .incoming, .lan),
        ("::ffff:192.168.10.9", .incoming, .lan),
        ("10.20.30.40", .tracker, .lan),
        // Next door but outside every network: WAN.
        ("192.168.11.1", .tracker, .wan),
        ("2001:db8:1:3::1", .tracker, .wan),
        ("10.21.0.1", .incoming, .wan),
        ("8.8.8.8", .manual, .wan),
        // Found by local discovery: LAN whatever the address.
        ("8.8.8.8", .lsd, .lan),
        // A host name is not resolved here.
        ("seed.example", .manual, .unknown),
    ])
    func classifiesPeers(host: String, source: PeerSource, expected: PeerLocality) throws {
        let classifier = LocalityClassifier(
            siteNetworks: [try CIDR(parsing: "10.20.0.0/16")], interfaceNetworks: Self.interfaces)
        let record = classifier.record(PeerAddress(host: host, port: 6881), source: source)
        #expect(record.locality == expected)
        #expect(record.source == source)
    }

    @Test(arguments: [
        // A WAN network wins over loopback, the site network, the interfaces' subnets and local discovery.
        ("127.0.0.2", PeerSource.manual, PeerLocality.wan),
        ("10.20.99.1", .tracker, .wan),
        ("192.168.10.1", .incoming, .wan),
        ("192.168.10.1", .lsd, .wan),
        // Next to it: as before.
        ("127.0.0.1", .manual, .lan),
        ("10.20.30.40", .tracker, .lan),
        ("192.168.10.2", .lsd, .lan),
    ])
    func wanNetworksWin(host: String, source: PeerSource, expected: PeerLocality) throws {
        let classifier = LocalityClassifier(
            siteNetworks: [try CIDR(parsing: "10.20.0.0/16")],
            wanNetworks: try ["127.0.0.2/32", "10.20.99.0/24", "192.168.10.1"].map { try CIDR(parsing: $0) },
            interfaceNetworks: Self.interfaces)
        #expect(classifier.locality(of: PeerAddress(host: host, port: 6881), source: source) == expected)
    }

    @Test func withoutSiteNetworksOnlyInterfacesAndLoopbackAreLocal() {
        let classifier = LocalityClassifier(interfaceNetworks: [])
        #expect(classifier.locality(of: PeerAddress(host: "127.0.0.1", port: 1), source: .tracker) == .lan)
        #expect(classifier.locality(of: PeerAddress(host: "192.168.10.200", port: 1), source: .tracker) == .wan)
    }

    @Test func thisHostsInterfacesIncludeLoopback() {
        // Every Linux host has lo (127.0.0.1/8) up; the lists are what getifaddrs reports.
        let classifier = LocalityClassifier.forThisHost()
        #expect(classifier.interfaceNetworks.contains { $0.description == "127.0.0.0/8" })
        #expect(classifier.interfaceAddresses.contains([127, 0, 0, 1]))
    }
}
