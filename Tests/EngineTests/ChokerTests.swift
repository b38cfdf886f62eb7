import Testing

@testable import Engine

@Suite struct ChokerTests {
    @Test func leecherReciprocatesTheFastestUploaders() {
        var choker = Choker(regularSlots: 2, generator: SeededGenerator(seed: 3))
        let candidates = [
            Choker.Candidate(id: 1, interested: true, downloadRate: 10),
            Choker.Candidate(id: 2, interested: true, downloadRate: 500),
            Choker.Candidate(id: 3, interested: true, downloadRate: 300),
            Choker.Candidate(id: 4, interested: true, downloadRate: 900, snubbed: true),
            Choker.Candidate(id: 5, interested: false, downloadRate: 1000),
        ]
        let unchoked = choker.runRound(candidates, seeding: false)
        #expect(unchoked.isSuperset(of: [2, 3]))
        #expect(unchoked.count == 3, "two regular slots and one optimistic")
        #expect(!unchoked.contains(5), "uninterested peers are not unchoked")
        #expect(Set([1, 4]).contains(choker.optimistic ?? -1))
    }

    @Test func seedRotatesSlotsRoundRobin() {
        var choker = Choker(regularSlots: 2, optimisticEvery: 1000, seedQuantum: 1, generator: SeededGenerator(seed: 5))
        let candidates = (1...6).map { Choker.Candidate(id: $0, interested: true) }
        var served: Set<Int> = []
        for _ in 0..<3 {
            let unchoked = choker.runRound(candidates, seeding: true)
            #expect(unchoked.count == 3)
            served.formUnion(unchoked)
        }
        #expect(served == Set(1...6), "every leecher got a slot within three rounds")
    }

    @Test func optimisticSlotRotatesEveryThirdRound() {
        var choker = Choker(regularSlots: 1, generator: SeededGenerator(seed: 9))
        let candidates = (1...10).map { Choker.Candidate(id: $0, interested: true, downloadRate: $0 == 1 ? 100 : 0) }
        var optimistics: [Int] = []
        for _ in 0..<12 {
            _ = choker.runRound(candidates, seeding: false)
            optimistics.append(choker.optimistic!)
        }
        #expect(optimistics[0] == optimistics[1] && optimistics[1] == optimistics[2])
        #expect(Set(optimistics).count > 1)
        #expect(!optimistics.contains(1))
    }

    /// Two LAN peers and three faster WAN/unknown peers, all interested.
    static let mixed = [
        Choker.Candidate(id: 1, interested: true, downloadRate: 100, locality: .lan),
        Choker.Candidate(id: 2, interested: true, downloadRate: 900, locality: .wan),
        Choker.Candidate(id: 3, interested: true, downloadRate: 800, locality: .unknown),
        Choker.Candidate(id: 4, interested: true, downloadRate: 50, locality: .lan),
        Choker.Candidate(id: 5, interested: true, downloadRate: 700, locality: .wan),
    ]

    @Test(arguments: [(false, Set([2, 3])), (true, Set([1, 4]))])
    func leecherGivesRegularSlotsToLANPeersOnlyWhenAsked(favourLAN: Bool, regular: Set<Int>) {
        var choker = Choker(regularSlots: 2, favourLAN: favourLAN, generator: SeededGenerator(seed: 3))
        let unchoked = choker.runRound(Self.mixed, seeding: false)
        #expect(unchoked.subtracting([choker.optimistic ?? -1]) == regular)
        #expect(unchoked.count == 3)
    }

    @Test(arguments: [(false, Set([1, 2])), (true, Set([1, 4]))])
    func seedServesLANPeersFirstOnlyWhenAsked(favourLAN: Bool, firstRound: Set<Int>) {
        var choker = Choker(
            regularSlots: 2, optimisticEvery: 1000, seedQuantum: 1, favourLAN: favourLAN,
            generator: SeededGenerator(seed: 5))
        let unchoked = choker.runRound(Self.mixed, seeding: true)
        #expect(unchoked.subtracting([choker.optimistic ?? -1]) == firstRound)
    }

    @Test func favouredSeedStillServesEveryoneInTurn() {
        // LAN peers go first, but a peer that has had its quantum yields to waiting ones: nobody starves.
        var choker = Choker(
            regularSlots: 2, optimisticEvery: 1000, seedQuantum: 1, favourLAN: true, generator: SeededGenerator(seed: 5))
        var served: Set<Int> = []
        for _ in 0..<4 {
            served.formUnion(choker.runRound(Self.mixed, seeding: true))
        }
        #expect(served == Set(1...5))
    }
}
