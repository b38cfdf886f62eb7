import PeerWire
import SwarmPrimitives

/// Chooses which blocks to request from which peer.
///
/// - Partial pieces are finished before new ones are started, so pieces complete (and can be verified and
///   shared) quickly.
/// - The first ``randomFirstPieces`` pieces are chosen at random among those available (and not excluded by the
///   policy, where it allows random starts), so a new leecher soon has something to trade; after that the
///   ``PiecePickingPolicy`` ranks pieces (rarest first by default, ``LANFirstPolicy`` for LAN-first), ties broken
///   at random. The policy also decides which partial pieces and end-game blocks a peer may be asked for.
/// - In order among seeds (``inOrderWhenOnlySeeds``): while every connected peer is a seed, there is no one to trade
///   with, so random first pieces are skipped and ties go to the lowest piece index: pieces complete front to back,
///   and the gated leech's streaming SHA-256 follows the download from memory.
/// - Blocks are ``blockSize`` bytes (16 KiB, what every client serves).
/// - End game: once every missing block is requested, blocks already requested from one peer may be requested
///   from one more (``endGameDuplicates``); when a block arrives, the other requests for it are returned so the
///   caller can send `cancel`.
///
/// Peers are identified by an `Int` the caller chooses. Not thread-safe: owned by one session.
public struct PiecePicker {
    public let pieceCount: Int
    public let pieceLength: Int
    public let totalLength: Int64
    public let blockSize: Int
    /// Pieces we have and verified.
    public private(set) var have: Bitfield
    /// How many of the first pieces are picked at random rather than by the policy.
    public var randomFirstPieces = 4
    /// In end game, how many peers at most may have the same block outstanding.
    public var endGameDuplicates = 2
    /// Start pieces in order (lowest index among those the policy ranks equal, no random first pieces) while every
    /// connected peer is a seed; with any other leecher connected, ties are random so leechers fetch different pieces.
    public var inOrderWhenOnlySeeds = true
    public var policy: any PiecePickingPolicy

    private var availability: [Int32]
    /// Per piece, how many connected LAN peers have it (a subset of `availability`).
    private var lanAvailability: [Int32]
    /// Per piece, how many of those LAN peers can serve it now (``setServing(_:_:)``).
    private var lanServing: [Int32]
    /// Pieces started: partially requested/received, or complete and waiting for verification.
    private var started: Bitfield
    private var partial: [Int: PartialPiece] = [:]
    /// Complete pieces awaiting the hash check, with the peers that sent their blocks.
    private var pending: [Int: Set<Int>] = [:]
    private var peers: [Int: PeerState] = [:]
    private var generator: any RandomNumberGenerator

    struct PartialPiece {
        var requested: [UInt8]
        var received: [Bool]
        var receivedCount = 0
        /// Blocks neither received nor requested from anyone.
        var unrequested: Int
        var contributors: Set<Int> = []

        init(blocks: Int) {
            requested = [UInt8](repeating: 0, count: blocks)
            received = [Bool](repeating: false, count: blocks)
            unrequested = blocks
        }
    }

    struct PeerState {
        var has: Bitfield
        var info: PickerPeerInfo
        var outstanding: Set<BlockRequest> = []
        /// The peer can serve us now (``setServing(_:_:)``); a new peer is given the benefit of the doubt.
        var serving = true

        /// Whether its pieces count in `lanServing`.
        var servesTheLAN: Bool { info.locality == .lan && serving }
    }

    /// - Parameters:
    ///   - have: pieces already on disk and verified.
    public init(
        pieceCount: Int, pieceLength: Int, totalLength: Int64, have: Bitfield? = nil, blockSize: Int = 16 << 10,
        policy: any PiecePickingPolicy = RarestFirstPolicy(),
        generator: any RandomNumberGenerator = FastRandom()
    ) {
        precondition(pieceCount > 0 && pieceLength > 0 && blockSize > 0)
        self.pieceCount = pieceCount
        self.pieceLength = pieceLength
        self.totalLength = totalLength
        self.blockSize = blockSize
        self.policy = policy
        self.generator = generator
        self.have = have ?? Bitfield(count: pieceCount)
        self.started = Bitfield(count: pieceCount)
        self.availability = [Int32](repeating: 0, count: pieceCount)
        self.lanAvailability = [Int32](repeating: 0, count: pieceCount)
        self.lanServing = [Int32](repeating: 0, count: pieceCount)
    }

    // MARK: - Geometry

