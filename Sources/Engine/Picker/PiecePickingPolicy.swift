/// What a picking policy may know about the peer it picks for.
public struct PickerPeerInfo: Sendable, Hashable {
    public var source: PeerSource
    public var locality: PeerLocality

    public init(source: PeerSource = .tracker, locality: PeerLocality = .unknown) {
        self.source = source
        self.locality = locality
    }
}

/// A piece a policy may rank: one the peer has and we lack, not yet started.
public struct PieceCandidate: Sendable, Hashable {
    public var piece: Int
    /// How many connected peers have it.
    public var availability: Int
    /// How many of those are LAN peers (``PeerLocality/lan``).
    public var lanAvailability: Int
    /// How many of those LAN peers can serve it now (``PiecePicker/setServing(_:_:)``: not choking us, or not for
    /// long, and not snubbed).
    public var lanServing: Int

    public init(piece: Int, availability: Int, lanAvailability: Int = 0, lanServing: Int? = nil) {
        self.piece = piece
        self.availability = availability
        self.lanAvailability = lanAvailability
        self.lanServing = lanServing ?? lanAvailability
    }
}

/// The seam for piece selection: which new piece to start with a peer. The picker still finishes partial pieces
/// first, handles blocks, random first pieces and end game; the policy only ranks pieces to start.
///
/// LAN-first selection (``LANFirstPolicy``) plugs in here: it sees the peer's ``PickerPeerInfo/locality`` and how
/// many LAN peers hold each piece and can serve it (``PieceCandidate/lanServing``), and excludes for WAN peers the
/// pieces some LAN peer can serve.
public protocol PiecePickingPolicy: Sendable {
    /// The rank of starting `candidate.piece` with `peer`: lower ranks are started first, ties are broken at
    /// random, and nil means "not from this peer".
    ///
    /// - Parameters:
    ///   - candidate: the piece, and how many peers (and LAN peers) have it.
    ///   - peer: the peer we would request it from.
    func rank(_ candidate: PieceCandidate, peer: PickerPeerInfo) -> Int?

    /// Whether the picker may start this peer's first pieces at random (``PiecePicker/randomFirstPieces``)
    /// rather than in this policy's order; pieces the policy excludes for the peer are never started. Default: yes.
    func allowsRandomStart(peer: PickerPeerInfo) -> Bool

    /// Whether this peer may be asked, in end game, for blocks already outstanding with another peer. Default: yes.
    func allowsEndGameCopies(peer: PickerPeerInfo) -> Bool
}

extension PiecePickingPolicy {
    public func allowsRandomStart(peer: PickerPeerInfo) -> Bool { true }

    public func allowsEndGameCopies(peer: PickerPeerInfo) -> Bool { true }
}

/// Rarest first (BEP 3's recommendation, as every mainstream client does): the piece fewest peers have.
public struct RarestFirstPolicy: PiecePickingPolicy {
    public init() {}

    public func rank(_ candidate: PieceCandidate, peer: PickerPeerInfo) -> Int? { candidate.availability }
}
