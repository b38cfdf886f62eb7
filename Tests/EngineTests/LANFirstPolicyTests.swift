import PeerWire
import SwarmPrimitives
import Testing

@testable import Engine

/// LAN-first selection without sockets: the picker with ``LANFirstPolicy`` and the site's WAN shares.
@Suite struct LANFirstPolicyTests {
    static let lan = PickerPeerInfo(source: .lsd, locality: .lan)
    static let wan = PickerPeerInfo(source: .tracker, locality: .wan)

    /// `pieces` pieces of 64 KiB (4 blocks each), LAN-first (alone in its site unless `site` says otherwise), no
    /// random first pieces unless asked.
    func makePicker(pieces: Int = 10, site: SiteShare? = nil, seed: UInt64 = 1, randomFirst: Int = 0) -> PiecePicker {
        var picker = PiecePicker(
            pieceCount: pieces, pieceLength: 64 << 10, totalLength: Int64(pieces) * (64 << 10),
            policy: LANFirstPolicy(site: site ?? SiteShare(pieceCount: pieces, ours: 1, others: [])),
            generator: SeededGenerator(seed: seed))
        picker.randomFirstPieces = randomFirst
        return picker
    }

    /// Every piece the peer is asked for, asking until it gets nothing more.
    func allPieces(_ picker: inout PiecePicker, for id: Int) -> Set<Int> {
        Set(picker.nextRequests(for: id, count: 10_000).map(\.piece))
    }

    @Test func wanPeersAreAskedOnlyForPiecesNoLANPeerHas() {
        var picker = makePicker()
        picker.addPeer(1, info: Self.lan)
        picker.addPeer(2, info: Self.wan)
        picker.addPeer(3, info: PickerPeerInfo(source: .tracker, locality: .unknown))
        for piece in 0..<6 { picker.peerHas(1, piece: piece) }
        picker.peerHasAll(2)
        picker.peerHasAll(3)
        // The WAN peer asks first: it still gets none of the LAN's pieces.
        #expect(allPieces(&picker, for: 2).isSubset(of: [6, 7, 8, 9]))
        #expect(allPieces(&picker, for: 3).isSubset(of: [6, 7, 8, 9]), "unknown locality counts as WAN")
        #expect(allPieces(&picker, for: 1) == Set(0..<6))
        #expect(picker.inEndGame)
        // End game: no copies from WAN peers (each would cross the WAN again); a LAN peer still gets them.
        #expect(picker.nextRequests(for: 2, count: 10_000).isEmpty)
        #expect(picker.nextRequests(for: 3, count: 10_000).isEmpty)
        picker.addPeer(4, info: Self.lan)
        picker.peerHasAll(4)
        #expect(picker.nextRequests(for: 4, count: 10_000).count == 40, "a second copy of every block")
    }

    @Test func aLANHaveTakesAPieceOutOfTheWANSet() {
        var picker = makePicker()
        picker.addPeer(1, info: Self.lan)
        picker.addPeer(2, info: Self.wan)
        picker.peerHasAll(2)
        let first = picker.nextRequests(for: 2, count: 4).map(\.piece)
        #expect(Set(first).count == 1, "one whole piece from the WAN")
        // A LAN neighbour finished pieces 0-7 meanwhile: only 8 and 9 (and the one already started) remain WAN.
        for piece in 0..<8 { picker.peerHas(1, piece: piece) }
        let rest = allPieces(&picker, for: 2)
        #expect(rest.isSubset(of: Set([8, 9, first[0]])), "\(rest)")
    }

    @Test func aLANPeerThatChokesUsNoLongerHoldsItsPiecesBack() {
        var picker = makePicker()
        picker.addPeer(1, info: Self.lan)
        picker.addPeer(2, info: Self.wan)
        picker.peerHasAll(1)
        picker.peerHasAll(2)
        #expect(picker.nextRequests(for: 2, count: 4).isEmpty, "the LAN peer can give everything")
        // It chokes us past the tolerance: the WAN peer is asked (never starve).
        picker.setServing(1, false)
        #expect(picker.lanServing(ofPiece: 3) == 0 && picker.lanAvailability(ofPiece: 3) == 1)
        let taken = picker.nextRequests(for: 2, count: 8)
        #expect(taken.count == 8)
        // It serves again: no new piece goes to the WAN; the LAN peer gets the other eight (32 blocks).
        picker.setServing(1, true)
        #expect(picker.nextRequests(for: 2, count: 8).isEmpty)
        let lanPieces = Set(picker.nextRequests(for: 1, count: 32).map(\.piece))
        #expect(lanPieces.isDisjoint(with: taken.map(\.piece)) && lanPieces.count == 8, "\(lanPieces)")
    }

