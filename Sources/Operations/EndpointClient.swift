import NIOCore
import NIOPosix

/// Fetches one path from an ``EndpointServer`` (what `swtorrent status` does): a plain HTTP/1.1 `GET` with
/// `Connection: close`, the whole response read until the server closes, bounded in size and time.
public enum EndpointClient {
    /// What came back.
    public struct Response: Sendable, Hashable {
        /// The status code (200, 404, 503).
        public var status: Int
        public var body: [UInt8]
    }

    /// Why a fetch failed; `description` names the address and what to check.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// - Parameters:
    ///   - host: the server's address.
    ///   - port: its port.
    ///   - path: e.g. `/status`.
    ///   - timeout: the whole exchange, connect included.
    ///   - maxBytes: a response larger than this is refused.
    /// - Throws: ``Failure`` when the server cannot be reached, does not answer in time, or answers something that
    ///   is not HTTP.
    public static func get(
        host: String, port: Int, path: String, timeout: Duration = .seconds(5), maxBytes: Int = 16 << 20
    ) async throws(Failure) -> Response {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let raw: [UInt8]
        do {
            raw = try await exchange(
                host: host, port: port, path: path, timeout: timeout, maxBytes: maxBytes, address: address
            ).get()
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(
                description: "\(address): cannot fetch \(path) (\(error)); is the node running with a status address?")
        }
        guard let response = parse(raw) else {
            throw Failure(description: "\(address): the answer to GET \(path) is not an HTTP response")
        }
        return response
    }

    /// The whole exchange on one event loop, the timeout included (a busy cooperative thread pool cannot make it
    /// fire early or late).
    private static func exchange(
        host: String, port: Int, path: String, timeout: Duration, maxBytes: Int, address: String
    ) -> EventLoopFuture<[UInt8]> {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let promise = loop.makePromise(of: [UInt8].self)
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        let timer = loop.scheduleTask(in: .nanoseconds(nanoseconds)) {
            promise.fail(Failure(description: "\(address): no answer within \(timeout)"))
        }
        let hostHeader = host.contains(":") ? "[\(host)]" : host
        let request = "GET \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nConnection: close\r\n\r\n"
        ClientBootstrap(group: loop)
            .connectTimeout(.nanoseconds(nanoseconds))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ResponseCollector(promise: promise, maxBytes: maxBytes, path: path))
                }
            }
            .connect(host: host, port: port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    channel.writeAndFlush(ByteBuffer(string: request), promise: nil)
                    promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                case .failure(let error):
                    promise.fail(error)
                }
            }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        return promise.futureResult
    }

    /// The status code and the body after the blank line (the server closes after one response).
    static func parse(_ raw: [UInt8]) -> Response? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard raw.count >= separator.count,
            let end = (0...(raw.count - separator.count)).first(where: { raw[$0..<$0 + 4].elementsEqual(separator) })
        else { return nil }
        let head = String(decoding: raw[..<end], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n", maxSplits: 1).first ?? ""
        let fields = statusLine.split(separator: " ")
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/1."), let status = Int(fields[1]) else { return nil }
        return Response(status: status, body: Array(raw[(end + 4)...]))
    }
}

/// Collects a response until the server closes; fails past `maxBytes`.
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let promise: EventLoopPromise<[UInt8]>
    private let maxBytes: Int
    private let path: String
    private var bytes: [UInt8] = []

    init(promise: EventLoopPromise<[UInt8]>, maxBytes: Int, path: String) {
        self.promise = promise
        self.maxBytes = maxBytes
        self.path = path
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let chunk = unwrapInboundIn(data)
        guard bytes.count + chunk.readableBytes <= maxBytes else {
            let message = "the answer to GET \(path) is larger than \(maxBytes) bytes"
            promise.fail(EndpointClient.Failure(description: message))
            context.close(promise: nil)
            return
        }
        bytes += chunk.readableBytesView
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.succeed(bytes)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ResponseCollector: Sendable {}
