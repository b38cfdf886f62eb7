/// LAN-first piece selection (issue 11 item 3; `--no-lan-first` turns it off): pieces some LAN peer has come from
/// LAN peers; WAN peers are asked only for the rest, and the leechers of a site spread those over different pieces.
///
/// - **LAN peers** (``PeerLocality/lan``) are ranked rarest first, as ``RarestFirstPolicy`` does.
/// - **WAN peers** (and peers of unknown locality) are never asked for a piece that some LAN peer has and can serve
///   (``PieceCandidate/lanServing``: it is not choking us, or has not for long, and is not snubbed).
/// - The pieces left for WAN peers are shared among the site's leechers (``site``, a ``SiteShare``): a leecher asks
///   WAN peers for its own share only, so a piece crosses the WAN about once, and for another member's share only
///   once that member stalled (``stalledMembers``: no progress on its share for a while, `siteShareGrace`), from
///   the end of its list. Alone, its share is every piece, in an order of its own (two leechers that have not
///   found each other yet start on different pieces). WAN peers get no end-game copies: a block outstanding with
///   one WAN peer is not asked of another (each copy would cross the WAN); a stuck one comes back when its peer is
///   snubbed.
/// - **Never starve** (Kraken issue #244): a piece LAN peers hold but none of them can serve (they all choke us,
///   or are snubbed) is asked of WAN peers after every piece no LAN peer has; a site with no copy downloads from the
///   WAN at full speed, since every piece is then a WAN piece.
public struct LANFirstPolicy: PiecePickingPolicy {
    /// How this leecher shares the WAN pieces with the site's other leechers.
    public var site: SiteShare
    /// Members of ``site`` (by key) whose share the others may fetch from the WAN: they stalled on it.
    public var stalledMembers: Set<UInt64>

    public init(site: SiteShare, stalledMembers: Set<UInt64> = []) {
        self.site = site
        self.stalledMembers = stalledMembers
    }

    /// Added to the rank of a piece LAN peers hold but cannot serve now: after every other piece.
    static let heldOnTheLAN = 1 << 62

    public func rank(_ candidate: PieceCandidate, peer: PickerPeerInfo) -> Int? {
        if peer.locality == .lan { return candidate.availability }
        if candidate.lanServing > 0 { return nil }
        let rank = site.rank(ofPiece: candidate.piece)
        if candidate.lanAvailability > 0 { return Self.heldOnTheLAN + rank }
        let owner = site.owner(ofPiece: candidate.piece)
        return owner == site.ours || stalledMembers.contains(owner) ? rank : nil
    }

    /// Random first pieces would break the site's shares: WAN peers start in ``site`` order.
    public func allowsRandomStart(peer: PickerPeerInfo) -> Bool { peer.locality == .lan }

    public func allowsEndGameCopies(peer: PickerPeerInfo) -> Bool { peer.locality == .lan }
}
