import NIOCore

/// The first handler of every incoming connection on a node with private swarms: one listening port serves plain
/// BitTorrent and TLS, told apart by the connection's first byte. 0x16 is a TLS handshake record (a ClientHello);
/// a BitTorrent handshake starts with its protocol name length, 0x13. On 0x16 the sniffer installs the TLS server
/// handlers after itself; on anything else it installs nothing (the handshake decoder judges the bytes). Either way
/// it then removes itself and passes the bytes on. The wait for the first byte is bounded by the handshake timeout
/// that the handshake handler after it runs from the moment the connection is set up.
final class TLSSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let name = "swt.tls-sniffer"
    /// The content type of a TLS handshake record, the first byte of a ClientHello.
    static let tlsHandshakeRecord: UInt8 = 0x16

    private let installTLS: (ChannelPipeline.SynchronousOperations, any ChannelHandler) throws -> Void
    private var decided = false

    /// - Parameter installTLS: adds the TLS server handlers after the given handler (the sniffer).
    init(installTLS: @escaping (ChannelPipeline.SynchronousOperations, any ChannelHandler) throws -> Void) {
        self.installTLS = installTLS
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !decided else { return context.fireChannelRead(data) }
        let buffer = unwrapInboundIn(data)
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return }
        decided = true
        if first == Self.tlsHandshakeRecord {
            do {
                try installTLS(context.pipeline.syncOperations, self)
            } catch {
                context.close(promise: nil)
                return
            }
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension TLSSniffer: Sendable {}
