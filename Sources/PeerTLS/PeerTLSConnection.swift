import Engine
import NIOCore
import NIOTLS

/// One TLS connection's record, as a handler right after NIOSSL's: the identity the verification callback accepted,
/// or why it refused, and whether the TLS handshake finished. ``PeerTLSTransport`` reads it for
/// ``PeerTransportSecurity/authenticatedIdentity(of:)`` and ``PeerTransportSecurity/refusal(of:)``. Bytes pass
/// through untouched.
final class PeerTLSConnection: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let name = "swt.tls-connection"

    /// Set by the verification callback.
    var identity: PeerIdentity?
    /// Set by the verification callback when it refused the certificate, or on a TLS error.
    var refusal: PeerRefusal?
    private(set) var handshakeDone = false
    /// The connection, while the handler is in its pipeline (the verification callback tracks it for revocation).
    private(set) var channel: (any Channel)?

    /// Why a connection that closes before its BitTorrent handshake was refused.
    var closingRefusal: PeerRefusal {
        refusal ?? (handshakeDone ? .handshakeFailed : .tlsIncomplete)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        channel = context.channel
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        channel = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        channel = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent { handshakeDone = true }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if refusal == nil && !handshakeDone { refusal = .tlsFailed }
        context.fireErrorCaught(error)
    }
}

@available(*, unavailable)
extension PeerTLSConnection: Sendable {}
