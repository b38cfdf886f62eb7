import NIOCore

/// Splits the byte stream after the handshake into length-prefixed frames and parses each into a ``PeerMessage``.
///
/// A frame whose length prefix exceeds ``PeerWireLimits/maxFrameLength`` is refused as soon as its 4-byte prefix
/// has arrived, before any of it is buffered. Until a whole frame is present the decoder returns `.needMoreData`
/// without moving the reader index. `piece` blocks and extended payloads are slices of the receive buffer.
///
/// The decoder does not care what carries the bytes (TCP, TLS, an in-memory pipe): it sees only `ByteBuffer`s.
/// Wrap it as `ByteToMessageHandler(PeerMessageDecoder(limits:), maximumBufferSize:)`; a good maximum buffer size is
/// a few times ``PeerWireLimits/maxFrameLength``.
public struct PeerMessageDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = PeerMessage

    /// The limits every frame is checked against.
    public let limits: PeerWireLimits
    private let maxFrameLength: Int

    /// A decoder for one connection of one torrent.
    public init(limits: PeerWireLimits) {
        self.limits = limits
        self.maxFrameLength = limits.maxFrameLength
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let message = try next(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(message))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }

    /// Reads the next whole message from `buffer`, or returns nil (reader index unchanged) when the next frame is
    /// not complete yet. Usable without a channel.
    ///
    /// - Throws: ``PeerWireError``: `frameTooLarge` for an oversized length prefix, anything
    ///   ``PeerMessage/parse(frame:limits:)`` throws for a bad frame.
    public func next(from buffer: inout ByteBuffer) throws(PeerWireError) -> PeerMessage? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length <= maxFrameLength else {
            throw PeerWireError(
                .frameTooLarge,
                "frame of \(length) bytes is over this torrent's \(maxFrameLength)-byte maximum "
                    + "(block \(limits.maxBlockLength), \(limits.pieceCount) pieces)"
            )
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        let frame = buffer.readSlice(length: Int(length))!
        return try PeerMessage.parse(frame: frame, limits: limits)
    }
}
