import NIOCore

/// Decodes the peer's 68-byte handshake, then stops.
///
/// Emits exactly one ``Handshake``. Bytes that arrive after it are left in the buffer; when the handler is removed
/// from the pipeline (the usual next step: add a ``PeerMessageDecoder`` after it, then remove it) they are passed
/// on unchanged as a `ByteBuffer` `channelRead`, so no message that came in the same packet as the handshake is
/// lost. At end of stream such bytes are dropped. Wrap it as `ByteToMessageHandler(HandshakeDecoder())`.
public struct HandshakeDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = Handshake

    private var received = false

    /// A decoder waiting for a handshake.
    public init() {}

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard !received else { return .needMoreData }
        guard let handshake = try Handshake.read(from: &buffer) else { return .needMoreData }
        received = true
        context.fireChannelRead(Self.wrapInboundOut(handshake))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        if !received {
            return try decode(context: context, buffer: &buffer)
        }
        // On removal (not at end of stream) hand the bytes after the handshake to the next decoder.
        if !seenEOF && buffer.readableBytes > 0 {
            let rest = buffer.readSlice(length: buffer.readableBytes)!
            context.fireChannelRead(NIOAny(rest))
        }
        return .needMoreData
    }
}
