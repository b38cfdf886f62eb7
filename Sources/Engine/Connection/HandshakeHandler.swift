import NIOCore
import PeerWire
import SwarmPrimitives

/// Runs the BitTorrent handshake on a fresh connection, asks the router (``HandshakeRouting``, the host) which
/// session it belongs to, then has ``PeerPipeline`` replace it (and the handshake decoder before it) with the
/// message codec and the session's connection handler.
///
/// Outgoing: sends our handshake at once and waits for the peer's. Incoming: waits for the peer's, which names the
/// torrent; answers with that torrent's handshake once the router accepted it. A connection that does not finish
/// within the router's handshake timeout is closed.
final class HandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Handshake
    typealias OutboundOut = ByteBuffer

    private let router: any HandshakeRouting
    private let security: (any PeerTransportSecurity)?
    private let decoder: ByteToMessageHandler<HandshakeDecoder>
    private let dial: OutgoingDial?
    private var timeout: Scheduled<Void>?
    private var done = false
    private var sentOurs = false

    /// - Parameters:
    ///   - router: where the connection goes once the peer's handshake arrived.
    ///   - security: the transport security layer in the pipeline's slot, asked for the peer's identity.
    ///   - decoder: the handshake decoder before this handler (removed with it).
    ///   - dial: the dial this connection is, or nil for an incoming connection.
    init(
        router: any HandshakeRouting, security: (any PeerTransportSecurity)?,
        decoder: ByteToMessageHandler<HandshakeDecoder>, dial: OutgoingDial?
    ) {
        self.router = router
        self.security = security
        self.decoder = decoder
        self.dial = dial
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timeout = context.eventLoop.assumeIsolated().scheduleTask(in: router.handshakeTimeout) { [weak self] in
            guard let self, !self.done else { return }
            loopBound.value.close(promise: nil)
        }
        if context.channel.isActive { channelActive(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if let dial, !sentOurs { send(dial.ours, context) }
        context.fireChannelActive()
    }

    private func send(_ ours: Handshake, _ context: ChannelHandlerContext) {
        sentOurs = true
        var buffer = context.channel.allocator.buffer(capacity: Handshake.length)
        ours.write(to: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let theirs = unwrapInboundIn(data)
        guard !done else { return }
        done = true
        timeout?.cancel()
        let identity = security?.authenticatedIdentity(of: context.channel)
        switch router.route(theirs, dial: dial, remote: context.remoteAddress, identity: identity) {
        case .refuse:
            context.close(promise: nil)
        case .accept(let ours, let limits, let connection):
            if !sentOurs { send(ours, context) }
            do {
                try PeerPipeline.switchToMessages(
                    context.pipeline.syncOperations, handshake: context, decoder: decoder, limits: limits,
                    connection: connection)
            } catch {
                context.close(promise: nil)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        if !done {
            done = true
            router.handshakeFailed(
                dial: dial, remote: context.remoteAddress, refusal: security?.refusal(of: context.channel))
        }
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
