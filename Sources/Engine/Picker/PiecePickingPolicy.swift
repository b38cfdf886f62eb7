/// What a picking policy may know about the peer it picks for.
public struct PickerPeerInfo: Sendable, Hashable {
    public var source: PeerSource
    public var locality: PeerLocality

    public init(source: PeerSource = .tracker, locality: PeerLocality = .unknown) {
        self.source = source
        self.locality = locality
    }
}

/// The seam for piece selection: which new piece to start with a peer. The picker still finishes partial pieces
/// first, handles blocks, random first pieces and end game; the policy only ranks pieces to start.
///
/// LAN-first selection plugs in here: it can exclude pieces for WAN peers that some LAN peer has.
public protocol PiecePickingPolicy: Sendable {
    /// The rank of starting `piece` with `peer`: lower ranks are started first, ties are broken at random, and
    /// nil means "not from this peer".
    ///
    /// - Parameters:
    ///   - piece: a piece the peer has and we lack, not yet started.
    ///   - availability: how many connected peers have it.
    ///   - peer: the peer we would request it from.
    func rank(piece: Int, availability: Int, peer: PickerPeerInfo) -> Int?
}

/// Rarest first (BEP 3's recommendation, as every mainstream client does): the piece fewest peers have.
public struct RarestFirstPolicy: PiecePickingPolicy {
    public init() {}

    public func rank(piece: Int, availability: Int, peer: PickerPeerInfo) -> Int? { availability }
}