    /// The size of `piece` in bytes (the last piece may be shorter).
    public func size(ofPiece piece: Int) -> Int {
        if piece == pieceCount - 1 {
            let rest = Int(totalLength - Int64(pieceLength) * Int64(pieceCount - 1))
            return rest
        }
        return pieceLength
    }

    public func blockCount(ofPiece piece: Int) -> Int { (size(ofPiece: piece) + blockSize - 1) / blockSize }

    func block(_ piece: Int, _ index: Int) -> BlockRequest {
        let offset = index * blockSize
        return BlockRequest(piece: piece, begin: offset, length: min(blockSize, size(ofPiece: piece) - offset))
    }

    /// Whether every piece is verified.
    public var isComplete: Bool { have.isComplete }

    /// Bytes of verified pieces.
    public var verifiedBytes: Int64 {
        var total = Int64(have.setCount) * Int64(pieceLength)
        if have[pieceCount - 1] { total -= Int64(pieceLength - size(ofPiece: pieceCount - 1)) }
        return total
    }

    /// Whether no block of any missing piece is left unrequested (end game).
    public var inEndGame: Bool {
        // `have` and `started` never overlap: a piece leaves `started` when it is verified.
        started.setCount + have.setCount == pieceCount && partial.values.allSatisfy { $0.unrequested == 0 }
    }

    /// How many connected peers have `piece`.
    public func availability(ofPiece piece: Int) -> Int { Int(availability[piece]) }

    /// How many connected LAN peers (``PeerLocality/lan``) have `piece`.
    public func lanAvailability(ofPiece piece: Int) -> Int { Int(lanAvailability[piece]) }

    /// How many connected LAN peers have `piece` and can serve it now (``setServing(_:_:)``).
    public func lanServing(ofPiece piece: Int) -> Int { Int(lanServing[piece]) }

    // MARK: - Peers

    /// Registers a peer with what it has so far.
    public mutating func addPeer(_ id: Int, info: PickerPeerInfo = PickerPeerInfo()) {
        peers[id] = PeerState(has: Bitfield(count: pieceCount), info: info)
    }

    /// Forgets a peer: its pieces no longer count as available and its outstanding requests are released.
    public mutating func removePeer(_ id: Int) {
        guard let state = peers.removeValue(forKey: id) else { return }
        for piece in state.has.setIndices { availability[piece] -= 1 }
        if state.info.locality == .lan {
            for piece in state.has.setIndices { lanAvailability[piece] -= 1 }
        }
        if state.servesTheLAN {
            for piece in state.has.setIndices { lanServing[piece] -= 1 }
        }
        for request in state.outstanding { release(request) }
    }

    /// Whether a peer can serve us now: the session says so when it changes (a LAN peer that chokes us for long or
    /// is snubbed cannot). It decides ``lanServing(ofPiece:)``, which LAN-first selection (``LANFirstPolicy``) uses
    /// to keep WAN peers off pieces the LAN can give. A new peer can serve until told otherwise.
    public mutating func setServing(_ id: Int, _ serving: Bool) {
        guard var state = peers[id], state.serving != serving else { return }
        state.serving = serving
        peers[id] = state
        guard state.info.locality == .lan else { return }
        for piece in state.has.setIndices { lanServing[piece] += serving ? 1 : -1 }
    }

    /// The peer announced `piece` (`have`). Returns whether it is a piece we still want.
    @discardableResult
    public mutating func peerHas(_ id: Int, piece: Int) -> Bool {
        guard piece >= 0 && piece < pieceCount, peers[id] != nil else { return false }
        if peers[id]!.has.insert(piece) {
            availability[piece] += 1
            if peers[id]!.info.locality == .lan { lanAvailability[piece] += 1 }
            if peers[id]!.servesTheLAN { lanServing[piece] += 1 }
        }
        return !have[piece]
    }

    /// The peer's bitfield: every piece in it counts as available.
    public mutating func peerHas(_ id: Int, bitfield: Bitfield) {
        guard bitfield.count == pieceCount else { return }
        for piece in bitfield.setIndices { peerHas(id, piece: piece) }
    }

    /// The source no longer has these pieces (a mirror that lacks a file): they stop counting as available from it
    /// (on the LAN too), and it is not asked for them again. Requests it has outstanding for them stay with it until
    /// the caller gives them back (``cancelRequests(_:_:)``).
    public mutating func peerLacks(_ id: Int, pieces: Range<Int>) {
        guard var state = peers[id] else { return }
        for piece in pieces.clamped(to: 0..<pieceCount) where state.has.remove(piece) {
            availability[piece] -= 1
            if state.info.locality == .lan { lanAvailability[piece] -= 1 }
            if state.servesTheLAN { lanServing[piece] -= 1 }
        }
        peers[id] = state
    }

