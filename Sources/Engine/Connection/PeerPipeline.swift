import NIOCore
import PeerWire

/// Builds every peer connection's channel pipeline, incoming and outgoing, in one place:
///
/// ```
/// [transport security slot]  → HandshakeDecoder → HandshakeHandler                    (until the handshake)
/// [transport security slot]  → PeerMessageFramer → PeerMessageEncoder → PeerConnection  (after)
/// ```
///
/// The slot holds whatever ``PeerTransportSecurity`` adds (TLS, issue 10); without one it is empty and the
/// connection is plain BitTorrent. After the handshake the router (``HandshakeRouting``) runs the admission hook
/// with the identity the slot authenticated and picks the session.
enum PeerPipeline {
    /// The handler names in the pipeline (the slot's own handlers are named by the security layer).
    static let handshakeDecoderName = "swt.handshake-decoder"
    static let handshakeName = "swt.handshake"
    static let framerName = "swt.message-framer"
    static let encoderName = "swt.message-encoder"
    static let connectionName = "swt.peer"

    /// Receive buffers: 16 KiB to 1 MiB reads, adapting to the rate. They start small because NIO keeps each
    /// channel's receive buffer for reuse: an idle peer holds one buffer of its current size (256 KiB each was
    /// 50 MiB for 200 idle peers, `scripts/bench/footprint.sh`); a read that fills the buffer doubles the next one, so
    /// a busy connection reaches 1 MiB reads after six full reads (and shrinks again as it did before).
    static var receiveAllocator: AdaptiveRecvByteBufferAllocator {
        AdaptiveRecvByteBufferAllocator(minimum: 16 << 10, initial: 16 << 10, maximum: 1 << 20)
    }
    /// 1–4 MiB: uploads stop reading from disk for a peer that does not read.
    static let writeBufferWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 1 << 20, high: 4 << 20)

    /// Sets up a new connection, before the handshake.
    ///
    /// - Parameters:
    ///   - channel: the connection, on its event loop.
    ///   - router: where the connection goes once the peer's handshake names its torrent.
    ///   - security: the transport security layer for the slot, if any.
    ///   - dial: the dial this connection is, or nil for an incoming connection.
    static func configure(
        _ channel: any Channel, router: any HandshakeRouting, security: (any PeerTransportSecurity)?,
        dial: OutgoingDial?
    ) throws {
        let pipeline = channel.pipeline.syncOperations
        let setup = PeerConnectionSetup(
            direction: dial == nil ? .incoming : .outgoing,
            dialled: dial.map { .init(infoHash: $0.ours.infoHash, isPrivate: $0.isPrivate) })
        try security?.addHandlers(to: pipeline, connection: setup)
        let decoder = ByteToMessageHandler(HandshakeDecoder())
        try pipeline.addHandler(decoder, name: handshakeDecoderName)
        try pipeline.addHandler(
            HandshakeHandler(router: router, security: security, decoder: decoder, dial: dial), name: handshakeName)
    }

    /// Replaces the handshake handlers with the message codec and the session's connection handler. Bytes that
    /// came with the handshake pass from the handshake decoder to the framer, so nothing is lost.
    static func switchToMessages(
        _ pipeline: ChannelPipeline.SynchronousOperations, handshake: ChannelHandlerContext,
        decoder: ByteToMessageHandler<HandshakeDecoder>, limits: PeerWireLimits, connection: any ChannelHandler
    ) throws {
        // Decodes frames straight from each read; only a frame split across two reads is copied.
        try pipeline.addHandler(PeerMessageFramer(limits: limits), name: framerName, position: .after(decoder))
        try pipeline.addHandler(PeerMessageEncoder(initialCapacity: 4096), name: encoderName, position: .last)
        try pipeline.addHandler(connection, name: connectionName, position: .last)
        pipeline.removeHandler(context: handshake, promise: nil)
        pipeline.removeHandler(decoder, promise: nil)
    }
}