    @Test func piecesTheLANLacksComeBeforePiecesItHoldsButCannotServe() {
        var picker = makePicker()
        picker.addPeer(1, info: Self.lan)
        picker.addPeer(2, info: Self.wan)
        for piece in 0..<5 { picker.peerHas(1, piece: piece) }
        picker.peerHasAll(2)
        picker.setServing(1, false)
        let order = picker.nextRequests(for: 2, count: 40).map(\.piece)
        #expect(order.count == 40)
        #expect(Set(order.prefix(20)) == [5, 6, 7, 8, 9], "\(order)")
        #expect(Set(order.suffix(20)) == [0, 1, 2, 3, 4], "\(order)")
    }

    /// Three leechers of a site that know each other, none holding a piece, one WAN seed: picker `index`'s.
    func siteMember(_ index: Int, keys: [UInt64], pieces: Int) -> PiecePicker {
        var picker = makePicker(pieces: pieces, site: SiteShare(pieceCount: pieces, ours: keys[index], others: keys))
        for other in keys.indices where other != index { picker.addPeer(other, info: Self.lan) }
        picker.addPeer(9, info: Self.wan)
        picker.peerHasAll(9)
        return picker
    }

    @Test func aSiteWithNoCopyFetchesEveryPieceOverTheWANOnce() {
        // Each asks the WAN seed for its own share at once; together the shares are the whole torrent, once.
        let keys: [UInt64] = [11, 22, 33]
        var asked: [Int] = []
        for index in keys.indices {
            var picker = siteMember(index, keys: keys, pieces: 30)
            asked += allPieces(&picker, for: 9)
        }
        #expect(asked.sorted() == Array(0..<30))
    }

    @Test func requestsThatAreNoLongerOursAreWithdrawnWhenTheSiteChanges() throws {
        // Alone, leecher 11 asked the WAN seed for 20 pieces; then 22 and 33 connect: the requests for pieces that
        // are now theirs are withdrawn (to be cancelled), the ones still 11's stay.
        var picker = makePicker(pieces: 30, site: SiteShare(pieceCount: 30, ours: 11, others: []))
        picker.addPeer(9, info: Self.wan)
        picker.peerHasAll(9)
        let asked = picker.nextRequests(for: 9, count: 80)
        var policy = try #require(picker.policy as? LANFirstPolicy)
        policy.site = SiteShare(pieceCount: 30, ours: 11, others: [22, 33])
        picker.policy = policy
        let withdrawn = picker.withdrawExcluded(from: 9)
        #expect(!withdrawn.isEmpty && withdrawn.allSatisfy { !policy.site.owns($0.piece) }, "\(withdrawn)")
        #expect(picker.outstanding(9) == Set(asked.filter { policy.site.owns($0.piece) }))
        #expect(picker.withdrawExcluded(from: 9).isEmpty)
    }

    @Test func requestsForAPieceALANPeerAnnouncesAreWithdrawn() {
        var picker = makePicker()
        picker.addPeer(1, info: Self.lan)
        picker.addPeer(2, info: Self.wan)
        picker.peerHasAll(2)
        let asked = picker.nextRequests(for: 2, count: 8)
        let first = asked[0].piece
        #expect(picker.withdrawExcluded(from: 2, piece: first).isEmpty, "nobody on the LAN has it yet")
        picker.peerHas(1, piece: first)
        let withdrawn = picker.withdrawExcluded(from: 2, piece: first)
        #expect(Set(withdrawn) == Set(asked.filter { $0.piece == first }))
        #expect(picker.outstanding(2) == Set(asked.filter { $0.piece != first }))
        #expect(Set(picker.nextRequests(for: 1, count: 8)) == Set(withdrawn), "the LAN peer is asked instead")
    }

    @Test func theShareOfAStalledLeecherIsFetchedByTheOthers() throws {
        // Leecher 0 gets its share; leechers 1 and 2 announce nothing of theirs (no WAN, a stuck process): once the
        // session marks them stalled (`siteShareGrace`), leecher 0 takes their shares too: the site never starves.
        let keys: [UInt64] = [11, 22, 33]
        var picker = siteMember(0, keys: keys, pieces: 30)
        let own = allPieces(&picker, for: 9)
        #expect(!own.isEmpty && own.count < 30)
        var policy = try #require(picker.policy as? LANFirstPolicy)
        policy.stalledMembers = [22, 33]
        picker.policy = policy
        #expect(own.union(allPieces(&picker, for: 9)) == Set(0..<30))
    }

    @Test func leechersThatHaveNotFoundEachOtherStartOnDifferentPieces() {
        // Alone, a leecher's share is every piece, in an order of its own: two of them starting from the same WAN
        // seed before they are connected do not fetch the same first pieces (in order, they would).
        var firsts: [Set<Int>] = []
        for key: UInt64 in [0x1111, 0x2222] {
            var picker = makePicker(pieces: 64, site: SiteShare(pieceCount: 64, ours: key, others: []))
            picker.addPeer(2, info: Self.wan)
            picker.peerHasAll(2)
            firsts.append(Set(picker.nextRequests(for: 2, count: 16).map(\.piece)))
        }
        #expect(firsts[0].count == 4 && firsts[1].count == 4)
        #expect(firsts[0].isDisjoint(with: firsts[1]), "\(firsts)")
        #expect(firsts[0] != [0, 1, 2, 3] && firsts[1] != [0, 1, 2, 3])
    }

