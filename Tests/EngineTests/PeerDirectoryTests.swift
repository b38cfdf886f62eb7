import SwarmPrimitives
import Testing

@testable import Engine

@Suite struct PeerDirectoryTests {
    /// A peer id of twenty `n` bytes.
    static func id(_ n: UInt8) -> PeerID { PeerID(Array(repeating: n, count: 20))! }

    func peer(
        _ host: String, _ port: Int = 6881, _ source: PeerSource = .tracker, _ locality: PeerLocality = .unknown,
        id: PeerID? = nil
    ) -> PeerRecord {
        PeerRecord(address: PeerAddress(host: host, port: port), source: source, locality: locality, peerID: id)
    }

    @Test func sameAddressIsOneEntryWithWhatEverySourceKnows() throws {
        var directory = PeerDirectory()
        #expect(directory.add(peer("10.0.0.1")) == .added)
        #expect(directory.add(peer("10.0.0.1", 6881, .lsd, .lan)) == .merged)
        #expect(directory.add(peer("10.0.0.1", 6881, .tracker, .wan, id: Self.id(1))) == .merged)
        #expect(directory.add(peer("10.0.0.1", 6882)) == .added, "another port is another peer")
        #expect(directory.count == 2)
        let entry = try #require(directory.entry(PeerAddress(host: "10.0.0.1", port: 6881)))
        #expect(entry.record.source == .lsd, "lsd is stronger than tracker")
        #expect(entry.record.locality == .lan, "lan is stronger than wan")
        #expect(entry.record.peerID == Self.id(1))
        #expect(directory.add(peer("10.0.0.1", 6881, .manual)) == .merged)
        #expect(directory.entry(PeerAddress(host: "10.0.0.1", port: 6881))?.record.source == .manual)
    }

    @Test(arguments: [
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:db8::0:1", "2001:db8::1"),
        ("::ffff:10.0.0.1", "10.0.0.1"),
    ])
    func ipv6SpellingsAreOneAddress(spelling: String, canonical: String) {
        var directory = PeerDirectory()
        directory.add(peer(canonical))
        #expect(directory.add(peer(spelling)) == .merged)
        #expect(directory.count == 1)
    }

    @Test func refusesPortZeroOurOwnAddressAndBannedPeers() {
        var directory = PeerDirectory()
        directory.addOwnAddress(PeerAddress(host: "127.0.0.1", port: 7000))
        #expect(directory.add(peer("127.0.0.1", 7000)) == .refused)
        #expect(directory.add(peer("127.0.0.1", 0)) == .refused)
        #expect(directory.add(peer("127.0.0.1", 7001)) == .added)
        directory.add(peer("10.0.0.9", 1))
        directory.add(peer("10.0.0.9", 2))
        directory.ban(PeerAddress(host: "10.0.0.9", port: 1))
        #expect(directory.count == 1, "a ban covers every port of a host")
        #expect(directory.add(peer("10.0.0.9", 3, .manual)) == .refused)
        // On loopback, where test peers share an address, the ban is per port.
        directory.ban(PeerAddress(host: "127.0.0.1", port: 7001))
        #expect(directory.add(peer("127.0.0.1", 7002)) == .added)
        #expect(directory.nextToDial(now: 0, count: 10).map(\.address.port) == [7002])
    }

    @Test func dialsLANThenUnknownThenWANAndManualFirstWithinEach() {
        var directory = PeerDirectory()
        directory.add(peer("8.8.8.8", 1, .tracker, .wan))
        directory.add(peer("9.9.9.9", 2, .manual, .wan))
        directory.add(peer("seed.example", 3, .tracker, .unknown))
        directory.add(peer("10.0.0.1", 4, .tracker, .lan))
        directory.add(peer("10.0.0.2", 5, .manual, .lan))
        directory.add(peer("10.0.0.3", 6, .incoming, .lan))
        let order = directory.nextToDial(now: 0, count: 10).map(\.address.port)
        #expect(order == [5, 4, 3, 2, 1], "incoming entries are never dialled")
        #expect(directory.nextToDial(now: 0, count: 10).isEmpty, "each is being dialled")
    }

    @Test func dialsAtMostTheRoomGivenAndASeedOnlyManualAndLocalDiscoveryPeers() {
        var directory = PeerDirectory()
        for port in 1...5 { directory.add(peer("10.0.0.1", port)) }
        directory.add(peer("10.0.0.2", 9, .manual))
        directory.add(peer("10.0.0.3", 8, .lsd, .lan))
        #expect(directory.nextToDial(now: 0, count: 0).isEmpty)
        #expect(Set(directory.nextToDial(now: 0, count: 10, seeding: true).map(\.address.port)) == [8, 9])
        #expect(directory.nextToDial(now: 0, count: 2).map(\.address.port) == [1, 2])
    }

