import NIOCore

extension Storage {
    /// Reads `length` bytes at `offset` of the torrent's content (the files one after another, as BEP 19 web seeds
    /// and the HTTP mirror server address them), on the storage's thread pool, into `buffer` (its contents are
    /// replaced; hand over the only reference to its storage, or it is copied). The result arrives on `eventLoop`.
    ///
    /// Pad-file bytes read as zeros. Nothing here checks that the pieces are verified: callers that serve data to
    /// others check ``have`` first.
    ///
    /// - Returns: a future of the buffer holding exactly `length` bytes; failed with ``EngineError`` `outOfRange`
    ///   when the range is not inside the content, `io` when a file is missing, short, or the read fails.
    public func read(
        contentOffset offset: Int64, length: Int, into buffer: ByteBuffer, on eventLoop: any EventLoop
    ) -> EventLoopFuture<ByteBuffer> {
        guard offset >= 0, length >= 0, offset <= layout.totalLength, Int64(length) <= layout.totalLength - offset
        else {
            return eventLoop.makeFailedFuture(
                EngineError(
                    .outOfRange, "\(length) bytes at \(offset) are not inside the content's \(layout.totalLength) bytes"))
        }
        let spans = layout.spans(offset: offset, length: length)
        let handoff = BufferHandoff(buffer)
        return threadPool.runIfActive(eventLoop: eventLoop) { [self] in
            var buffer = handoff.take() ?? ByteBufferAllocator().buffer(capacity: length)
            buffer.clear()
            let files = self.files
            let layout = self.layout
            let directory = self.directory
            try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { raw in
                let target = UnsafeMutableRawBufferPointer(rebasing: raw[0..<length])
                try Self.readSpans(spans, into: target, files: files, layout: layout, directory: directory)
                return length
            }
            return buffer
        }
    }
}
