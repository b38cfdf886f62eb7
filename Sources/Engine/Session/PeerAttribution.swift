/// Which peers supplied the verified data of each file, in bytes: the per-peer counts the signature gate's audit
/// log records (Docs/signing.md).
///
/// Blocks are noted as they are accepted (one small array of `(peer, begin, length)` per piece in flight); when the
/// piece passes its hash check, each block's bytes are credited to its peer, split across the files the block
/// spans (pad files excluded). A piece that fails the check is forgotten: discarded data is never credited. The
/// totals are bounded by peers × files entries.
///
/// Peers are keyed by the address the connection was made to or came from (``PeerAddress/description``,
/// `ip:port`); a peer that authenticated with a node key (private swarms over TLS) also has its identity
/// (``identities``).
public struct PeerAttribution: Sendable {
    public let layout: StorageLayout
    private var peerIndex: [String: Int32] = [:]
    private var peerNames: [String] = []
    private var pending: [Int: [Block]] = [:]
    /// `totals[file][peer]`, bytes.
    private var totals: [Int: [Int32: Int64]] = [:]
    /// The node key each authenticated peer proved, by peer address (at most one entry per connection admitted).
    public private(set) var identities: [String: PeerIdentity] = [:]

    private struct Block: Sendable {
        var peer: Int32
        var begin: Int32
        var length: Int32
    }

    public init(layout: StorageLayout) {
        self.layout = layout
    }

    /// Notes that the peer at `peer` (its address) authenticated as `identity`.
    public mutating func identify(_ peer: String, as identity: PeerIdentity) {
        identities[peer] = identity
    }

    /// Notes that `peer` delivered `length` bytes at `begin` of `piece` (an accepted block, not a duplicate).
    public mutating func blockAccepted(piece: Int, begin: Int, length: Int, peer: String) {
        let index: Int32
        if let known = peerIndex[peer] {
            index = known
        } else {
            index = Int32(peerNames.count)
            peerIndex[peer] = index
            peerNames.append(peer)
        }
        pending[piece, default: []].append(Block(peer: index, begin: Int32(begin), length: Int32(length)))
    }

    /// The piece passed its hash check: credits each of its blocks to the peer that sent it.
    public mutating func pieceVerified(_ piece: Int) {
        guard let blocks = pending.removeValue(forKey: piece) else { return }
        for block in blocks {
            for span in layout.spans(piece: piece, begin: Int(block.begin), length: Int(block.length))
            where !layout.files[span.file].isPadFile {
                totals[span.file, default: [:]][block.peer, default: 0] += Int64(span.length)
            }
        }
    }

    /// The piece failed its hash check (or is downloaded again): its blocks are not credited.
    public mutating func pieceFailed(_ piece: Int) {
        pending[piece] = nil
    }

    /// Bytes of verified data per file (path joined with `/`) per peer address; files nobody supplied are absent.
    public var suppliedBytes: [String: [String: Int64]] {
        var result: [String: [String: Int64]] = [:]
        for (file, byPeer) in totals {
            var named: [String: Int64] = [:]
            for (peer, bytes) in byPeer { named[peerNames[Int(peer)], default: 0] += bytes }
            result[layout.files[file].displayPath] = named
        }
        return result
    }
}