    /// A seed does not dial again a peer that was a seed when they parted (two appliances that hear each other would
    /// otherwise reconnect forever, every 5 s or at every announcement); a leech still does, and a peer that was not
    /// a seed is redialled after the reconnect delay.
    @Test func aSeedDoesNotRedialAPeerThatWasASeed() {
        var directory = PeerDirectory()
        let lan = peer("10.0.0.3", 8, .lsd, .lan)
        directory.add(lan)
        #expect(directory.nextToDial(now: 0, count: 1, seeding: true).count == 1)
        directory.connected(lan)
        directory.disconnected(lan.address, now: 10, wasSeed: true)
        #expect(directory.nextToDial(now: 10 + directory.backoffCeiling * 10, count: 1, seeding: true).isEmpty)
        directory.add(lan)  // heard again on local discovery: still not dialled by a seed
        #expect(directory.nextToDial(now: 10 + directory.backoffCeiling * 10, count: 1, seeding: true).isEmpty)
        #expect(directory.nextToDial(now: 10 + directory.reconnectDelay, count: 1).count == 1, "a leech dials it")
        let other = peer("10.0.0.4", 8, .lsd, .lan)
        directory.add(other)
        #expect(directory.nextToDial(now: 0, count: 1, seeding: true).count == 1)
        directory.connected(other)
        directory.disconnected(other.address, now: 10)
        #expect(directory.nextToDial(now: 10 + directory.reconnectDelay, count: 1, seeding: true).count == 1)
    }

    @Test(arguments: [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (9, 256.0), (10, 300.0), (200, 300.0)])
    func backoffDoublesUpToItsCeiling(failures: Int, wait: Double) {
        #expect(PeerDirectory().backoff(afterFailures: failures) == wait)
    }

    @Test func failedDialsWaitTheirBackoffAndAConnectionResetsIt() throws {
        var directory = PeerDirectory()
        let address = PeerAddress(host: "10.0.0.1", port: 1)
        directory.add(peer("10.0.0.1", 1))
        var now = 0.0
        for failures in 1...4 {
            #expect(directory.nextToDial(now: now, count: 1).count == 1)
            directory.dialFailed(address, now: now)
            let wait = directory.backoff(afterFailures: failures)
            #expect(directory.nextToDial(now: now + wait - 0.01, count: 1).isEmpty, "still backing off")
            now += wait
        }
        #expect(directory.entry(address)?.failures == 4)
        #expect(directory.nextToDial(now: now, count: 1).count == 1)
        directory.connected(peer("10.0.0.1", 1, id: Self.id(7)))
        let entry = try #require(directory.entry(address))
        #expect(entry.failures == 0 && entry.state == .connected && entry.record.peerID == Self.id(7))
        directory.disconnected(address, now: now)
        #expect(directory.nextToDial(now: now + 4.9, count: 1).isEmpty, "reconnect delay")
        #expect(directory.nextToDial(now: now + 5, count: 1).count == 1)
    }

    @Test func aDialNobodyReportsOnCountsAsFailedAfterTheDeadline() throws {
        var directory = PeerDirectory(dialDeadline: 30)
        let address = PeerAddress(host: "10.0.0.1", port: 1)
        directory.add(peer("10.0.0.1", 1))
        #expect(directory.nextToDial(now: 100, count: 1).count == 1)
        #expect(directory.nextToDial(now: 129, count: 1).isEmpty, "still dialling")
        #expect(directory.nextToDial(now: 130, count: 1).isEmpty, "failed at the deadline, now backing off 1 s")
        let entry = try #require(directory.entry(address))
        #expect(entry.failures == 1 && entry.state == .idle && entry.nextAttempt == 131)
        #expect(directory.nextToDial(now: 131, count: 1).map(\.address) == [address])
    }

    @Test func peersThatFailRepeatedlyAgeOutButManualPeersStay() {
        var directory = PeerDirectory(failureLimit: 3)
        let tracker = PeerAddress(host: "10.0.0.1", port: 1)
        let manual = PeerAddress(host: "10.0.0.2", port: 2)
        directory.add(peer("10.0.0.1", 1))
        directory.add(peer("10.0.0.2", 2, .manual))
        for _ in 1...3 {
            directory.dialFailed(tracker, now: 0)
            directory.dialFailed(manual, now: 0)
        }
        #expect(directory.entry(tracker) == nil)
        #expect(directory.entry(manual)?.failures == 3)
        #expect(directory.backoff(afterFailures: 40) == directory.backoffCeiling)
    }

    @Test func atCapacityANewPeerReplacesTheWorstIdleOne() {
        var directory = PeerDirectory(capacity: 3)
        directory.add(peer("10.0.0.1", 1, .manual))
        directory.add(peer("10.0.0.2", 2))
        directory.add(peer("10.0.0.3", 3))
        directory.dialFailed(PeerAddress(host: "10.0.0.3", port: 3), now: 0)
        #expect(directory.add(peer("10.0.0.4", 4)) == .added)
        #expect(directory.entry(PeerAddress(host: "10.0.0.3", port: 3)) == nil, "most failures goes first")
        #expect(directory.add(peer("10.0.0.5", 5)) == .added)
        #expect(directory.entry(PeerAddress(host: "10.0.0.2", port: 2)) == nil, "then the oldest")
        #expect(directory.count == 3)
        // Manual, dialling and connected entries are never replaced: with none idle, a new peer is refused.
        let dialling = directory.nextToDial(now: 0, count: 10)
        #expect(dialling.count == 3)
        #expect(directory.add(peer("10.0.0.6", 6)) == .refused)
        #expect(directory.count == 3)
    }

    @Test func incomingPeersAreKnownWhileConnectedOnly() {
        var directory = PeerDirectory()
        let incoming = peer("10.0.0.7", 50123, .incoming, .lan, id: Self.id(9))
        directory.connected(incoming)
        #expect(directory.entry(incoming.address)?.state == .connected)
        #expect(directory.nextToDial(now: 100, count: 10).isEmpty)
        directory.disconnected(incoming.address, now: 0)
        #expect(directory.count == 0)
    }
}