    /// Whether the peer has every piece.
    public func peerIsSeed(_ id: Int) -> Bool { peers[id]?.has.isComplete ?? false }

    /// The peer has every piece (`have all` or a full bitfield).
    public mutating func peerHasAll(_ id: Int) {
        for piece in 0..<pieceCount { peerHas(id, piece: piece) }
    }

    /// Whether the peer has any piece we lack.
    public func isInteresting(_ id: Int) -> Bool {
        guard let state = peers[id] else { return false }
        if state.has.isComplete { return !have.isComplete }
        for piece in 0..<pieceCount where state.has[piece] && !have[piece] { return true }
        return false
    }

    /// The blocks currently requested from a peer.
    public func outstanding(_ id: Int) -> Set<BlockRequest> { peers[id]?.outstanding ?? [] }

    /// The peer will not serve these (choke without the fast extension, reject, timeout): they become requestable
    /// again.
    public mutating func cancelRequests(_ id: Int, _ requests: [BlockRequest]? = nil) {
        guard var state = peers[id] else { return }
        let dropped = requests.map { Set($0).intersection(state.outstanding) } ?? state.outstanding
        state.outstanding.subtract(dropped)
        peers[id] = state
        for request in dropped { release(request) }
    }

    /// Takes back the peer's outstanding requests (for `piece` only, if given) for pieces the policy now excludes
    /// for it (LAN-first: the site's shares changed, or the LAN can serve the piece): they become requestable
    /// again; the caller sends `cancel`.
    public mutating func withdrawExcluded(from id: Int, piece: Int? = nil) -> [BlockRequest] {
        guard let state = peers[id], !state.outstanding.isEmpty else { return [] }
        var verdicts: [Int: Bool] = [:]
        let excluded = state.outstanding.filter { request in
            if let piece, request.piece != piece { return false }
            if let verdict = verdicts[request.piece] { return verdict }
            let verdict = policy.rank(candidate(request.piece), peer: state.info) == nil
            verdicts[request.piece] = verdict
            return verdict
        }
        if !excluded.isEmpty { cancelRequests(id, Array(excluded)) }
        return Array(excluded)
    }

    private mutating func release(_ request: BlockRequest) {
        let index = request.begin / blockSize
        guard var piece = partial[request.piece], piece.requested[index] > 0 else { return }
        piece.requested[index] -= 1
        if piece.requested[index] == 0 && !piece.received[index] { piece.unrequested += 1 }
        partial[request.piece] = piece
    }

    // MARK: - Picking

    /// Up to `count` new block requests for a peer; they are recorded as outstanding for it.
    public mutating func nextRequests(for id: Int, count: Int) -> [BlockRequest] {
        guard count > 0, var state = peers[id], !state.has.isEmpty else { return [] }
        var result: [BlockRequest] = []
        // 1. Finish partial pieces this peer has (unless the policy excludes them for it).
        for (piece, var progress) in partial where progress.unrequested > 0 && state.has[piece] {
            guard policy.rank(candidate(piece), peer: state.info) != nil else { continue }
            take(piece, &progress, &state, &result, count: count, duplicates: false)
            partial[piece] = progress
            if result.count >= count { break }
        }
        // 2. Start new pieces.
        while result.count < count, let piece = pickNewPiece(for: state) {
            var progress = PartialPiece(blocks: blockCount(ofPiece: piece))
            started.insert(piece)
            take(piece, &progress, &state, &result, count: count, duplicates: false)
            partial[piece] = progress
        }
        // 3. End game: duplicate requests for blocks others are slow to deliver (not of pieces the policy excludes).
        if result.count < count && inEndGame && policy.allowsEndGameCopies(peer: state.info) {
            for (piece, var progress) in partial where state.has[piece] && progress.receivedCount < progress.received.count {
                guard policy.rank(candidate(piece), peer: state.info) != nil else { continue }
                take(piece, &progress, &state, &result, count: count, duplicates: true)
                partial[piece] = progress
                if result.count >= count { break }
            }
        }
        peers[id] = state
        return result
    }

    private func take(
        _ piece: Int, _ progress: inout PartialPiece, _ state: inout PeerState, _ result: inout [BlockRequest],
        count: Int, duplicates: Bool
    ) {
        for index in progress.received.indices where result.count < count {
            if progress.received[index] { continue }
            let request = block(piece, index)
            if duplicates {
                guard progress.requested[index] < endGameDuplicates, !state.outstanding.contains(request) else {
                    continue
                }
            } else if progress.requested[index] > 0 {
                continue
            }
            if progress.requested[index] == 0 { progress.unrequested -= 1 }
            progress.requested[index] += 1
            state.outstanding.insert(request)
            result.append(request)
        }
    }

