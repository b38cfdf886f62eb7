import NIOCore
import PeerWire

/// Uploads: requests queued per connection, served in batches from cached pieces or pooled disk reads.
extension SessionCore {
    func peerRequested(_ request: BlockRequest, _ c: PeerConnection) {
        guard picker.have[request.piece] else {
            if c.fast { c.send(.rejectRequest(request)) }
            return
        }
        guard !c.amChoking else {
            if c.fast { c.send(.rejectRequest(request)) }
            return
        }
        guard c.pendingUploads < configuration.maxQueuedRequestsPerPeer else {
            return drop(c, "more than \(configuration.maxQueuedRequestsPerPeer) requests queued")
        }
        // Served when this read from the socket is done (`readComplete`), so the requests that arrived together
        // are batched into few, large disk reads.
        c.uploadQueue.append(request)
    }

    func pumpUploads(_ c: PeerConnection) {
        while !c.closed, c.readsInFlight < configuration.readsInFlightPerPeer,
            c.readBytesInFlight < configuration.readBytesInFlightPerPeer, c.isWritable, let first = c.popUpload()
        {
            // Requests for consecutive blocks of one piece are served with one disk read (up to 1 MiB).
            var batch = [first]
            var length = first.length
            while length < 1 << 20, let next = c.peekUpload(), next.piece == first.piece,
                next.begin == batch[batch.count - 1].begin + batch[batch.count - 1].length
            {
                batch.append(c.popUpload()!)
                length += next.length
            }
            let wait = max(uploadBucket.take(length, at: now()), hostUploadBucket.take(length, at: now()))
            if wait <= 0, let cached = pieceBuffers.cachedPiece(first.piece) {
                // A piece still in memory: its blocks are slices of the piece buffer.
                for request in batch {
                    guard let block = cached.getSlice(at: request.begin, length: request.length) else { break }
                    c.send(.piece(piece: request.piece, begin: request.begin, block: block))
                    uploaded += Int64(request.length)
                    c.unflushedWrites += 1
                }
                if c.unflushedWrites >= 64 { c.flush() }
                continue
            }
            c.readsInFlight += 1
            c.readBytesInFlight += length
            let storage = self.storage
            let span = length
            let read = {
                storage.read(
                    piece: first.piece, begin: first.begin, length: span, into: self.takeReadBuffer(span), on: self.loop
                ).assumeIsolated().whenComplete { result in
                    c.readsInFlight -= 1
                    c.readBytesInFlight -= span
                    switch result {
                    case .success(var buffer):
                        guard !c.closed, !c.amChoking else { return self.returnReadBuffer(buffer) }
                        // The blocks are slices of one pooled buffer; it goes back to the pool once the last of
                        // them has been written to the socket.
                        let written = self.loop.makePromise(of: Void.self)
                        let whole = buffer
                        var attached = false
                        for (index, request) in batch.enumerated() {
                            guard let block = buffer.readSlice(length: request.length) else { break }
                            attached = index == batch.count - 1
                            c.send(
                                .piece(piece: request.piece, begin: request.begin, block: block),
                                promise: attached ? written : nil)
                                    self.uploaded += Int64(request.length)
                            c.unflushedWrites += 1
                        }
                        if !attached { written.succeed(()) }
                        buffer = ByteBuffer()
                        written.futureResult.assumeIsolated().whenComplete { _ in self.returnReadBuffer(whole) }
                        if c.readsInFlight == 0 || c.unflushedWrites >= 64 { c.flush() }
                        self.pumpUploads(c)
                    case .failure(let error):
                        self.logger.warning("read failed", metadata: ["request": "\(first)", "error": "\(error)"])
                        c.close()
                    }
                }
            }
            if wait > 0 {
                loop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(wait * 1000) + 1)) { read() }
                return
            }
            read()
        }
        // Blocks sent from cached pieces go out now (reads flush when they complete).
        if c.unflushedWrites > 0 && c.readsInFlight == 0 { c.flush() }
    }

    /// A pooled buffer for an upload read of `length` bytes.
    func takeReadBuffer(_ length: Int) -> ByteBuffer {
        let size = ReadBufferPool.size(for: length)
        if let free = readBuffers.take(size: size) {
            host.readBufferTaken(size, by: self)
            return free
        }
        return AlignedAllocator.allocator.buffer(capacity: size)
    }

    /// Gives a buffer back once its blocks are sent; the host's budget says whether the pool keeps it.
    func returnReadBuffer(_ buffer: consuming ByteBuffer) {
        guard isRunning else { return }
        let size = buffer.capacity
        guard size == ReadBufferPool.size(for: size), host.keepReadBuffer(size, for: self) else { return }
        readBuffers.put(consume buffer)
    }
}
