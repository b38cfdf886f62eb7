import SwarmPrimitives

/// Which pieces one leecher of a site fetches from WAN peers first, so that the leechers of a site fetch
/// different pieces over the WAN and each piece crosses it about once, with no coordinator.
///
/// Every member (this leecher and the LAN peers it is connected to) is known by a key, a hash of its peer id
/// (``key(_:)``); every member computes the same score for each (member, piece) pair. A piece belongs to the member
/// with the highest score (rendezvous hashing: adding or removing a member moves only that member's pieces). A
/// leecher starts its own pieces first, in descending order of its score. The pieces of a member that stalled
/// (``LANFirstPolicy/stalledMembers``) are taken by the others: first by the one second in line for each, from the
/// owner's last ones (ascending owner score) so that it meets the owner as late as possible; and so on.
/// A view that differs between members (one leecher is not yet connected to another) only costs a few duplicate
/// pieces; the LAN's `have` messages take every piece some LAN peer holds out of the WAN set
/// (``LANFirstPolicy``).
public struct SiteShare: Sendable, Hashable {
    /// This leecher's key.
    public let ours: UInt64
    /// Every member's key, ours included, sorted.
    public let members: [UInt64]
    /// Per piece, the rank ``LANFirstPolicy`` gives it for WAN peers (lower first).
    private let ranks: [Int]
    /// Per piece, its owner's index in ``members``.
    private let owners: [Int32]

    /// - Parameters:
    ///   - pieceCount: the torrent's pieces.
    ///   - ours: this leecher's key (``key(_:)`` of its peer id).
    ///   - others: the keys of the site's other leechers it knows (duplicates and `ours` are ignored).
    public init(pieceCount: Int, ours: UInt64, others: [UInt64]) {
        self.ours = ours
        let members = Set(others + [ours]).sorted()
        self.members = members
        var ranks = [Int](repeating: 0, count: pieceCount)
        var owners = [Int32](repeating: 0, count: pieceCount)
        for piece in 0..<pieceCount {
            let ourScore = Self.score(ours, piece)
            var position = 0
            var best = ourScore
            var owner = members.firstIndex(of: ours)!
            for (index, member) in members.enumerated() where member != ours {
                let score = Self.score(member, piece)
                if score > ourScore { position += 1 }
                if score > best {
                    best = score
                    owner = index
                }
            }
            owners[piece] = Int32(owner)
            // 32 bits of order below the position: own pieces by descending score, others' by ascending owner score.
            let order = position == 0 ? (UInt64.max - ourScore) >> 32 : best >> 32
            ranks[piece] = position << 32 | Int(order)
        }
        self.ranks = ranks
        self.owners = owners
    }

    /// The rank of `piece` for this leecher: its position among the members (0: it owns the piece) in the high
    /// bits, the order within that position in the low 32 bits.
    public func rank(ofPiece piece: Int) -> Int { ranks[piece] }

    /// Whether this leecher owns `piece` (fetches it from the WAN before any other).
    public func owns(_ piece: Int) -> Bool { ranks[piece] >> 32 == 0 }

    /// The key of the member that owns `piece`.
    public func owner(ofPiece piece: Int) -> UInt64 { members[Int(owners[piece])] }

    /// A member's key: FNV-1a over its peer id's 20 bytes (ids are random, so any fair hash will do).
    public static func key(_ peerID: PeerID) -> UInt64 {
        peerID.withUnsafeBytes { bytes in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in bytes {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01b3
            }
            return hash
        }
    }

    /// The score of (`member`, `piece`): SplitMix64's finaliser over the key mixed with the mixed piece index.
    static func score(_ member: UInt64, _ piece: Int) -> UInt64 {
        mix(member ^ mix(UInt64(truncatingIfNeeded: piece) &+ 0x9e37_79b9_7f4a_7c15))
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
