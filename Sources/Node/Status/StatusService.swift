import Foundation
import Logging
import NIOCore
import Operations
import ServiceLifecycle

/// The node's read-only HTTP endpoints, a ``Service`` in the node's ``ServiceGroup``:
///
/// - `GET /metrics`: Prometheus text (``NodeStatus/prometheus()``);
/// - `GET /healthz`: `200 ok` while the node runs and its host answers, `503` otherwise;
/// - `GET /status`: ``NodeStatus`` as JSON (what `swtorrent status` reads).
///
/// ``bind(host:port:board:logger:)`` listens at once (so a taken port is an error before anything else starts);
/// ``run()`` serves until graceful shutdown or cancellation, then closes the listener.
public struct StatusService: Service {
    /// The address to serve on when asked without one (loopback: status is not for the network unless chosen).
    public static let defaultAddress = "127.0.0.1:9470"

    private let channel: any Channel
    private let logger: Logger
    /// The port bound (the one picked when asked for port 0).
    public let port: Int

    private init(channel: any Channel, logger: Logger) {
        self.channel = channel
        self.logger = logger
        self.port = channel.localAddress?.port ?? 0
    }

    /// Binds the endpoints.
    ///
    /// - Parameters:
    ///   - host: where to listen (`127.0.0.1` unless the node should be scraped over the network).
    ///   - port: the TCP port, 0 for any free one (``port`` says which).
    ///   - board: the status the endpoints show.
    ///   - logger: where the service logs that it listens and stops.
    /// - Throws: ``NodeError`` `.io` naming the address when it cannot be bound.
    public static func bind(host: String, port: Int, board: StatusBoard, logger: Logger) async throws(NodeError)
        -> StatusService
    {
        let routes: EndpointRoutes = [
            "/metrics": { board.snapshot(on: $0).map { .prometheus($0.prometheus()) } },
            "/status": { board.snapshot(on: $0).map { .json(encode($0)) } },
            "/healthz": { health(board, on: $0) },
        ]
        let channel: any Channel
        do {
            channel = try await EndpointServer.bind(host: host, port: port, routes: routes)
        } catch {
            throw NodeError(.io, "status address \(host):\(port): cannot listen: \(error); choose a free port")
        }
        let service = StatusService(channel: channel, logger: logger)
        logger.info("status endpoints listening", metadata: ["address": "\(host):\(service.port)"])
        return service
    }

    public func run() async throws {
        await channel.closeOnGracefulShutdown()
        logger.info("status endpoints closed")
    }

    /// `ok` with the torrent count while the host answers; 503 when the host's loop does not.
    static func health(_ board: StatusBoard, on loop: any EventLoop) -> EventLoopFuture<EndpointResponse> {
        let answered: EventLoopFuture<Void> =
            board.host.map { $0.statisticsFuture().hop(to: loop).map { _ in () } } ?? loop.makeSucceededVoidFuture()
        return answered.flatMap {
            board.snapshot(on: loop).map { status in
                let failed = status.torrents.filter { $0.state == .failed }.count
                return .text("ok: \(status.torrents.count) torrents, \(failed) failed")
            }
        }.recover { error in
            .text("unhealthy: the peer host does not answer (\(error))", status: "503 Service Unavailable")
        }
    }

    /// The JSON `/status` serves: sorted keys, one object.
    public static func encode(_ status: NodeStatus) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(encoder.encode(status))) ?? Array("{}".utf8)
    }

    /// Reads `/status` from a node (what `swtorrent status` does).
    ///
    /// - Parameter address: `HOST:PORT`, `[IPV6]:PORT` or a bare port on loopback.
    /// - Throws: ``NodeError`` `.malformedInput` for an address that is none of those, `.io` when the node cannot be
    ///   reached or does not answer with a status.
    public static func fetch(_ address: String) async throws(NodeError) -> NodeStatus {
        guard let (host, port) = EndpointServer.split(address, defaultHost: "127.0.0.1"), port > 0 else {
            throw NodeError(.malformedInput, "status address '\(address)': expected HOST:PORT, [IPV6]:PORT or PORT")
        }
        let response: EndpointClient.Response
        do {
            response = try await EndpointClient.get(host: host, port: port, path: "/status")
        } catch {
            throw NodeError(.io, error.description)
        }
        guard response.status == 200 else {
            throw NodeError(.io, "\(address): GET /status answered \(response.status); is this a swtorrent node?")
        }
        do {
            return try JSONDecoder().decode(NodeStatus.self, from: Data(response.body))
        } catch {
            throw NodeError(.io, "\(address): GET /status did not return a swtorrent status (\(error))")
        }
    }
}
