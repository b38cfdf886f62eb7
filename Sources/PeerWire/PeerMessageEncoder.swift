import NIOCore

/// Writes ``PeerMessage``s as bytes, coalescing small messages.
///
/// Every message but a `piece` block is appended to one pending buffer that goes out as a single write on the next
/// flush, so a burst of requests or haves costs one write, not one per message. A `piece` message's 13-byte header
/// joins the pending buffer and the block follows as its own `ByteBuffer`, so block bytes read from disk are never
/// copied here (the channel gathers both with one `writev`).
///
/// Like ``PeerMessageDecoder`` it only produces `ByteBuffer`s and works over any transport.
public final class PeerMessageEncoder: ChannelOutboundHandler {
    public typealias OutboundIn = PeerMessage
    public typealias OutboundOut = ByteBuffer

    private var pending: ByteBuffer?
    private var pendingPromise: EventLoopPromise<Void>?
    private let initialCapacity: Int

    /// An encoder.
    ///
    /// - Parameter initialCapacity: the size of a fresh pending buffer.
    public init(initialCapacity: Int = 1024) {
        self.initialCapacity = initialCapacity
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let message = unwrapOutboundIn(data)
        var buffer = pending ?? context.channel.allocator.buffer(capacity: initialCapacity)
        pending = nil
        let mark = buffer.writerIndex
        do {
            try message.writeHeader(to: &buffer)
        } catch {
            buffer.moveWriterIndex(to: mark)
            pending = buffer
            promise?.fail(error)
            return
        }
        if case .piece(_, _, let block) = message {
            // The header goes first (carrying the promises of the messages before it), the block right after it.
            emitPending(context: context, buffer: buffer)
            context.write(wrapOutboundOut(block), promise: promise)
            return
        }
        pending = buffer
        if let promise {
            if let pendingPromise {
                pendingPromise.futureResult.cascade(to: promise)
            } else {
                pendingPromise = promise
            }
        }
    }

    public func flush(context: ChannelHandlerContext) {
        if let buffer = pending {
            pending = nil
            emitPending(context: context, buffer: buffer)
        }
        context.flush()
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        failPending(ChannelError.ioOnClosedChannel)
        context.close(mode: mode, promise: promise)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        failPending(ChannelError.ioOnClosedChannel)
    }

    private func emitPending(context: ChannelHandlerContext, buffer: ByteBuffer) {
        let promise = pendingPromise
        pendingPromise = nil
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    private func failPending(_ error: Error) {
        pending = nil
        let promise = pendingPromise
        pendingPromise = nil
        promise?.fail(error)
    }
}

@available(*, unavailable)
extension PeerMessageEncoder: Sendable {}
