import NIOCore
import NIOHTTP1
import NIOPosix

/// A small read-only HTTP/1.1 server for what operators and monitoring ask a daemon: the tracker's `/metrics`, the
/// seed's `/metrics`, `/healthz` and `/status`. `GET` only, one request per connection, a bounded request head
/// (NIO's HTTP parser limit) and an idle timeout, so a slow or hostile client holds one socket for at most
/// ``idleTimeout``.
public enum EndpointServer {
    /// A connection that has not sent a whole request by then is closed.
    public static let idleTimeout: TimeAmount = .seconds(10)

    /// Binds `host:port` (port 0 picks one) and serves `routes` until the returned channel is closed.
    ///
    /// - Parameters:
    ///   - host: the address to listen on (loopback for anything not meant for the network).
    ///   - port: the TCP port, 0 for any free one (read it from the channel's `localAddress`).
    ///   - routes: the paths served.
    ///   - group: the event loops that serve the connections.
    /// - Returns: the listening channel.
    /// - Throws: NIO's `IOError` when the address cannot be bound.
    public static func bind(
        host: String, port: Int, routes: EndpointRoutes,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> any Channel {
        // The child pipeline's generic handler types are instantiated here, once, before connections arrive on
        // several event loops at once: twice in CI (stops 17 and 19) a `swtorrent seed` crashed inside the Swift
        // runtime (SIGSEGV in swift_conformsToProtocol → swift_checkMetadataState) instantiating
        // `ByteToMessageHandler<HTTPRequestDecoder>` for its first status connection while other threads
        // instantiated metadata too. A mitigation of a runtime race, not a proof: see the closing note.
        _ = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes))
        _ = IdleStateHandler(allTimeout: idleTimeout)
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                    try sync.addHandler(IdleCloser())
                    try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try sync.addHandler(EndpointHandler(routes: routes))
                }
            }
            .bind(host: host, port: port).get()
    }

    /// Splits `HOST:PORT` or `[IPV6]:PORT`, or, when `defaultHost` is given, a bare `PORT`; nil when it is none of
    /// those (or the port is not 0-65535).
    public static func split(_ address: String, defaultHost: String? = nil) -> (host: String, port: Int)? {
        if let defaultHost, let port = Int(address) { return (0...65535).contains(port) ? (defaultHost, port) : nil }
        guard let colon = address.lastIndex(of: ":") else { return nil }
        var host = String(address[..<colon])
        guard let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return (host, port)
    }
}

/// Closes a connection that has been idle for the ``IdleStateHandler``'s time.
private final class IdleCloser: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

@available(*, unavailable)
extension IdleCloser: Sendable {}
