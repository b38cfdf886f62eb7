import SwarmPrimitives

/// Seeder, leecher and completion counts of one swarm, as reported by announce and scrape.
public struct SwarmCounts: Sendable, Hashable {
    /// Peers with nothing left to download.
    public var complete: Int
    /// Peers still downloading.
    public var incomplete: Int
    /// `event=completed` announces seen since the swarm was created.
    public var downloaded: Int

    /// Creates counts.
    public init(complete: Int, incomplete: Int, downloaded: Int) {
        self.complete = complete
        self.incomplete = incomplete
        self.downloaded = downloaded
    }
}

/// One stored peer: 48 bytes, no heap allocation.
struct PeerEntry {
    var address: PackedIPAddress
    var peerID: PeerID
    var lastSeen: UInt32
    /// Which allowlist entry admitted the peer (see `AccessSnapshot.ownerID`).
    var owner: UInt32
    var port: UInt16
    var isSeeder: Bool
}

/// The peers of one info-hash.
final class Swarm {
    var peers: [PeerEntry] = []
    /// Peer id → position in `peers`; built only once a swarm outgrows a linear scan.
    var index: [PeerID: Int32]? = nil
    var seeders: Int32 = 0
    var downloaded: UInt32 = 0

    static let indexThreshold = 24

    func position(of peerID: PeerID) -> Int? {
        if let index { return index[peerID].map(Int.init) }
        for position in peers.indices where peers[position].peerID == peerID { return position }
        return nil
    }

    func append(_ entry: PeerEntry) {
        peers.append(entry)
        if entry.isSeeder { seeders += 1 }
        if index != nil {
            index![entry.peerID] = Int32(peers.count - 1)
        } else if peers.count > Swarm.indexThreshold {
            var built = [PeerID: Int32](minimumCapacity: peers.count * 2)
            for (position, peer) in peers.enumerated() { built[peer.peerID] = Int32(position) }
            index = built
        }
    }

    func remove(at position: Int) {
        let removed = peers[position]
        if removed.isSeeder { seeders -= 1 }
        let last = peers.count - 1
        if position != last {
            peers[position] = peers[last]
            index?[peers[position].peerID] = Int32(position)
        }
        peers.removeLast()
        index?[removed.peerID] = nil
        if peers.count < Swarm.indexThreshold / 2 { index = nil }
        if peers.count * 4 < peers.capacity && peers.capacity > 8 {
            peers.reserveCapacity(0)
            peers = Array(peers)
        }
    }

    var counts: SwarmCounts {
        SwarmCounts(complete: Int(seeders), incomplete: peers.count - Int(seeders), downloaded: Int(downloaded))
    }
}

/// All swarms the tracker knows, keyed by info-hash: peers, counts, expiry and peer selection.
///
/// Not thread-safe by design: the tracker keeps one store on one event loop and reaches it only there.
public final class SwarmStore {
    /// Timing of the announce protocol.
    public struct Timing: Sendable, Hashable {
        /// `interval` sent to clients, seconds.
        public var interval: UInt32
        /// `min interval` sent to clients, seconds.
        public var minInterval: UInt32
        /// A peer not heard from for this long is dropped, seconds.
        public var peerTimeout: UInt32

        /// Timing derived from an announce interval: `min interval` is min(60, interval), a peer expires
        /// after 2 × interval.
        public init(interval: UInt32) {
            self.interval = max(interval, 1)
            minInterval = min(60, self.interval)
            peerTimeout = self.interval * 2
        }
    }

    /// The timing in effect.
    public let timing: Timing
    private var swarms: [InfoHash: Swarm] = [:]
    /// Number of stored peers over all swarms.
    public private(set) var peerCount = 0
    private var random: FastRandom

    /// Creates an empty store.
    public init(timing: Timing, seed: UInt64 = UInt64.random(in: 1...UInt64.max)) {
        self.timing = timing
        random = FastRandom(seed: seed)
    }

