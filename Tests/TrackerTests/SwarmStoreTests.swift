import Bencode
import Identity
import SwarmPrimitives
import Testing

@testable import Tracker

func peerID(_ n: Int) -> PeerID { PeerID(Array(twentyBytes(n).utf8))! }

func request(
    peer n: Int, hash: InfoHash = sampleHash, port: UInt16 = 6881, left: UInt64 = 10, event: AnnounceEvent = .none,
    numwant: Int = 50, compact: Bool = true
) -> ReceivedAnnounce {
    ReceivedAnnounce(
        infoHash: hash, peerID: peerID(n), port: port, uploaded: 0, downloaded: 0, left: left, event: event,
        compact: compact, noPeerID: false, numwant: numwant, ip: nil, signed: nil)
}

func decode(_ bytes: [UInt8]) throws -> BencodeValue {
    try BencodeDecoder().decode(bytes)
}

/// Splits a compact peer string into (a.b.c.d, port) pairs.
func compactPeers(_ bytes: [UInt8]) -> [String] {
    stride(from: 0, to: bytes.count, by: 6).map { i in
        "\(bytes[i]).\(bytes[i + 1]).\(bytes[i + 2]).\(bytes[i + 3]):\(Int(bytes[i + 4]) << 8 | Int(bytes[i + 5]))"
    }
}

struct SwarmStoreTests {
    let v4 = PackedIPAddress(ipv4: 10, 0, 0, 1)

    /// Docs/tracker.md ("A peer is 48 bytes") and the capacity figures rest on this layout: the shared 20-byte peer id
    /// and the packed address stay inline.
    @Test func aStoredPeerIs48BytesWithNoHeapStorage() {
        #expect(MemoryLayout<PackedIPAddress>.size == 16)
        #expect(MemoryLayout<PeerID>.size == 20)
        #expect(MemoryLayout<PeerEntry>.stride == 48)
        #expect(_isPOD(PeerEntry.self))
    }

    @Test func announceListsOthersAndCounts() throws {
        let store = SwarmStore(timing: .init(interval: 100), seed: 1)
        var out: [UInt8] = []
        store.announce(request(peer: 1, left: 0), address: PackedIPAddress(ipv4: 10, 0, 0, 1), owner: 1, now: 5, into: &out)
        let counts = store.announce(
            request(peer: 2, port: 7000), address: PackedIPAddress(ipv4: 10, 0, 0, 2), owner: 1, now: 5, into: &out)
        #expect(counts == SwarmCounts(complete: 1, incomplete: 1, downloaded: 0))
        let response = try decode(out)
        #expect(response["complete"]?.integer == 1)
        #expect(response["incomplete"]?.integer == 1)
        #expect(response["interval"]?.integer == 100)
        #expect(response["min interval"]?.integer == 60)
        #expect(compactPeers(response["peers"]?.bytes ?? []) == ["10.0.0.1:6881"])
        #expect(response["peers6"] == nil)
    }

    @Test func canonicalBencode() throws {
        let store = SwarmStore(timing: .init(interval: 1800))
        var out: [UInt8] = []
        store.announce(request(peer: 1), address: v4, owner: 1, now: 1, into: &out)
        // The strict decoder rejects unsorted keys and non-canonical integers.
        #expect(try decode(out).encoded() == out)
    }

    @Test func requesterIsNeverListedAndNumwantRespected() throws {
        let store = SwarmStore(timing: .init(interval: 100), seed: 7)
        var out: [UInt8] = []
        for n in 0..<100 {
            store.announce(request(peer: n, port: UInt16(1000 + n)), address: v4, owner: 1, now: 1, into: &out)
        }
        for trial in 0..<20 {
            store.announce(
                request(peer: trial, port: UInt16(1000 + trial), numwant: 30), address: v4, owner: 1, now: 1, into: &out
            )
            let peers = compactPeers(try decode(out)["peers"]?.bytes ?? [])
            #expect(peers.count == 30)
            #expect(Set(peers).count == 30)
            #expect(!peers.contains("10.0.0.1:\(1000 + trial)"))
        }
        #expect(store.peerCount == 100)
    }

    @Test func selectionIsSpreadOverTheSwarm() throws {
        let store = SwarmStore(timing: .init(interval: 100), seed: 3)
        var out: [UInt8] = []
        for n in 0..<200 {
            store.announce(request(peer: n, port: UInt16(1000 + n)), address: v4, owner: 1, now: 1, into: &out)
        }
        var seen = Set<String>()
        for _ in 0..<40 {
            store.announce(request(peer: 0, port: 1000, numwant: 10), address: v4, owner: 1, now: 1, into: &out)
            seen.formUnion(compactPeers(try decode(out)["peers"]?.bytes ?? []))
        }
        // 400 draws of 199 candidates: a fixed window would show only 10.
        #expect(seen.count > 150)
    }

