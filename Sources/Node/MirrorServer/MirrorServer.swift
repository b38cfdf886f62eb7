import Engine
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PeerTLS
import ServiceLifecycle

/// The node's HTTP mirror (`seed --serve-http`, the daemon's `http.listen`): serves the files of the torrents in its
/// ``MirrorCatalog`` so that `curl`, caches and BEP 19 web-seed clients (aria2c, libtorrent, our own
/// `leech --mirror`) can fetch them from any appliance. Layout, headers and limits: `Docs/operations.md`
/// ("HTTP mirror").
///
/// Read-only and hostile-client-safe in the style of the status endpoints: `GET` and `HEAD` only, a bounded request
/// head (NIO's HTTP parser limit), a whole request within ``Settings/requestTimeout``, a connection idle (nothing
/// read or written, a client that stopped reading included) for ``Settings/idleTimeout`` closed, at most
/// ``Settings/maximumConnections`` connections and ``Settings/connectionsPerClient`` from one client. Bodies are
/// read from the torrent's storage on its thread pool in ``Settings/chunkLength`` chunks, the next only once the
/// socket takes more, so a connection holds about one chunk plus the socket's buffer whatever it asks for.
/// Keep-alive and pipelined requests are answered in order.
public struct MirrorServer: Service {
    /// The server's limits.
    public struct Settings: Sendable, Hashable {
        /// A connection must send a whole request (head and end) within this long of opening or of its previous
        /// response.
        public var requestTimeout: TimeAmount = .seconds(10)
        /// A connection on which nothing was read or written for this long is closed. While a response is pending
        /// nothing is read, and a chunk's write completes only once all of it is in the socket: so a client must take
        /// at least one ``chunkLength`` chunk of a body per `idleTimeout` (256 KiB per 30 s, about 8.5 KiB/s).
        public var idleTimeout: TimeAmount = .seconds(30)
        /// Connections open at once; more are closed at once and counted as `connection limit` refusals.
        public var maximumConnections = 256
        /// Connections open at once from one client (an IPv4 or IPv6 address: ``MirrorClientAddress``); more
        /// are closed at once, before anything is read, and counted as `client connection limit` refusals, so one
        /// client cannot take every connection of ``maximumConnections`` from the rest of the fleet.
        public var connectionsPerClient = 16
        /// Bytes read from disk and written at a time.
        public var chunkLength = 256 * 1024

        public init() {}
    }

    private let channel: any Channel
    private let logger: Logger
    /// The port bound (the one picked when asked for port 0).
    public let port: Int
    /// Requests, bytes and refusals since the server started.
    public let statistics: MirrorServerStatistics

    private init(channel: any Channel, statistics: MirrorServerStatistics, logger: Logger) {
        self.channel = channel
        self.logger = logger
        self.port = channel.localAddress?.port ?? 0
        self.statistics = statistics
    }

    /// Listens at `host:port` and serves `catalog` until ``run()`` ends.
    ///
    /// - Parameters:
    ///   - host: where to listen (loopback unless the mirror is for the LAN).
    ///   - port: the TCP port, 0 for any free one (``port`` says which).
    ///   - catalog: the torrents served.
    ///   - settings: limits.
    ///   - transportSecurity: the node's peer transport; when it is the TLS one of private swarms (`--key` with
    ///     `--allow`, `node.key` with `node.allow`, ``PeerTLSTransport``) the port
    ///     also takes HTTPS from clients presenting an allowlisted node certificate, and serves them private torrents;
    ///     nil: plain HTTP only, private torrents never served.
    ///   - logger: where the server logs that it listens and what it refuses (at debug).
    /// - Throws: ``NodeError`` `.io` naming the address when it cannot be bound.
    public static func bind(
        host: String, port: Int, catalog: MirrorCatalog, settings: Settings = Settings(),
        transportSecurity: (any PeerTransportSecurity)? = nil, logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(NodeError) -> MirrorServer {
        let shown = host.contains(":") ? "[\(host)]" : host
        let statistics = MirrorServerStatistics()
        let privateSwarm = transportSecurity as? PeerTLSTransport
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 256)
                .childChannelInitializer { channel in
                    let client = channel.remoteAddress.flatMap(MirrorClientAddress.init)
                    guard
                        statistics.admit(
                            client, limit: settings.maximumConnections, perClient: settings.connectionsPerClient)
                    else {
                        return channel.close()
                    }
                    channel.closeFuture.whenComplete { _ in statistics.closed(client) }
                    return channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try privateSwarm?.addHTTPSServerHandlers(to: sync)
                        try sync.addHandler(IdleStateHandler(allTimeout: settings.idleTimeout))
                        try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                        try sync.addHandler(
                            MirrorRequestHandler(
                                catalog: catalog, statistics: statistics, settings: settings,
                                privateSwarm: privateSwarm, logger: logger))
                    }
                }
                .childChannelOption(.allowRemoteHalfClosure, value: false)
                .bind(host: host, port: port).get()
        } catch {
            throw NodeError(.io, "HTTP mirror address \(shown):\(port): cannot listen: \(error); choose a free port")
        }
        let server = MirrorServer(channel: channel, statistics: statistics, logger: logger)
        statistics.address = "\(shown):\(server.port)"
        logger.info("HTTP mirror listening", metadata: ["address": "\(shown):\(server.port)"])
        return server
    }

    public func run() async throws {
        await channel.closeOnGracefulShutdown()
        logger.info("HTTP mirror closed")
    }
}
