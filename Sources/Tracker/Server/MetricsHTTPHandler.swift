import NIOCore
import NIOHTTP1
import Prometheus

/// Serves `GET /metrics` in the Prometheus text format; everything else is 404. One request per connection.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private let registry: PrometheusCollectorRegistry
    private var head: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead): head = requestHead
        case .body: break
        case .end:
            guard let requestHead = head else { return }
            head = nil
            let path = requestHead.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
            if requestHead.method == .GET && path == "/metrics" {
                respond(context: context, status: "200 OK", type: "text/plain; version=0.0.4", registry.emitToBuffer())
            } else {
                respond(context: context, status: "404 Not Found", type: "text/plain", Array("try /metrics\n".utf8))
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func respond(context: ChannelHandlerContext, status: StaticString, type: StaticString, _ body: [UInt8]) {
        var buffer = context.channel.allocator.buffer(capacity: body.count + 128)
        buffer.writeStaticString("HTTP/1.1 ")
        buffer.writeStaticString(status)
        buffer.writeStaticString("\r\nContent-Type: ")
        buffer.writeStaticString(type)
        buffer.writeString("\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n")
        buffer.writeBytes(body)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }
}

@available(*, unavailable)
extension MetricsHTTPHandler: Sendable {}