    /// Number of swarms with at least one peer or a completion recorded.
    public var swarmCount: Int { swarms.count }

    /// Records an announce and writes the bencoded response into `out` (cleared first).
    ///
    /// - Parameters:
    ///   - request: The parsed announce.
    ///   - address: The peer's address (from the socket, or as configured).
    ///   - owner: The allowlist owner id that admitted the announce.
    ///   - now: Monotonic seconds.
    ///   - out: Receives a complete bencoded response dictionary.
    /// - Returns: The swarm's counts after the announce.
    @discardableResult
    public func announce(
        _ request: ReceivedAnnounce, address: PackedIPAddress, owner: UInt32, now: UInt32, into out: inout [UInt8]
    ) -> SwarmCounts {
        out.removeAll(keepingCapacity: true)
        let isSeeder = request.left == 0
        var swarm = swarms[request.infoHash]
        var selfPosition: Int? = nil
        if request.event == .stopped {
            if let swarm, let position = swarm.position(of: request.peerID) {
                swarm.remove(at: position)
                peerCount -= 1
                if swarm.peers.isEmpty && swarm.downloaded == 0 { swarms[request.infoHash] = nil }
            }
        } else {
            if swarm == nil {
                let created = Swarm()
                swarms[request.infoHash] = created
                swarm = created
            }
            let swarm = swarm!
            let entry = PeerEntry(
                address: address, peerID: request.peerID, lastSeen: now, owner: owner, port: request.port,
                isSeeder: isSeeder)
            if let position = swarm.position(of: request.peerID) {
                let wasSeeder = swarm.peers[position].isSeeder
                if wasSeeder != isSeeder { swarm.seeders += isSeeder ? 1 : -1 }
                swarm.peers[position] = entry
                selfPosition = position
            } else {
                swarm.append(entry)
                peerCount += 1
                selfPosition = swarm.peers.count - 1
            }
            if request.event == .completed { swarm.downloaded &+= 1 }
        }
        let counts = swarm?.counts ?? SwarmCounts(complete: 0, incomplete: 0, downloaded: 0)
        BencodeWriter.announceHead(counts: counts, timing: timing, into: &out)
        if request.event == .stopped || request.numwant == 0 {
            BencodeWriter.emptyPeers(compact: request.compact, into: &out)
        } else if let swarm {
            writePeers(swarm, excluding: selfPosition, request: request, into: &out)
        }
        out.append(UInt8(ascii: "e"))
        return counts
    }

    /// The counts of a swarm, or nil if the store has never seen it (or it emptied).
    public func counts(for infoHash: InfoHash) -> SwarmCounts? {
        swarms[infoHash]?.counts
    }

    /// Peers the store would list for `infoHash` (for tests and diagnostics): address, port, peer id, owner.
    public func peers(of infoHash: InfoHash) -> [(address: PackedIPAddress, port: UInt16, peerID: PeerID, owner: UInt32)] {
        (swarms[infoHash]?.peers ?? []).map { ($0.address, $0.port, $0.peerID, $0.owner) }
    }

    /// Drops peers not heard from within `timing.peerTimeout` and empty swarms.
    /// - Returns: The number of peers removed.
    @discardableResult
    public func expire(now: UInt32) -> Int {
        let oldest = now > timing.peerTimeout ? now - timing.peerTimeout : 0
        return removePeers { $0.lastSeen < oldest }
    }

    /// Drops every peer admitted by one of `owners` (allowlist entries that were removed).
    /// - Returns: The number of peers removed.
    @discardableResult
    public func purge(owners: Set<UInt32>) -> Int {
        guard !owners.isEmpty else { return 0 }
        return removePeers { owners.contains($0.owner) }
    }

