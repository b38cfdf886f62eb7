import NIOCore
import PeerWire

/// Dispatch of peer messages: interest, requests out (paced by the rate limits and the disk), blocks in.
extension SessionCore {
    func received(_ message: PeerMessage, from c: PeerConnection) {
        guard isRunning, !c.closed else { return }
        switch message {
        case .keepAlive, .port, .suggest, .allowedFast:
            break
        case .extended(let id, let payload):
            // A peer that did not set the extension protocol bit gets no answer (as before BEP 9 support).
            guard c.extensions else { return }
            extendedMessage(id: id, payload: payload, from: c)
        case .choke:
            if !c.peerChoking { c.chokedSince = now() }
            c.peerChoking = true
            picker.cancelRequests(c.id)
        case .unchoke:
            c.peerChoking = false
            c.lastBlockAt = now()
            updateServing(c, at: c.lastBlockAt)
            requestMore(c)
        case .interested:
            c.peerInterested = true
            if c.amChoking && unchokedCount < configuration.uploadSlots + 1 {
                c.amChoking = false
                c.send(.unchoke)
            }
        case .notInterested:
            c.peerInterested = false
        case .have(let piece):
            picker.peerHas(c.id, piece: piece)
            if c.record.locality == .lan { lanPeerHas(piece, c) }
            updateInterest(c)
        case .bitfield(let bits):
            // BEP 3 wants it first; aria2 sends it after `have none`. Merging a late one is harmless.
            picker.peerHas(c.id, bitfield: bits)
            if c.record.locality == .lan { withdrawFromWANPeers() }
            updateInterest(c)
        case .haveAll:
            guard c.fast else { return drop(c, "have all without the fast extension") }
            picker.peerHasAll(c.id)
            if c.record.locality == .lan { withdrawFromWANPeers() }
            updateInterest(c)
        case .haveNone:
            guard c.fast else { return drop(c, "have none without the fast extension") }
        case .request(let request):
            peerRequested(request, c)
        case .cancel(let request):
            c.removeUpload(request)
        case .rejectRequest(let request):
            guard c.fast else { return drop(c, "reject without the fast extension") }
            picker.cancelRequests(c.id, [request])
        case .piece(let piece, let begin, let block):
            blockArrived(piece: piece, begin: begin, block: block, from: c)
        }
        if picker.isComplete && c.peerInterested == false && picker.peerIsSeed(c.id) {
            // Two seeds have nothing to say to each other.
            c.close()
        }
    }

    func readComplete(_ c: PeerConnection) {
        if c.pendingUploads > 0 { pumpUploads(c) }
        c.flush()
    }

    func updateInterest(_ c: PeerConnection) {
        let interesting = picker.isInteresting(c.id)
        if interesting && !c.amInterested {
            c.amInterested = true
            c.send(.interested)
        } else if !interesting && c.amInterested {
            c.amInterested = false
            c.send(.notInterested)
        }
        if !c.peerChoking { requestMore(c) }
    }

    func requestMore(_ c: PeerConnection) {
        guard case .downloading = state, !c.peerChoking, c.amInterested, !c.closed,
            host.writesAllowRequests(for: self)
        else { return }
        let outstanding = picker.outstanding(c.id).count
        let depth = c.snubbed ? 4 : c.pipeline.depth
        let room = depth - outstanding
        // Refill in batches so requests go out in large writes.
        guard room >= max(1, min(16, depth / 4)) || outstanding == 0 else { return }
        guard paceDownload(room * picker.blockSize) else { return }
        picker.request(room, from: c)
    }

    /// Takes `bytes` about to be requested from the download rate limits (the session's and its share of the
    /// node's). When they are spent, a refill that asks every source again is scheduled; while one is, returns false
    /// (ask for nothing now).
    func paceDownload(_ bytes: Int) -> Bool {
        guard downloadBucket.rate != nil || hostDownloadBucket.rate != nil else { return true }
        guard !refillScheduled else { return false }
        let wait = max(downloadBucket.take(bytes, at: now()), hostDownloadBucket.take(bytes, at: now()))
        if wait > 0 {
            refillScheduled = true
            loop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(wait * 1000) + 1)) {
                self.refillScheduled = false
                self.requestMoreEverywhere()
            }
        }
        return true
    }

    /// Tops up requests with every peer and mirror.
    func requestMoreEverywhere() {
        for c in connections.values { requestMore(c) }
        requestFromMirrors()
        flushAll()
    }

    func blockArrived(piece: Int, begin: Int, block: ByteBuffer, from c: PeerConnection) {
        let request = BlockRequest(piece: piece, begin: begin, length: block.readableBytes)
        let arrival = picker.blockReceived(from: c.id, request)
        let t = now()
        c.lastBlockAt = t
        if c.snubbed {
            c.snubbed = false
            updateServing(c, at: t)
        }
        c.pipeline.received(block.readableBytes, at: t)
        guard arrival.accepted else { return }
        c.rateWindowBytes += Int64(block.readableBytes)
        accept(request, block, arrival, source: c.attributionKey)
        requestMore(c)
    }

    /// An accepted block, whatever its source (``BlockSource``): counted, credited to `source` once its piece
    /// verifies, withdrawn from the other sources that had it outstanding, gathered into its piece's buffer (or
    /// written at once), and the complete piece written and hash-checked.
    func accept(_ request: BlockRequest, _ block: ByteBuffer, _ arrival: PiecePicker.Arrival, source: String) {
        let (piece, begin) = (request.piece, request.begin)
        downloaded += Int64(block.readableBytes)
        attribution.blockAccepted(piece: piece, begin: begin, length: block.readableBytes, peer: source)
        for cancel in arrival.cancels {
            if let c = connections[cancel.peer] {
                c.cancelBlock(cancel.request)
            } else {
                mirrors[cancel.peer]?.cancelBlock(cancel.request)
            }
        }
        // Blocks are gathered into one buffer per piece (one copy, out of the receive buffer at once); the complete
        // piece is hashed in memory and written in one write (`writeVerified`). When too much is buffered already,
        // blocks are written one by one and the piece is read back for its hash check.
        if var assembly = pieceBuffers.filling.removeValue(forKey: piece) {
            assembly.buffer.setBuffer(block, at: assembly.base + begin)
            pieceBuffers.filling[piece] = assembly
        } else if !pieceBuffers.direct.contains(piece) {
            if var assembly = takeBuffer() {
                assembly.buffer.setBuffer(block, at: assembly.base + begin)
                pieceBuffers.filling[piece] = assembly
            } else {
                pieceBuffers.direct.insert(piece)
            }
        }
        if pieceBuffers.direct.contains(piece) {
            // Copied out of the receive buffer: a 16 KiB slice waiting for the disk would keep the whole (up to 1 MiB)
            // read alive.
            var own = ByteBufferAllocator().buffer(capacity: block.readableBytes)
            own.writeImmutableBuffer(block)
            write(piece: piece, begin: begin, own)
        }
        if arrival.pieceComplete {
            pieceBuffers.direct.remove(piece)
            if var assembly = pieceBuffers.filling.removeValue(forKey: piece) {
                assembly.buffer.moveReaderIndex(to: 0)
                assembly.buffer.moveWriterIndex(to: assembly.base + picker.size(ofPiece: piece))
                assembly.buffer.moveReaderIndex(to: assembly.base)
                writeVerified(piece: piece, assembly.buffer)
            } else if writesInFlight[piece, default: 0] == 0 {
                verify(piece)
            } else {
                awaitingVerification.insert(piece)
            }
        }
    }
}
