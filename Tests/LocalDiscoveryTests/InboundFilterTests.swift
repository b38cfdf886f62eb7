import LocalDiscovery
import SwarmPrimitives
import Testing

@Suite struct InboundFilterTests {
    static let subnet = (address: [UInt8]([10, 213, 7, 0]), prefixLength: 24)
    static let neighbour: [UInt8] = [10, 213, 7, 9]

    static func datagram(cookie: String) throws -> [UInt8] {
        try #require(
            try LSDAnnouncement(port: 6881, infoHashes: [InfoHash([UInt8](repeating: 7, count: 20))!], cookie: cookie).encode(
                family: .ipv4
            ).first)
    }

    @Test func acceptsANeighbourAndDropsOurOwnCookie() throws {
        var filter = InboundFilter(cookie: "ours")
        #expect(filter.accept(try Self.datagram(cookie: "theirs"), from: Self.neighbour, subnet: Self.subnet, now: 0)?.port == 6881)
        #expect(filter.accept(try Self.datagram(cookie: "ours"), from: Self.neighbour, subnet: Self.subnet, now: 0) == nil)
        #expect(filter.accepted == 1)
        #expect(filter.dropped == [.ownCookie: 1])
    }

    @Test(arguments: [
        ([UInt8]([10, 213, 8, 9]), true), ([10, 213, 7, 255], false), ([192, 168, 1, 1], true),
        ([UInt8](repeating: 0, count: 15) + [1], true),
    ])
    func dropsSourcesOutsideTheInterfaceSubnet(source: [UInt8], foreign: Bool) throws {
        var filter = InboundFilter(cookie: "ours")
        let result = filter.accept(try Self.datagram(cookie: "x"), from: source, subnet: Self.subnet, now: 0)
        #expect((result == nil) == foreign)
        #expect(filter.dropped[.foreignSubnet, default: 0] == (foreign ? 1 : 0))
    }

    @Test func unknownInterfaceIsForeign() throws {
        var filter = InboundFilter(cookie: "ours")
        #expect(filter.accept(try Self.datagram(cookie: "x"), from: Self.neighbour, subnet: nil, now: 0) == nil)
        #expect(filter.dropped == [.foreignSubnet: 1])
    }

    /// More than 10 datagrams a second from one source: the rest of that second's are dropped and counted; another
    /// source and the next second are unaffected.
    @Test func floodsAreRateLimitedPerSource() throws {
        var filter = InboundFilter(cookie: "ours")
        let datagram = try Self.datagram(cookie: "flood")
        let accepted = (0..<25).filter { i in
            filter.accept(datagram, from: Self.neighbour, subnet: Self.subnet, now: 5 + Double(i) / 100) != nil
        }.count
        #expect(accepted == 10)
        #expect(filter.dropped == [.rateLimited: 15])
        #expect(filter.accept(datagram, from: [10, 213, 7, 10], subnet: Self.subnet, now: 5.5) != nil)
        #expect(filter.accept(datagram, from: Self.neighbour, subnet: Self.subnet, now: 6.0) != nil)
    }

    /// Many sources in one second: beyond the tracked number they share one budget, so memory stays bounded.
    @Test func sourcesBeyondTheTableShareOneBudget() throws {
        var filter = InboundFilter(cookie: "ours", maximumPerSecond: 2, maximumSources: 4)
        let datagram = try Self.datagram(cookie: "x")
        let accepted = (1...20).filter { i in
            filter.accept(datagram, from: [10, 213, 7, UInt8(i)], subnet: Self.subnet, now: 1) != nil
        }.count
        #expect(accepted == 4 + 2)
        #expect(filter.dropped == [.rateLimited: 14])
    }

    /// A unicast datagram to the group's port is not an announcement to the link.
    @Test func datagramsNotSentToTheGroupAreDropped() throws {
        var filter = InboundFilter(cookie: "ours")
        let datagram = try Self.datagram(cookie: "x")
        #expect(filter.accept(datagram, from: Self.neighbour, subnet: Self.subnet, now: 0, toGroup: false) == nil)
        #expect(filter.accept(datagram, from: Self.neighbour, subnet: Self.subnet, now: 0, toGroup: true) != nil)
        #expect(filter.dropped == [.notToGroup: 1])
    }

    @Test func malformedIsCounted() {
        var filter = InboundFilter(cookie: "ours")
        #expect(filter.accept(Array("GET / HTTP/1.1\r\n\r\n".utf8), from: Self.neighbour, subnet: Self.subnet, now: 0) == nil)
        #expect(filter.dropped == [.malformed: 1])
    }
}
