import PeerWire

/// Where blocks come from, as the picker and the write path see it: a peer connection today
/// (`PeerConnection+BlockSource.swift`), an HTTP mirror next. The picker knows a source only by ``sourceID``;
/// everything else goes through this protocol (session → source) or through ``PiecePicker`` (source → session):
///
/// 1. **Join.** `PiecePicker.addSource(_:)` registers it with its ``pickerInfo``; what it holds is reported with
///    `peerHas(_:piece:)`, `peerHas(_:bitfield:)` or `peerHasAll(_:)` (a mirror has every piece).
/// 2. **Ask.** `PiecePicker.nextRequests(for: sourceID, count:)` picks blocks and records them as outstanding with
///    the source; ``requestBlocks(_:)`` sends them.
/// 3. **Deliver.** Each block that arrives is recorded with `PiecePicker.blockReceived(from: sourceID, _:)` and, if
///    accepted, written; a complete piece is hash-checked. End-game copies of the block outstanding with other
///    sources come back in the arrival's `cancels`: withdraw them with ``cancelBlock(_:)``.
/// 4. **Refuse, fail.** Blocks the source will not deliver (a choke, a `reject request`, a timeout, an HTTP error)
///    go back with `PiecePicker.cancelRequests(_:_:)`; a source that is gone leaves with `PiecePicker.removePeer(_:)`.
/// 5. **Bad data.** A piece that fails its hash check is downloaded again; `PiecePicker.pieceFailed(_:)` names the
///    sources that sent its blocks, and the session decides what that costs them (a peer is banned after three).
///
/// Sources live on the session's event loop, like the picker: not thread-safe.
public protocol BlockSource: AnyObject {
    /// The id the picker knows the source by (unique in the session).
    var sourceID: Int { get }
    /// What a picking policy may know about the source.
    var pickerInfo: PickerPeerInfo { get }
    /// Asks the source for these blocks (as picked); each arrives later, or is refused.
    func requestBlocks(_ requests: [BlockRequest])
    /// Withdraws a request: another source delivered the block first.
    func cancelBlock(_ request: BlockRequest)
}

extension PiecePicker {
    /// Registers a source of blocks (see ``BlockSource``); it holds no pieces until told.
    public mutating func addSource(_ source: any BlockSource) {
        addPeer(source.sourceID, info: source.pickerInfo)
    }

    /// Picks up to `count` blocks for `source` and asks it for them. Returns how many were asked for.
    @discardableResult
    public mutating func request(_ count: Int, from source: any BlockSource) -> Int {
        let requests = nextRequests(for: source.sourceID, count: count)
        if !requests.isEmpty { source.requestBlocks(requests) }
        return requests.count
    }
}
