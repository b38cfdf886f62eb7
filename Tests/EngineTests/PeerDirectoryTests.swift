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

    // MARK: - A seed's local-discovery dials

    /// A rack of 200 nodes starts at once and announces itself: the seed dials 10 of the addresses local discovery
    /// reported in the first second and 10 in each second after (one dialling round a second, as a session's
    /// tick does), in the order they were heard; none is dropped, and the 190 held back are counted once each.
    @Test func aSeedDialsTenNewLocalDiscoveryAddressesASecondAndTheRestLater() throws {
        var directory = PeerDirectory()
        #expect(directory.localDialsPerSecond == 10)
        let rack = (1...200).map { peer("10.1.\($0 / 250).\($0 % 250)", 6881, .lsd, .lan) }
        for node in rack { #expect(directory.add(node) == .added) }
        var dialled: [PeerAddress] = []
        for second in 0..<20 {
            // A round with room for a whole session's half-open limit and more.
            let round = directory.nextToDial(now: Double(second), count: 80, seeding: true)
            #expect(round.count == 10, "second \(second)")
            for record in round { directory.connected(record) }
            dialled += round.map(\.address)
        }
        #expect(dialled == rack.map(\.address), "every node once, in the order heard")
        #expect(directory.nextToDial(now: 20, count: 80, seeding: true).isEmpty)
        #expect(directory.localDialsDeferred == 190)
        #expect(directory.count == 200)
    }

    /// Rounds closer together than a second share the budget: over any stretch of time the seed starts at most 10
    /// plus 10 a second of those dials, however often it is asked; a budget left unused does not pile up past 10.
    @Test func theBudgetIsPerSecondHoweverOftenTheSeedDials() {
        var directory = PeerDirectory()
        for port in 1...400 { directory.add(peer("10.2.\(port / 250).\(port % 250)", 7000, .lsd, .lan)) }
        var total = 0
        for quarter in 0..<40 {
            let now = Double(quarter) / 4
            total += directory.nextToDial(now: now, count: 80, seeding: true).count
            #expect(Double(total) <= 10 + 10 * now + 1e-9, "at \(now) s: \(total)")
        }
        #expect(total >= 100, "10 a second over 9.75 s, and the first 10 at once: \(total)")
        // Ten idle seconds later, one round dials the budget's 10, not 100.
        #expect(directory.nextToDial(now: 20, count: 80, seeding: true).count == 10)
    }

    /// One host announcing many ports (a LAN host that may claim any port for any info-hash) keeps 8 of them waiting,
    /// its newest, and gets one dial a round; the other hosts of the rack are not held behind it.
    @Test func oneHostAnnouncingManyPortsKeepsEightWaitingAndGetsOneDialARound() {
        var directory = PeerDirectory()
        #expect(directory.localWaitingPerHost == 8)
        for port in 1...50 { #expect(directory.add(peer("10.3.0.66", 20000 + port, .lsd, .lan)) == .added) }
        #expect(directory.count == 8)
        #expect(directory.localAddressesReplaced == 42)
        #expect(directory.entry(PeerAddress(host: "10.3.0.66", port: 20001)) == nil, "the oldest went first")
        #expect(directory.entry(PeerAddress(host: "10.3.0.66", port: 20050)) != nil)
        for host in 1...5 { directory.add(peer("10.3.1.\(host)", 6881, .lsd, .lan)) }
        let round = directory.nextToDial(now: 0, count: 80, seeding: true)
        #expect(round.map(\.address.host) == ["10.3.0.66", "10.3.1.1", "10.3.1.2", "10.3.1.3", "10.3.1.4", "10.3.1.5"])
        #expect(round.first?.address.port == 20043, "the oldest kept")
        #expect(directory.localDialsDeferred == 7)
        // Its ports never answer: each failed dial is retried after its backoff, and still one a round.
        for second in 1...30 {
            let round = directory.nextToDial(now: Double(second), count: 80, seeding: true)
            #expect(round.count <= 1, "second \(second): \(round)")
            for record in round { directory.dialFailed(record.address, now: Double(second)) }
        }
        // Addresses that connected are not waiting: a host's ninth node is kept beside eight that connected.
        var rack = PeerDirectory()
        for port in 1...8 {
            let node = peer("10.3.2.1", 7000 + port, .lsd, .lan)
            rack.add(node)
            rack.connected(node)
        }
        #expect(rack.add(peer("10.3.2.1", 7009, .lsd, .lan)) == .added)
        #expect(rack.count == 9 && rack.localAddressesReplaced == 0)
        // Other sources are not bounded per host.
        for port in 1...20 { rack.add(peer("10.3.3.1", 8000 + port, .tracker, .lan)) }
        #expect(rack.count == 29)
    }

    /// What is not held to the budget: manual peers, local-discovery peers that connected before (redialled after
    /// a disconnect), and every dial of a leech; tracker peers a seed does not dial at all.
    @Test func manualPeersKnownPeersAndLeechesAreNotHeldToTheBudget() {
        var directory = PeerDirectory()
        let known = (1...10).map { peer("10.4.0.\($0)", 6881, .lsd, .lan) }
        for node in known { directory.add(node) }
        for record in directory.nextToDial(now: 0, count: 80, seeding: true) { directory.connected(record) }
        for node in known { directory.disconnected(node.address, now: 0) }
        for host in 1...20 { directory.add(peer("10.4.1.\(host)", 6881, .lsd, .lan)) }
        directory.add(peer("10.4.2.1", 6881, .manual, .lan))
        directory.add(peer("10.4.3.1", 6881, .tracker, .lan))
        // After the reconnect delay (the budget is full again): 10 new ones, the 10 known ones and the manual peer.
        let round = directory.nextToDial(now: directory.reconnectDelay, count: 80, seeding: true)
        #expect(round.filter { $0.address.host.hasPrefix("10.4.1.") }.count == 10)
        #expect(Set(round.filter { $0.address.host.hasPrefix("10.4.0.") }.map(\.address)) == Set(known.map(\.address)))
        #expect(round.contains { $0.source == .manual })
        #expect(!round.contains { $0.source == .tracker })
        var leech = PeerDirectory()
        for host in 1...30 { leech.add(peer("10.4.1.\(host)", 6881, .lsd, .lan)) }
        #expect(leech.nextToDial(now: 0, count: 80).count == 30)
        #expect(leech.localDialsDeferred == 0)
    }

    // MARK: - Peers connected already

    /// A rack that reached the seed through the tracker is connected to it from ephemeral ports; their local-discovery
    /// addresses are not dialled while their host is connected (the dial would be refused as a duplicate peer id),
    /// so the budget goes to the nodes that need the seed's dial. On loopback, where test peers share a host, the
    /// rule is by address. A host dialled again once its connection closed.
    @Test func aSeedDoesNotDialLocalAddressesOfHostsConnectedToIt() throws {
        var directory = PeerDirectory()
        for node in 1...200 {
            directory.connected(peer("10.5.0.\(node)", 40000 + node, .incoming, .lan))
            #expect(directory.add(peer("10.5.0.\(node)", 6881, .lsd, .lan)) == .added)
        }
        directory.connected(peer("127.0.0.1", 40001, .incoming, .lan))
        directory.add(peer("127.0.0.1", 7001, .lsd, .lan))
        for node in 1...20 { directory.add(peer("10.5.1.\(node)", 6881, .lsd, .lan)) }
        let first = directory.nextToDial(now: 0, count: 80, seeding: true)
        #expect(first.map(\.address.host) == ["127.0.0.1"] + (1...9).map { "10.5.1.\($0)" }, "\(first)")
        #expect(directory.localDialsDeferred == 11, "only the new hosts wait for the budget")
        let second = directory.nextToDial(now: 1, count: 80, seeding: true)
        #expect(second.map(\.address.host) == (10...19).map { "10.5.1.\($0)" })
        directory.disconnected(PeerAddress(host: "10.5.0.7", port: 40007), now: 1)
        #expect(directory.entry(PeerAddress(host: "10.5.0.7", port: 40007)) == nil, "an incoming entry is forgotten")
        let third = directory.nextToDial(now: 2, count: 80, seeding: true)
        #expect(third.map(\.address.host) == ["10.5.0.7", "10.5.1.20"], "in the order heard")
        // A leech dials every address: a host may run more than one node.
        var leech = PeerDirectory()
        leech.connected(peer("10.5.0.1", 40001, .incoming, .lan))
        leech.add(peer("10.5.0.1", 6881, .lsd, .lan))
        #expect(leech.nextToDial(now: 0, count: 80).map(\.address) == [PeerAddress(host: "10.5.0.1", port: 6881)])
    }

    /// A dial refused because its peer is connected already (the same peer id at another address), or the listening
    /// port an incoming peer names in its extended handshake, is marked connected as that connection: not a failure,
    /// not backed off or forgotten, not dialled again until that connection closes; then it is an address that
    /// connected before (a seed's redial of it is not held to the budget).
    @Test func anAddressOfAPeerConnectedAlreadyCountsAsThatConnection() throws {
        var directory = PeerDirectory()
        let incoming = peer("10.6.0.1", 40001, .incoming, .lan, id: Self.id(1))
        let listening = peer("10.6.0.1", 6881, .lsd, .lan)
        directory.add(listening)
        #expect(directory.nextToDial(now: 0, count: 80).map(\.address) == [listening.address])
        directory.connected(incoming)
        // The dial's handshake names the same peer id: refused, as a duplicate.
        directory.sameConnection(listening.address, as: incoming.address)
        let entry = try #require(directory.entry(listening.address))
        #expect(entry.state == .connected && entry.failures == 0 && entry.hasConnected)
        #expect(entry.connectedAs == incoming.address)
        directory.dialFailed(listening.address, now: 0)
        #expect(directory.entry(listening.address)?.state == .connected, "a late failure does not undo it")
        for second in 1...300 {
            #expect(directory.nextToDial(now: Double(second), count: 80).isEmpty, "second \(second)")
        }
        #expect(directory.entry(listening.address) != nil, "not forgotten as failing")
        directory.disconnected(incoming.address, now: 300, wasSeed: true)
        let released = try #require(directory.entry(listening.address))
        #expect(released.state == .idle && released.connectedAs == nil && released.wasSeed)
        let redial = directory.nextToDial(now: 300 + directory.reconnectDelay, count: 80)
        #expect(redial.map(\.address) == [listening.address])
        // The extended handshake's listening port, before any dial: never dialled while the peer stays connected, and
        // a seed's dial after it closed does not take from the budget. An unknown address is not learned.
        var seed = PeerDirectory()
        let other = peer("10.6.0.2", 40002, .incoming, .lan)
        seed.connected(other)
        seed.add(peer("10.6.0.2", 6881, .lsd, .lan))
        seed.sameConnection(PeerAddress(host: "10.6.0.2", port: 6881), as: other.address)
        seed.sameConnection(PeerAddress(host: "10.6.0.2", port: 6882), as: other.address)
        #expect(seed.entry(PeerAddress(host: "10.6.0.2", port: 6882)) == nil)
        #expect(seed.nextToDial(now: 0, count: 80).isEmpty)
        seed.disconnected(other.address, now: 0)
        for host in 1...20 { seed.add(peer("10.6.1.\(host)", 6881, .lsd, .lan)) }
        let round = seed.nextToDial(now: seed.reconnectDelay, count: 80, seeding: true)
        #expect(round.count == 11 && round.contains { $0.address == PeerAddress(host: "10.6.0.2", port: 6881) })
    }

    /// A host's waiting addresses are kept count of as entries come and go: one that connects (or is marked connected
    /// as another connection), fails out, becomes our own address or turns out to be a tracker peer's upgraded to
    /// local discovery changes what a ninth report of the host replaces.
    @Test func aHostsWaitingAddressesFollowEveryChange() {
        var directory = PeerDirectory(failureLimit: 1)
        let host = "10.7.0.1"
        func add(_ port: Int, _ source: PeerSource = .lsd) -> PeerDirectory.AddResult {
            directory.add(peer(host, port, source, .lan))
        }
        for port in 1...8 { #expect(add(port) == .added) }
        #expect(directory.localAddressesReplaced == 0)
        #expect(add(9) == .added && directory.localAddressesReplaced == 1, "a ninth replaces the oldest")
        // Connected, marked connected, forgotten after failing, our own address: four fewer waiting.
        directory.connected(peer(host, 2, .lsd, .lan))
        directory.connected(peer(host, 50000, .incoming, .lan))
        directory.sameConnection(PeerAddress(host: host, port: 3), as: PeerAddress(host: host, port: 50000))
        directory.dialFailed(PeerAddress(host: host, port: 4), now: 0)
        #expect(directory.entry(PeerAddress(host: host, port: 4)) == nil)
        directory.addOwnAddress(PeerAddress(host: host, port: 5))
        for port in 10...13 { #expect(add(port) == .added) }
        #expect(directory.localAddressesReplaced == 1, "room for four")
        #expect(add(14) == .added && directory.localAddressesReplaced == 2)
        // A tracker peer is not waiting until local discovery reports it too.
        directory.connected(peer(host, 7, .lsd, .lan))
        #expect(add(15, .tracker) == .added && directory.localAddressesReplaced == 2)
        #expect(add(15) == .merged && directory.localAddressesReplaced == 2)
        #expect(add(16) == .added && directory.localAddressesReplaced == 3, "the merged one counts")
        // A banned host's entries are all gone; another host's stay.
        directory.add(peer("10.7.0.2", 1, .lsd, .lan))
        directory.ban(PeerAddress(host: host, port: 1))
        #expect(directory.count == 1 && directory.entry(PeerAddress(host: "10.7.0.2", port: 1)) != nil)
    }
}
