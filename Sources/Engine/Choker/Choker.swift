import SwarmPrimitives

/// Decides which peers we upload to (BEP 3 choking, as mainline and libtorrent do it).
///
/// Every round (10 s by default):
/// - **Leeching**: the ``regularSlots`` interested peers that gave us the best download rate are unchoked
///   (reciprocation); snubbed peers do not qualify.
/// - **Seeding**: slots rotate round-robin: a peer keeps its slot for ``seedQuantum`` rounds, then the interested
///   peers that waited longest take over, so every leecher gets served in turn.
/// - Every third round (30 s) one more interested, choked peer is unchoked at random (optimistic unchoke), so new
///   peers can show what they give; newly connected peers are three times as likely to be picked.
/// - With ``favourLAN`` (off by default), LAN peers take regular slots before the others: when leeching, before
///   faster non-LAN peers; when seeding, before non-LAN peers that waited longer (a peer whose quantum is over
///   still yields its slot, so everyone is served in turn). The optimistic unchoke ignores locality.
public struct Choker {
    /// What the choker knows about one connected peer.
    public struct Candidate: Sendable, Hashable {
        public var id: Int
        /// The peer wants data from us.
        public var interested: Bool
        /// Bytes per second the peer sent us recently.
        public var downloadRate: Double
        /// The peer has not sent a requested block for a long time.
        public var snubbed: Bool
        /// Connected within the last few rounds.
        public var isNew: Bool
        /// The peer has every piece (no point reciprocating; it wants nothing).
        public var isSeed: Bool
        /// Where the peer is (``favourLAN`` uses it).
        public var locality: PeerLocality

        public init(
            id: Int, interested: Bool, downloadRate: Double = 0, snubbed: Bool = false, isNew: Bool = false,
            isSeed: Bool = false, locality: PeerLocality = .unknown
        ) {
            self.id = id
            self.interested = interested
            self.downloadRate = downloadRate
            self.snubbed = snubbed
            self.isNew = isNew
            self.isSeed = isSeed
            self.locality = locality
        }
    }

    public var regularSlots: Int
    /// Rounds between optimistic unchoke changes.
    public var optimisticEvery: Int
    /// Rounds a seed keeps serving one peer before rotating.
    public var seedQuantum: Int
    /// Give regular slots to LAN peers before the others.
    public var favourLAN: Bool

    public private(set) var round = 0
    public private(set) var optimistic: Int?
    /// Round at which each currently unchoked peer got its slot.
    private var unchokedSince: [Int: Int] = [:]
    /// Round at which each peer last lost (or never had) a slot: the round-robin order.
    private var lastServed: [Int: Int] = [:]
    private var generator: any RandomNumberGenerator

    public init(
        regularSlots: Int = 4, optimisticEvery: Int = 3, seedQuantum: Int = 3, favourLAN: Bool = false,
        generator: any RandomNumberGenerator = FastRandom()
    ) {
        self.regularSlots = regularSlots
        self.optimisticEvery = optimisticEvery
        self.seedQuantum = seedQuantum
        self.favourLAN = favourLAN
        self.generator = generator
    }

    /// 0 for a peer ``favourLAN`` puts first, 1 for the others (always 0 when it is off).
    private func localityKey(_ candidate: Candidate) -> Int {
        favourLAN && candidate.locality != .lan ? 1 : 0
    }

    /// Who takes a free seeding slot first: peers not holding one (LAN peers first with ``favourLAN``), in
    /// round-robin order.
    private func seedOrder(_ candidate: Candidate) -> (Int, Int, Int, Int) {
        let served = servedKey(candidate.id)
        return (served == Int.max ? 1 : 0, localityKey(candidate), served, candidate.id)
    }

    /// Round-robin order: never served first, then longest since served; peers holding a slot now go last.
    private func servedKey(_ id: Int) -> Int {
        unchokedSince[id] != nil ? Int.max : lastServed[id] ?? -1
    }

    /// Runs one choking round.
    ///
    /// - Parameters:
    ///   - candidates: every connected peer.
    ///   - seeding: whether we have every piece.
    /// - Returns: the ids to unchoke; every other peer is choked.
    public mutating func runRound(_ candidates: [Candidate], seeding: Bool) -> Set<Int> {
        defer { round += 1 }
        let present = Set(candidates.map(\.id))
        unchokedSince = unchokedSince.filter { present.contains($0.key) }
        lastServed = lastServed.filter { present.contains($0.key) }
        if let o = optimistic, !present.contains(o) { optimistic = nil }

        let interested = candidates.filter { $0.interested && !($0.isSeed && !seeding) }
        var chosen: [Int] = []
        if seeding {
            // Keep peers inside their quantum, then the longest-waiting.
            let keep = interested.filter { c in
                guard let since = unchokedSince[c.id] else { return false }
                return round - since < seedQuantum
            }
            chosen = Array(keep.prefix(regularSlots).map(\.id))
            let waiting = interested.filter { !chosen.contains($0.id) }
                .sorted { seedOrder($0) < seedOrder($1) }
            for c in waiting where chosen.count < regularSlots { chosen.append(c.id) }
        } else {
            chosen = interested.filter { !$0.snubbed }
                .sorted {
                    (-localityKey($0), $0.downloadRate, -$0.id) > (-localityKey($1), $1.downloadRate, -$1.id)
                }
                .prefix(regularSlots).map(\.id)
        }

        if round % optimisticEvery == 0 || optimistic == nil || chosen.contains(optimistic!)
            || !interested.contains(where: { $0.id == optimistic })
        {
            let pool = interested.filter { !chosen.contains($0.id) }
            var weighted: [Int] = []
            for c in pool { weighted += Array(repeating: c.id, count: c.isNew ? 3 : 1) }
            optimistic = weighted.isEmpty ? nil : weighted[Int.random(in: 0..<weighted.count, using: &generator)]
        }
        var result = Set(chosen)
        if let o = optimistic { result.insert(o) }

        for id in present {
            if result.contains(id) {
                if unchokedSince[id] == nil { unchokedSince[id] = round }
            } else if unchokedSince.removeValue(forKey: id) != nil {
                lastServed[id] = round
            }
        }
        return result
    }
}