    private func candidate(_ piece: Int) -> PieceCandidate {
        PieceCandidate(
            piece: piece, availability: Int(availability[piece]), lanAvailability: Int(lanAvailability[piece]),
            lanServing: Int(lanServing[piece]))
    }

    /// A uniform draw from `0..<bound` (`bound > 0`): the high word of `bound` × one 64-bit value (Lemire's
    /// multiply-shift; the bias, under `bound` / 2⁶⁴, is nothing for tie-breaking). `Int.random(in:using:)` through
    /// the existential generator ran unspecialized generic code (metadata look-ups for every draw): about half of
    /// `nextRequests`' time when every piece ties.
    private mutating func draw(below bound: Int) -> Int {
        Int(truncatingIfNeeded: UInt64(bound).multipliedFullWidth(by: generator.next()).high)
    }

    private mutating func pickNewPiece(for state: PeerState) -> Int? {
        var best: Int?
        var bestRank = Int.max
        var ties = 0
        let inOrder = inOrderWhenOnlySeeds && peers.values.allSatisfy { $0.has.isComplete }
        let random = !inOrder && have.setCount < randomFirstPieces && policy.allowsRandomStart(peer: state.info)
        for piece in 0..<pieceCount where state.has[piece] && !have[piece] && !started[piece] {
            // Random first pieces still leave out the pieces the policy excludes for this peer.
            guard let r = policy.rank(candidate(piece), peer: state.info) else { continue }
            let rank = random ? 0 : r
            if rank < bestRank {
                best = piece
                bestRank = rank
                ties = 1
            } else if rank == bestRank && !inOrder {
                // Reservoir sampling: each tied piece is chosen with equal probability.
                ties += 1
                if draw(below: ties) == 0 { best = piece }
            }
        }
        return best
    }

    // MARK: - Arrivals and verification

    /// What a block's arrival means to the caller.
    public struct Arrival: Sendable, Hashable {
        /// The block was wanted and is now recorded; write it to disk.
        public var accepted: Bool
        /// Every block of the piece has now arrived: hash-check it, then call ``pieceVerified(_:)`` or
        /// ``pieceFailed(_:)``.
        public var pieceComplete: Bool
        /// Other peers that had the same block outstanding (end game): send them `cancel`.
        public var cancels: [Cancel]
    }

    /// A request to withdraw from a peer.
    public struct Cancel: Sendable, Hashable {
        public var peer: Int
        public var request: BlockRequest
    }

    /// A block arrived from a peer.
    public mutating func blockReceived(from id: Int, _ request: BlockRequest) -> Arrival {
        var arrival = Arrival(accepted: false, pieceComplete: false, cancels: [])
        if peers[id]?.outstanding.remove(request) == nil {
            // Unrequested data (or a block we cancelled) is not trusted into a piece.
            return arrival
        }
        let index = request.begin / blockSize
        guard var progress = partial[request.piece], !progress.received[index] else {
            // Arrived twice in end game: the first copy won.
            release(request)
            return arrival
        }
        progress.requested[index] -= 1
        progress.received[index] = true
        progress.receivedCount += 1
        progress.contributors.insert(id)
        arrival.accepted = true
        if progress.requested[index] > 0 {
            for (other, state) in peers where other != id && state.outstanding.contains(request) {
                peers[other]!.outstanding.remove(request)
                arrival.cancels.append(Cancel(peer: other, request: request))
            }
            progress.requested[index] = 0
        }
        if progress.receivedCount == progress.received.count {
            partial[request.piece] = nil
            pending[request.piece] = progress.contributors
            arrival.pieceComplete = true
        } else {
            partial[request.piece] = progress
        }
        return arrival
    }

    /// The piece passed its hash check and is on disk.
    public mutating func pieceVerified(_ piece: Int) {
        pending[piece] = nil
        partial[piece] = nil
        started.remove(piece)
        have.insert(piece)
    }

    /// The piece failed its hash check: it will be downloaded again. Returns the peers that sent its blocks.
    @discardableResult
    public mutating func pieceFailed(_ piece: Int) -> Set<Int> {
        let contributors = pending.removeValue(forKey: piece) ?? partial[piece]?.contributors ?? []
        partial[piece] = nil
        started.remove(piece)
        return contributors
    }
}