    @Test func wanPeersStartInSiteOrderEvenWithRandomFirstPieces() throws {
        let site = SiteShare(pieceCount: 64, ours: 7, others: [8, 9, 10])
        var picker = makePicker(pieces: 64, site: site, randomFirst: 4)
        picker.addPeer(2, info: Self.wan)
        picker.peerHasAll(2)
        let firstOwn = try #require((0..<64).filter(site.owns).min { site.rank(ofPiece: $0) < site.rank(ofPiece: $1) })
        #expect(picker.nextRequests(for: 2, count: 4).map(\.piece) == [firstOwn, firstOwn, firstOwn, firstOwn])
    }

    // MARK: - The site's shares

    @Test func everyPieceHasExactlyOneOwnerAndSharesAreFair() {
        let keys = (1...5).map { SiteShare.key(PeerID(bytes: [UInt8](repeating: UInt8($0), count: 20))!) }
        let shares = keys.map { key in SiteShare(pieceCount: 1000, ours: key, others: keys) }
        var owned = [Int](repeating: 0, count: shares.count)
        for piece in 0..<1000 {
            let owners = shares.indices.filter { shares[$0].owns(piece) }
            #expect(owners.count == 1, "piece \(piece): owners \(owners)")
            for owner in owners { owned[owner] += 1 }
        }
        #expect(owned.allSatisfy { (150...250).contains($0) }, "\(owned)")
        #expect(shares.allSatisfy { $0.members == keys.sorted() })
    }

    @Test func theSecondInLineTakesTheOwnersLastPiecesFirst() {
        let a = SiteShare(pieceCount: 400, ours: 101, others: [202])
        let b = SiteShare(pieceCount: 400, ours: 202, others: [101])
        let aOwn = (0..<400).filter(a.owns).sorted { a.rank(ofPiece: $0) < a.rank(ofPiece: $1) }
        let bStealing = (0..<400).filter { !b.owns($0) }.sorted { b.rank(ofPiece: $0) < b.rank(ofPiece: $1) }
        #expect(!aOwn.isEmpty)
        #expect(bStealing == aOwn.reversed(), "B helps A from the end of A's list")
    }

    @Test func leechersOfASiteFetchEachPieceOverTheWANOnce() throws {
        // Four leechers of one site, one WAN seed, a round at a time: each asks the seed for at most two new
        // pieces, the pieces asked for in a round arrive by its end, and every leecher announces them (`have`) to
        // the others, which then take them from the LAN. No coordinator: only the shares and the haves.
        let pieces = 64
        let keys = [UInt8(0xa1), 0xb2, 0xc3, 0xd4].map {
            SiteShare.key(PeerID(bytes: [UInt8](repeating: $0, count: 20))!)
        }
        var pickers = keys.map { key in
            makePicker(pieces: pieces, site: SiteShare(pieceCount: pieces, ours: key, others: keys))
        }
        let seed = 100
        for index in pickers.indices {
            for other in pickers.indices where other != index { pickers[index].addPeer(other, info: Self.lan) }
            pickers[index].addPeer(seed, info: Self.wan)
            pickers[index].peerHasAll(seed)
        }
        var wanFetches = 0
        var rounds = 0
        while !pickers.allSatisfy(\.isComplete) && rounds < 200 {
            rounds += 1
            var arrived: [(Int, Int)] = []
            for index in pickers.indices {
                var fromWAN = Set(pickers[index].nextRequests(for: seed, count: 8).map(\.piece))
                fromWAN.subtract(pickers[index].have.setIndices)
                wanFetches += fromWAN.count
                var fromLAN: Set<Int> = []
                for other in pickers.indices where other != index {
                    fromLAN.formUnion(pickers[index].nextRequests(for: other, count: 10_000).map(\.piece))
                }
                // Whole pieces only: drop the requests and mark what arrived as verified.
                for id in pickers.indices + [seed] where id != index { pickers[index].cancelRequests(id) }
                for piece in fromWAN.union(fromLAN) where !pickers[index].have[piece] {
                    pickers[index].pieceVerified(piece)
                    arrived.append((index, piece))
                }
            }
            for (index, piece) in arrived {
                for other in pickers.indices where other != index { pickers[other].peerHas(index, piece: piece) }
            }
        }
        #expect(pickers.allSatisfy { $0.isComplete }, "not complete after \(rounds) rounds")
        #expect(wanFetches == pieces, "\(wanFetches) WAN piece fetches for \(pieces) pieces")
    }
}
