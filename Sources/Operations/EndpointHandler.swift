import NIOCore
import NIOHTTP1

/// Serves an ``EndpointServer``'s routes: `GET` of a known path gets its route's response, anything else a 404 that
/// names the paths there are. One request per connection (`Connection: close`).
final class EndpointHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private let routes: EndpointRoutes
    private var head: HTTPRequestHead?
    private var answered = false

    init(routes: EndpointRoutes) {
        self.routes = routes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead): head = requestHead
        case .body: break
        case .end:
            guard let requestHead = head, !answered else { return }
            head = nil
            answered = true
            let path = requestHead.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
            guard requestHead.method == .GET, let route = routes[path] else {
                let known = routes.keys.sorted().joined(separator: " ")
                respond(context: context, .text("not found; try \(known)", status: "404 Not Found"))
                return
            }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            route(context.eventLoop).hop(to: context.eventLoop).whenComplete { result in
                let (handler, context) = bound.value
                switch result {
                case .success(let response): handler.respond(context: context, response)
                case .failure(let error):
                    handler.respond(context: context, .text("\(error)", status: "500 Internal Server Error"))
                }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func respond(context: ChannelHandlerContext, _ response: EndpointResponse) {
        var buffer = context.channel.allocator.buffer(capacity: response.body.count + 160)
        buffer.writeString("HTTP/1.1 \(response.status)\r\nContent-Type: \(response.contentType)\r\n")
        buffer.writeString("Content-Length: \(response.body.count)\r\nConnection: close\r\n\r\n")
        buffer.writeBytes(response.body)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }
}

@available(*, unavailable)
extension EndpointHandler: Sendable {}