    @Test func stoppedRemovesAndCompletedCounts() throws {
        let store = SwarmStore(timing: .init(interval: 100))
        var out: [UInt8] = []
        store.announce(request(peer: 1, event: .started), address: v4, owner: 1, now: 1, into: &out)
        store.announce(request(peer: 2), address: v4, owner: 1, now: 1, into: &out)
        let completed = store.announce(
            request(peer: 1, left: 0, event: .completed), address: v4, owner: 1, now: 2, into: &out)
        #expect(completed == SwarmCounts(complete: 1, incomplete: 1, downloaded: 1))
        let stopped = store.announce(request(peer: 2, event: .stopped), address: v4, owner: 1, now: 3, into: &out)
        #expect(stopped == SwarmCounts(complete: 1, incomplete: 0, downloaded: 1))
        #expect(try decode(out)["peers"]?.bytes == [])
        #expect(store.peerCount == 1)
    }

    @Test func ipv6PeersGoToPeers6() throws {
        let store = SwarmStore(timing: .init(interval: 100))
        var out: [UInt8] = []
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes[0] = 0x20
        bytes[1] = 0x01
        bytes[15] = 0x05
        let v6 = PackedIPAddress(bytes: bytes)!
        #expect(!v6.isIPv4)
        #expect(v6.text == "2001::5")
        store.announce(request(peer: 1, port: 0x1234), address: v6, owner: 1, now: 1, into: &out)
        store.announce(request(peer: 2), address: v4, owner: 1, now: 1, into: &out)
        let response = try decode(out)
        #expect(response["peers"]?.bytes == [])
        #expect(response["peers6"]?.bytes == bytes + [0x12, 0x34])
    }

    @Test func nonCompactDictionaryModel() throws {
        let store = SwarmStore(timing: .init(interval: 100))
        var out: [UInt8] = []
        store.announce(request(peer: 1, port: 4000), address: v4, owner: 1, now: 1, into: &out)
        store.announce(request(peer: 2, compact: false), address: v4, owner: 1, now: 1, into: &out)
        let peers = try decode(out)["peers"]?.list ?? []
        #expect(peers.count == 1)
        #expect(peers.first?["ip"]?.utf8String == "10.0.0.1")
        #expect(peers.first?["port"]?.integer == 4000)
        #expect(peers.first?["peer id"]?.bytes == peerID(1).bytes)
    }

    @Test func expiryDropsSilentPeers() {
        let store = SwarmStore(timing: .init(interval: 10))
        var out: [UInt8] = []
        store.announce(request(peer: 1), address: v4, owner: 1, now: 0, into: &out)
        store.announce(request(peer: 2), address: v4, owner: 1, now: 15, into: &out)
        store.announce(
            request(peer: 3, hash: InfoHash(Array(repeating: 9, count: 20))!), address: v4, owner: 1, now: 0, into: &out
        )
        #expect(store.expire(now: 21) == 2)
        #expect(store.peerCount == 1)
        #expect(store.swarmCount == 1)
        #expect(store.peers(of: sampleHash).map(\.peerID) == [peerID(2)])
    }

    @Test func purgeRemovesRevokedOwnersOnly() {
        let store = SwarmStore(timing: .init(interval: 10))
        var out: [UInt8] = []
        for n in 0..<60 {
            store.announce(request(peer: n), address: v4, owner: UInt32(n % 3), now: 0, into: &out)
        }
        #expect(store.purge(owners: [1]) == 20)
        #expect(store.peers(of: sampleHash).allSatisfy { $0.owner != 1 })
        #expect(store.peerCount == 40)
        // Lookups still work after swap-removals (large swarms use an index).
        store.announce(request(peer: 0, event: .stopped), address: v4, owner: 0, now: 1, into: &out)
        #expect(store.peerCount == 39)
    }

    @Test func reannounceUpdatesInPlace() {
        let store = SwarmStore(timing: .init(interval: 10))
        var out: [UInt8] = []
        for n in 0..<30 { store.announce(request(peer: n), address: v4, owner: 1, now: 0, into: &out) }
        let counts = store.announce(request(peer: 5, port: 9, left: 0), address: v4, owner: 1, now: 1, into: &out)
        #expect(counts.complete == 1 && counts.incomplete == 29)
        #expect(store.peerCount == 30)
        #expect(store.peers(of: sampleHash).first { $0.peerID == peerID(5) }?.port == 9)
    }

    @Test func peerEntryIsCompact() {
        #expect(MemoryLayout<PeerEntry>.stride <= 48)
    }
}
