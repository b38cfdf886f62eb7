import CryptoPrimitives
import NIOCore
import NIOPosix
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension Storage {
    /// A buffer handed to ``writeVerified(piece:data:on:)`` that the storage is done with.
    public struct ReturnedBuffer: Sendable {
        /// The piece it held.
        public var piece: Int
        /// The buffer, its readable bytes as handed in. The storage holds no other reference to it (a verified-piece
        /// observer may: ``VerifiedPieceObserver``).
        public var data: ByteBuffer
        /// Whether the piece matched its hash and was written (the buffer then holds the verified piece).
        public var written: Bool
    }

    struct PendingPiece: Sendable {
        let piece: Int
        var data: ByteBuffer?
        let promise: EventLoopPromise<Bool>
    }

    /// Pieces waiting for a pool thread, oldest first.
    struct VerifiedWriteQueue: Sendable {
        var pieces: [PendingPiece] = []
        var head = 0
        /// Buffers the storage is done with, for ``takeReturnedBuffers()``.
        var returned: [ReturnedBuffer] = []

        /// The oldest piece and, when one of the same length is waiting too, the next one (hashed together).
        mutating func take() -> [PendingPiece] {
            guard head < pieces.count else { return [] }
            var batch = [pieces[head]]
            head += 1
            if head < pieces.count, pieces[head].data?.readableBytes == batch[0].data?.readableBytes {
                batch.append(pieces[head])
                head += 1
            }
            if head == pieces.count {
                pieces.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 64 {
                pieces.removeFirst(head)
                head = 0
            }
            return batch
        }

        mutating func drain() -> [PendingPiece] {
            defer {
                pieces.removeAll()
                head = 0
            }
            return Array(pieces[head...])
        }
    }

    /// Whether this CPU has the SHA extensions: pieces are then hashed with them, two at a time when two are waiting.

    /// Hashes a whole piece held in memory and, only when it matches the torrent's SHA-1, writes it and adds it to
    /// ``have``.
    ///
    /// The bytes hashed are the bytes written: the buffer is hashed, then the same buffer is written, so the piece is
    /// never read back from disk. The piece joins ``have`` only after its write returned. Where the file system
    /// supports it and the piece is aligned (4 KiB: the buffer's address, the file offset, the length), the write
    /// uses `O_DIRECT`: the data goes to the device without being copied into the page cache (on a VM that copy into
    /// freshly allocated page-cache memory costs more CPU than everything else a leecher does), and the final
    /// `fsync` has little left to do. Unaligned parts (a multi-file piece's edges, the last piece's tail) are written
    /// through the page cache. Either way durability is as before: ``sync()`` and ``saveResume(to:)`` fsync.
    ///
    /// Pieces are queued and hashed on the thread pool; when two of the same length are waiting, one thread hashes
    /// both at once with the two-lane SHA-NI SHA-1 (about 1.7 × the single-stream speed).
    ///
    /// The buffer comes back through ``takeReturnedBuffers()`` once the storage holds no reference to it (before the
    /// future completes), so the caller can reuse it without a copy; it does, whatever the outcome. A verified-piece
    /// observer may still hold it (``VerifiedPieceObserver``).
    ///
    /// - Parameters:
    ///   - piece: the piece index.
    ///   - data: the whole piece: its readable bytes are the piece's bytes. Hand over the only reference.
    ///   - eventLoop: where the result arrives.
    /// - Returns: whether it matched. Fails with ``EngineError``: `readOnly`, `outOfRange` when `data` is not the
    ///   piece's size, `pieceAlreadyComplete`, `io` when the write fails.
    public func writeVerified(piece: Int, data: ByteBuffer, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        do {
            guard mode == .readWrite else {
                throw EngineError(.readOnly, "piece \(piece): \(directory) is opened read-only")
            }
            try checkRange(piece: piece, begin: 0, length: data.readableBytes)
            guard data.readableBytes == layout.pieceSize(piece) else {
                throw EngineError(
                    .outOfRange, "piece \(piece) is \(layout.pieceSize(piece)) bytes, not \(data.readableBytes)")
            }
            if state.withLock({ $0.have[piece] }) {
                throw EngineError(.pieceAlreadyComplete, "piece \(piece) is already verified; not written again")
            }
        } catch {
            verifiedWrites.withLock { $0.returned.append(ReturnedBuffer(piece: piece, data: data, written: false)) }
            return eventLoop.makeFailedFuture(error)
        }
        let promise = eventLoop.makePromise(of: Bool.self)
        verifiedWrites.withLock { $0.pieces.append(PendingPiece(piece: piece, data: data, promise: promise)) }
        threadPool.submit { [self] workState in
            guard case .active = workState else {
                var pending = verifiedWrites.withLock { $0.drain() }
                for index in pending.indices {
                    verifiedWrites.withLock { queue in
                        queue.returned.append(
                            ReturnedBuffer(piece: pending[index].piece, data: pending[index].data.take()!, written: false))
                    }
                    pending[index].promise.fail(
                        EngineError(.io, "piece \(pending[index].piece) not written: the thread pool has stopped"))
                }
                return
            }
            self.runVerifiedWrites()
        }
        return promise.futureResult
    }

    /// The buffers handed to ``writeVerified(piece:data:on:)`` that the storage is done with (it keeps no reference to
    /// them; a verified-piece observer may). Call it when a ``writeVerified(piece:data:on:)`` future completes.
    public func takeReturnedBuffers() -> [ReturnedBuffer] {
        verifiedWrites.withLock { queue in
            var taken: [ReturnedBuffer] = []
            swap(&taken, &queue.returned)
            return taken
        }
    }

    /// On a pool thread: takes one piece (or two of the same length) from the queue, hashes, writes, answers.
    private func runVerifiedWrites() {
        var batch = verifiedWrites.withLock { $0.take() }
        guard !batch.isEmpty else { return }
        let digests =
            batch.count == 2 ? Self.sha1(batch[0].data!, batch[1].data!) : [Self.sha1(batch[0].data!)]
        for index in batch.indices {
            let piece = batch[index].piece
            var outcome: Result<Bool, any Error> = .success(false)
            if digests[index].elementsEqual(layout.pieceHash(piece)) {
                do {
                    try writeWhole(piece: piece, batch[index].data!)
                    let observer = state.withLock { state in
                        state.have.insert(piece) ? state.verifiedPieceObserver : nil
                    }
                    // The piece is written; the observer gets the buffer itself (and may keep it: no copy).
                    if let observer { observer(piece, batch[index].data!) }
                    outcome = .success(true)
                } catch {
                    outcome = .failure(error)
                }
            }
            // Hand the buffer back before answering, so the caller's copy is the only one when it reuses it.
            let written = (try? outcome.get()) == true
            verifiedWrites.withLock { queue in
                queue.returned.append(ReturnedBuffer(piece: piece, data: batch[index].data.take()!, written: written))
            }
            batch[index].promise.completeWith(outcome)
        }
    }

    static func sha1(_ data: ByteBuffer) -> [UInt8] {
        data.withUnsafeReadableBytes { MultiLaneSHA1.hash($0) }
    }

    /// Two pieces of the same length, hashed in lock-step with the SHA extensions (or one after the other).
    static func sha1(_ a: ByteBuffer, _ b: ByteBuffer) -> [[UInt8]] {
        guard a.readableBytes == b.readableBytes else { return [sha1(a), sha1(b)] }
        var digests = [UInt8](repeating: 0, count: 40)
        a.withUnsafeReadableBytes { rawA in
            b.withUnsafeReadableBytes { rawB in
                digests.withUnsafeMutableBytes { MultiLaneSHA1.hash([rawA, rawB], into: $0) }
            }
        }
        return [Array(digests[0..<20]), Array(digests[20..<40])]
    }

    /// Writes a whole piece: aligned middles of its spans with `O_DIRECT` where possible, the rest buffered.
    private func writeWhole(piece: Int, _ data: ByteBuffer) throws(EngineError) {
        let spans = layout.spans(piece: piece, begin: 0, length: data.readableBytes)
        let files = self.files
        let directory = self.directory
        let alignment = DirectIO.alignment
        do {
            try data.withUnsafeReadableBytes { raw in
                for span in spans where files[span.file].fd >= 0 {
                    let file = files[span.file]
                    let path = "\(directory)/\(file.displayPath)"
                    let part = UnsafeRawBufferPointer(rebasing: raw[span.rangeOffset..<span.rangeOffset + span.length])
                    var done = 0
                    if file.directFD >= 0 {
                        // Buffered head up to the next aligned file offset; the middle direct if the memory lines up.
                        let head = min(part.count, (alignment - Int(span.fileOffset % Int64(alignment))) % alignment)
                        let middle = (part.count - head) / alignment * alignment
                        let address = Int(bitPattern: part.baseAddress) + head
                        if middle > 0 && address % alignment == 0 {
                            let written = FileSystem.writeDirect(
                                file.directFD, UnsafeRawBufferPointer(rebasing: part[head..<head + middle]),
                                at: span.fileOffset + Int64(head))
                            if written == middle {
                                if head > 0 {
                                    try FileSystem.writeAll(
                                        file.fd, UnsafeRawBufferPointer(rebasing: part[0..<head]), at: span.fileOffset,
                                        displayPath: path)
                                }
                                done = head + middle
                            }
                        }
                    }
                    // Whatever was not written directly (all of it without O_DIRECT) goes through the page cache.
                    if done == 0 {
                        try FileSystem.writeAll(file.fd, part, at: span.fileOffset, displayPath: path)
                    } else if done < part.count {
                        try FileSystem.writeAll(
                            file.fd, UnsafeRawBufferPointer(rebasing: part[done...]),
                            at: span.fileOffset + Int64(done), displayPath: path)
                    }
                }
            }
        } catch let error as EngineError {
            throw error
        } catch {
            throw EngineError(.io, "writing piece \(piece) under \(directory): \(error)")
        }
    }
}
