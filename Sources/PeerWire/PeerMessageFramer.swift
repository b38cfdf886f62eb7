import NIOCore

/// An inbound handler that turns the byte stream after the handshake into ``PeerMessage``s without gathering the
/// stream into one buffer first.
///
/// `ByteToMessageHandler(PeerMessageDecoder(...))` appends each read to a cumulation buffer whenever the previous read
/// ended inside a frame — almost always at hundreds of MB/s — so every received byte is copied once more before it
/// is decoded. This handler decodes whole frames straight from each read (a `piece` block is a slice of the receive
/// buffer, as with ``PeerMessageDecoder``) and copies only the frame that straddles two reads: at most one frame
/// per read.
///
/// Same checks as ``PeerMessageDecoder`` (it uses it): a length prefix over ``PeerWireLimits/maxFrameLength`` is
/// refused as soon as its 4 bytes are in, so the carried partial frame is bounded by the limit. After an error
/// (fired as `errorCaught`) the handler drops everything that follows. Bytes of an incomplete frame at EOF or when
/// the handler is removed are dropped, as a peer that closes mid-frame sent no message.
public final class PeerMessageFramer: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = PeerMessage

    private let decoder: PeerMessageDecoder
    /// The start of a frame that did not fit in the last read.
    private var carry: ByteBuffer?
    private var failed = false

    /// A framer for one connection of one torrent.
    public init(limits: PeerWireLimits) {
        self.decoder = PeerMessageDecoder(limits: limits)
    }

    /// How many bytes of an incomplete frame are held (for tests and accounting).
    public var carriedBytes: Int { carry?.readableBytes ?? 0 }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var buffer = unwrapInboundIn(data)
        do {
            if carry != nil {
                guard try completeCarry(with: &buffer, context: context) else { return }
            }
            while !failed, let message = try decoder.next(from: &buffer) {
                context.fireChannelRead(wrapInboundOut(message))
            }
            if !failed && buffer.readableBytes > 0 { try startCarry(from: &buffer) }
        } catch {
            failed = true
            carry = nil
            context.fireErrorCaught(error)
        }
    }

    /// Moves bytes from `buffer` into the carried frame until it is whole, then decodes it. Returns false when
    /// `buffer` ran out first.
    private func completeCarry(with buffer: inout ByteBuffer, context: ChannelHandlerContext) throws -> Bool {
        guard var partial = carry else { return true }
        carry = nil
        if partial.readableBytes < 4 {
            var prefix = buffer.readSlice(length: min(4 - partial.readableBytes, buffer.readableBytes))!
            partial.writeBuffer(&prefix)
            guard partial.readableBytes == 4 else {
                carry = partial
                return false
            }
            try reserveFrame(in: &partial)
        }
        let frameLength = 4 + Int(partial.getInteger(at: partial.readerIndex, as: UInt32.self)!)
        var rest = buffer.readSlice(length: min(frameLength - partial.readableBytes, buffer.readableBytes))!
        partial.writeBuffer(&rest)
        guard partial.readableBytes == frameLength else {
            carry = partial
            return false
        }
        if let message = try decoder.next(from: &partial) {
            context.fireChannelRead(wrapInboundOut(message))
        }
        return true
    }

    /// Copies the incomplete frame at the end of a read into a buffer sized for the whole frame.
    private func startCarry(from buffer: inout ByteBuffer) throws {
        var partial = ByteBuffer()
        if buffer.readableBytes >= 4 {
            partial.reserveCapacity(4 + Int(buffer.getInteger(at: buffer.readerIndex, as: UInt32.self)!))
            // `next` has already refused an oversized prefix, so the reservation is bounded.
        } else {
            partial.reserveCapacity(64)
        }
        partial.writeBuffer(&buffer)
        carry = partial
    }

    /// The 4-byte prefix of a carried frame is in: check it and make room for the frame.
    private func reserveFrame(in partial: inout ByteBuffer) throws {
        // Decoding an incomplete frame only checks the prefix (and returns nil); an oversized one throws here.
        var probe = partial
        _ = try decoder.next(from: &probe)
        partial.reserveCapacity(4 + Int(partial.getInteger(at: partial.readerIndex, as: UInt32.self)!))
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        // The connection is ending (nothing after this handler takes raw bytes): an incomplete frame is dropped.
        carry = nil
    }
}

@available(*, unavailable)
extension PeerMessageFramer: Sendable {}