    private func removePeers(where shouldRemove: (PeerEntry) -> Bool) -> Int {
        var removed = 0
        var emptied: [InfoHash] = []
        for (hash, swarm) in swarms {
            var position = 0
            while position < swarm.peers.count {
                if shouldRemove(swarm.peers[position]) {
                    swarm.remove(at: position)
                    removed += 1
                } else {
                    position += 1
                }
            }
            if swarm.peers.isEmpty && swarm.downloaded == 0 { emptied.append(hash) }
        }
        for hash in emptied { swarms[hash] = nil }
        peerCount -= removed
        return removed
    }

    /// Writes up to `numwant` peers other than the requester, picked at random: a random start and a random
    /// stride co-prime to the swarm size walk a permutation of the peers without allocating.
    private func writePeers(
        _ swarm: Swarm, excluding selfPosition: Int?, request: ReceivedAnnounce, into out: inout [UInt8]
    ) {
        let count = swarm.peers.count
        let others = count - (selfPosition == nil ? 0 : 1)
        let wanted = min(request.numwant, others)
        guard wanted > 0 else {
            BencodeWriter.emptyPeers(compact: request.compact, into: &out)
            return
        }
        let start = Int(random.next() % UInt64(count))
        var stride = 1
        if wanted < others && count > 2 {
            for _ in 0..<4 {
                let candidate = 1 + Int(random.next() % UInt64(count - 1))
                if gcd(candidate, count) == 1 {
                    stride = candidate
                    break
                }
            }
        }
        if request.compact {
            var v4 = 0
            var v6 = 0
            var position = start
            var taken = 0
            var visited = 0
            while taken < wanted && visited < count {
                if position != selfPosition {
                    if swarm.peers[position].address.isIPv4 { v4 += 1 } else { v6 += 1 }
                    taken += 1
                }
                visited += 1
                position = (position + stride) % count
            }
            BencodeWriter.appendLength(v4 * 6, key: "5:peers", into: &out)
            walk(swarm, start: start, stride: stride, wanted: wanted, excluding: selfPosition) { peer in
                guard peer.address.isIPv4 else { return }
                peer.address.appendCompact(to: &out)
                out.append(UInt8(truncatingIfNeeded: peer.port >> 8))
                out.append(UInt8(truncatingIfNeeded: peer.port))
            }
            if v6 > 0 {
                BencodeWriter.appendLength(v6 * 18, key: "6:peers6", into: &out)
                walk(swarm, start: start, stride: stride, wanted: wanted, excluding: selfPosition) { peer in
                    guard !peer.address.isIPv4 else { return }
                    peer.address.appendCompact(to: &out)
                    out.append(UInt8(truncatingIfNeeded: peer.port >> 8))
                    out.append(UInt8(truncatingIfNeeded: peer.port))
                }
            }
        } else {
            out.append(contentsOf: "5:peersl".utf8)
            walk(swarm, start: start, stride: stride, wanted: wanted, excluding: selfPosition) { peer in
                let ip = Array(peer.address.text.utf8)
                out.append(contentsOf: "d2:ip".utf8)
                BencodeWriter.appendBytes(ip, into: &out)
                if !request.noPeerID {
                    out.append(contentsOf: "7:peer id20:".utf8)
                    peer.peerID.append(to: &out)
                }
                out.append(contentsOf: "4:porti".utf8)
                BencodeWriter.appendDecimal(UInt64(peer.port), into: &out)
                out.append(contentsOf: "ee".utf8)
            }
            out.append(UInt8(ascii: "e"))
        }
    }

    private func walk(
        _ swarm: Swarm, start: Int, stride: Int, wanted: Int, excluding selfPosition: Int?,
        _ body: (PeerEntry) -> Void
    ) {
        let count = swarm.peers.count
        var position = start
        var taken = 0
        var visited = 0
        while taken < wanted && visited < count {
            if position != selfPosition {
                body(swarm.peers[position])
                taken += 1
            }
            visited += 1
            position = (position + stride) % count
        }
    }
}

private func gcd(_ a: Int, _ b: Int) -> Int {
    var (a, b) = (a, b)
    while b != 0 { (a, b) = (b, a % b) }
    return a
}

