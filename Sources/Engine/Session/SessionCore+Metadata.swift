import NIOCore
import PeerWire

/// Serving the info dictionary over BEP 9 `ut_metadata`, so magnet links (ours, libtorrent's) can get it from this
/// session: the extended handshake advertises `ut_metadata` and `metadata_size` (and `p`, the port we listen on; a
/// peer that dialled us and names its own marks that address connected), requests are answered with 16 KiB
/// pieces of the torrent's raw info bytes. Only peers the host admitted reach here: on a private torrent with a
/// node key and an allowlist, those are authenticated peers (TLS) unless `--allow-plain-peers`.
extension SessionCore {
    /// The extended message id this side receives `ut_metadata` on.
    static let metadataMessageID: UInt8 = 3

    /// Sends our extended handshake (BEP 10) to a peer that set the extension protocol bit.
    func sendExtendedHandshake(_ c: PeerConnection) {
        let handshake = ExtendedHandshake(
            messages: [MetadataMessage.extensionName: Self.metadataMessageID], client: "swtorrent",
            listenPort: (1...65535).contains(listenPort) ? UInt16(listenPort) : nil,
            metadataSize: torrent.infoBytes.count <= MetadataMessage.maximumMetadataSize
                ? torrent.infoBytes.count : nil)
        c.send(handshake.message(allocator: c.allocator))
    }

    /// An extended message: the peer's extended handshake, or a `ut_metadata` message; other extensions are ignored.
    func extendedMessage(id: UInt8, payload: ByteBuffer, from c: PeerConnection) {
        switch id {
        case 0:
            do {
                let theirs = try ExtendedHandshake(payload: payload)
                c.peerMetadataID = theirs.messages[MetadataMessage.extensionName]
                if c.record.source == .incoming, let port = theirs.listenPort {
                    // The port the peer listens on: its address there is this connection, not one to dial.
                    directory.sameConnection(
                        PeerAddress(host: c.record.address.host, port: Int(port)), as: c.record.address)
                }
            } catch {
                drop(c, "\(error)")
            }
        case Self.metadataMessageID:
            let message: MetadataMessage
            do {
                message = try MetadataMessage(payload: payload)
            } catch {
                return drop(c, "\(error)")
            }
            guard case .request(let piece) = message, let theirID = c.peerMetadataID else { return }
            // Each answer is up to 16 KiB for a 30-byte request: a peer that asks faster than it reads (the
            // connection's write buffer past its high-water mark) is dropped rather than buffered for.
            guard c.isWritable else { return drop(c, "asks for metadata faster than it reads") }
            let info = torrent.infoBytes
            let reply: MetadataMessage
            if info.count <= MetadataMessage.maximumMetadataSize,
                piece < MetadataMessage.pieceCount(size: info.count)
            {
                let start = piece * MetadataMessage.pieceLength
                let end = start + MetadataMessage.pieceSize(piece, size: info.count)
                reply = .data(piece: piece, totalSize: info.count, bytes: Array(info[start..<end]))
            } else {
                reply = .reject(piece: piece)
            }
            c.send(reply.message(id: theirID, allocator: c.allocator))
        default:
            break
        }
    }
}
