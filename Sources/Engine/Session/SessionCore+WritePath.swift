import NIOCore

/// The write path: blocks into piece buffers, whole pieces hashed in memory and written (`writeVerified`), or
/// written block by block and read back for the hash check when no buffer is free.
extension SessionCore {
    /// A free buffer for a new piece, or a new one while the budget allows; nil when it is spent.
    func takeBuffer() -> PieceBufferPool.Assembly? {
        var buffer: ByteBuffer
        if let free = pieceBuffers.popFree() {
            buffer = free
        } else if host.takePieceBuffer(pieceBuffers.bufferCapacity, for: self) {
            // 4 KiB-aligned storage, so the storage can write the piece with O_DIRECT.
            buffer = AlignedAllocator.allocator.buffer(capacity: pieceBuffers.bufferCapacity)
        } else if let oldest = pieceBuffers.evictOldest() {
            buffer = oldest
        } else {
            return nil
        }
        buffer.clear()
        return PieceBufferPool.Assembly(buffer: buffer, base: 0)
    }

    /// Drops free and cached piece buffers (free first, then the oldest cached pieces) until `bytes` went back
    /// to the host's budget: another session below its fair share needs them.
    func releaseCachedPieceBuffers(bytes: Int) {
        var released = 0
        while released < bytes, pieceBuffers.dropIdle() {
            host.givePieceBuffer(pieceBuffers.bufferCapacity, by: self)
            released += pieceBuffers.bufferCapacity
        }
    }

    /// A written buffer: cached while uploads may want it, or free again.
    func bufferReturned(_ returned: Storage.ReturnedBuffer) {
        guard isRunning else {
            host.givePieceBuffer(pieceBuffers.bufferCapacity, by: self)
            return
        }
        guard returned.written, returned.data.capacity >= pieceBuffers.bufferCapacity else {
            return returnBuffer(returned.data)
        }
        pieceBuffers.cache(returned.data, piece: returned.piece)
    }

    /// Gives a buffer back after its piece was written (or failed).
    func returnBuffer(_ buffer: ByteBuffer) {
        guard buffer.capacity >= pieceBuffers.bufferCapacity, isRunning else {
            host.givePieceBuffer(pieceBuffers.bufferCapacity, by: self)
            return
        }
        pieceBuffers.addFree(buffer)
    }

    /// Hands a complete piece held in memory to the storage: hashed there, written only when it matches.
    func writeVerified(piece: Int, _ buffer: ByteBuffer) {
        let length = buffer.readableBytes
        host.writeStarted(length, by: self)
        storage.writeVerified(piece: piece, data: buffer, on: loop).assumeIsolated().whenComplete { result in
            defer { self.host.writeFinished(length, by: self) }
            for returned in self.storage.takeReturnedBuffers() { self.bufferReturned(returned) }
            switch result {
            case .success(let matches):
                guard self.isRunning else { return }
                if matches { self.pieceVerified(piece) } else { self.pieceFailed(piece) }
            case .failure(let error):
                if let storageError = error as? EngineError, storageError.code == .pieceAlreadyComplete { return }
                guard self.isRunning else { return }
                return self.fail(EngineError(.storage, "writing piece \(piece): \(error)"))
            }
        }
    }

    func write(piece: Int, begin: Int, _ bytes: ByteBuffer) {
        writesInFlight[piece, default: 0] += 1
        let length = bytes.readableBytes
        host.writeStarted(length, by: self)
        let storage = self.storage
        loop.makeFutureWithTask {
            try await storage.write(piece: piece, begin: begin, bytes: bytes)
        }.assumeIsolated().whenComplete { result in
            self.writeFinished(piece: piece, result: result)
            self.host.writeFinished(length, by: self)
        }
    }

    func writeFinished(piece: Int, result: Result<Void, any Error>) {
        writesInFlight[piece, default: 1] -= 1
        if case .failure(let error) = result {
            if let storageError = error as? EngineError, storageError.code == .pieceAlreadyComplete { return }
            return fail(EngineError(.storage, "writing piece \(piece): \(error)"))
        }
        if writesInFlight[piece] == 0 {
            writesInFlight[piece] = nil
            if awaitingVerification.remove(piece) != nil { verify(piece) }
        }
    }

    func verify(_ piece: Int) {
        let storage = self.storage
        loop.makeFutureWithTask {
            try await storage.verify(piece: piece)
        }.assumeIsolated().whenComplete { result in
            guard self.isRunning else { return }
            switch result {
            case .success(true):
                self.pieceVerified(piece)
            case .success(false):
                self.pieceFailed(piece)
            case .failure(let error):
                self.fail(EngineError(.storage, "checking piece \(piece): \(error)"))
            }
        }
    }

    func pieceVerified(_ piece: Int) {
        picker.pieceVerified(piece)
        attribution.pieceVerified(piece)
        lastVerifiedAt = now()
        for c in connections.values {
            c.send(.have(piece: piece))
            if c.amInterested && !picker.isInteresting(c.id) {
                c.amInterested = false
                c.send(.notInterested)
            }
        }
        flushAll()
        if picker.isComplete { downloadFinished() }
    }

    func pieceFailed(_ piece: Int) {
        hashFailures += 1
        let contributors = picker.pieceFailed(piece)
        attribution.pieceFailed(piece)
        logger.warning("piece failed the hash check", metadata: ["piece": "\(piece)", "peers": "\(contributors.count)"])
        mirrorsSentBadPiece(piece, contributors: contributors)
        for id in contributors {
            guard let c = connections[id] else { continue }
            if reputation.pieceFailed(host: c.banKey) {
                drop(c, "sent \(reputation.failureLimit) pieces that failed the hash check", ban: true)
            }
        }
        requestMoreEverywhere()
    }

    func downloadFinished() {
        guard case .downloading = state else { return }
        logger.info("download complete: every piece verified")
        stopMirrors()
        host.downloadFinished(self)
        let storage = self.storage
        loop.makeFutureWithTask { try await storage.sync() }.assumeIsolated().whenComplete { result in
            if case .failure(let error) = result {
                return self.fail(EngineError(.storage, "flushing data to disk: \(error)"))
            }
            if self.configuration.useTrackers && self.announcer.hasTrackers { self.announce(.completed) }
            if self.configuration.seedUntilStopped {
                self.state = .seeding(until: nil)
            } else if let seedFor = self.configuration.seedAfterComplete {
                self.state = .seeding(until: self.now() + seedFor.seconds)
                for c in self.connections.values where self.picker.peerIsSeed(c.id) { c.close() }
            } else {
                self.shutdown(.complete)
            }
        }
    }
}
