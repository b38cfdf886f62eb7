import NIOCore
import PeerWire

/// Runs the BitTorrent handshake on a fresh connection, then replaces itself (and the handshake decoder before it)
/// with the message codec and a ``PeerConnection``.
///
/// Outgoing: sends our handshake at once and waits for the peer's. Incoming: waits for the peer's, checks the
/// info-hash, then answers. A connection that does not finish within the session's handshake timeout is closed.
final class HandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Handshake
    typealias OutboundOut = ByteBuffer

    private let core: SessionCore
    private let decoder: ByteToMessageHandler<HandshakeDecoder>
    private let outgoing: PeerRecord?
    private var timeout: Scheduled<Void>?
    private var done = false

    /// - Parameters:
    ///   - outgoing: the peer we dialled, or nil for an incoming connection.
    init(core: SessionCore, decoder: ByteToMessageHandler<HandshakeDecoder>, outgoing: PeerRecord?) {
        self.core = core
        self.decoder = decoder
        self.outgoing = outgoing
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timeout = context.eventLoop.assumeIsolated().scheduleTask(in: core.configuration.handshakeTimeout.timeAmount) {
            [weak self] in
            guard let self, !self.done else { return }
            loopBound.value.close(promise: nil)
        }
        if context.channel.isActive { channelActive(context: context) }
    }

    private var sentOurs = false

    func channelActive(context: ChannelHandlerContext) {
        if outgoing != nil && !sentOurs { sendOurs(context) }
        context.fireChannelActive()
    }

    private func sendOurs(_ context: ChannelHandlerContext) {
        sentOurs = true
        var buffer = context.channel.allocator.buffer(capacity: Handshake.length)
        core.ourHandshake.write(to: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let theirs = unwrapInboundIn(data)
        guard !done else { return }
        done = true
        timeout?.cancel()
        guard theirs.infoHash == core.infoHash else {
            core.logger.debug("handshake for another torrent", metadata: ["peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
            context.close(promise: nil)
            return
        }
        if !sentOurs { sendOurs(context) }
        let connection = PeerConnection(core: core, handshake: theirs, dialled: outgoing, remote: context.remoteAddress)
        guard core.admit(connection) else {
            context.close(promise: nil)
            return
        }
        do {
            let pipeline = context.pipeline.syncOperations
            // Decodes frames straight from each read; only a frame split across two reads is copied.
            let messages = PeerMessageFramer(limits: core.wireLimits)
            try pipeline.addHandler(messages, position: .after(decoder))
            try pipeline.addHandler(PeerMessageEncoder(initialCapacity: 4096), position: .last)
            try pipeline.addHandler(connection, position: .last)
            pipeline.removeHandler(context: context, promise: nil)
            pipeline.removeHandler(decoder, promise: nil)
        } catch {
            core.logger.debug("could not set up the peer pipeline", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        core.logger.debug("handshake failed", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        if !done, let outgoing { core.dialFailed(outgoing.address) }
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension HandshakeHandler: Sendable {}

extension Duration {
    /// The duration as a NIO `TimeAmount`.
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// The duration in seconds.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
