import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// Announces to HTTP trackers over a plain NIO HTTP/1.1 client pipeline, bounded in response size and time.
public struct HTTPTrackerClient: Sendable {
    public var group: any EventLoopGroup
    /// Connect + request + response must finish within this.
    public var timeout: TimeAmount
    /// Larger responses are refused.
    public var maximumResponseSize: Int

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, timeout: TimeAmount = .seconds(15), maximumResponseSize: Int = 1 << 20) {
        self.group = group
        self.timeout = timeout
        self.maximumResponseSize = maximumResponseSize
    }

    /// Sends one announce to one tracker and parses the answer.
    ///
    /// - Throws: ``EngineError`` (`.trackerUnreachable`, `.trackerHTTPStatus`, `.trackerResponseTooLarge`,
    ///   `.malformedTrackerResponse`, `.trackerFailure`).
    public func announce(_ request: AnnounceRequest, to url: AnnounceURL) async throws(EngineError)
        -> AnnounceResponse
    {
        let body = try await get(url, target: request.requestTarget(for: url))
        return try AnnounceResponse.parse(body, from: url.text)
    }

    /// A bounded HTTP GET; returns the body of a 200 response.
    func get(_ url: AnnounceURL, target: String) async throws(EngineError) -> [UInt8] {
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: [UInt8].self)
        let limit = maximumResponseSize
        let head = HTTPRequestHead(
            version: .http1_1, method: .GET, uri: target,
            headers: [
                "Host": url.hostHeader, "User-Agent": "swtorrent/0.1", "Accept-Encoding": "identity",
                "Connection": "close",
            ])
        let timeout = timeout
        let description = url.text
        let connect = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(
                        TrackerResponseHandler(head: head, limit: limit, promise: promise, url: description))
                }
            }
            .connect(host: url.host, port: url.port)
        connect.whenFailure { error in
            promise.fail(EngineError(.trackerUnreachable, "tracker \(description): \(error)"))
        }
        let timer = eventLoop.scheduleTask(in: timeout) {
            promise.fail(EngineError(.trackerUnreachable, "tracker \(description): no answer within \(timeout)"))
        }
        promise.futureResult.whenComplete { _ in
            timer.cancel()
            connect.whenSuccess { $0.close(promise: nil) }
        }
        do {
            return try await promise.futureResult.get()
        } catch let error as EngineError {
            throw error
        } catch {
            throw EngineError(.trackerUnreachable, "tracker \(description): \(error)")
        }
    }
}

/// Sends the request when the connection is up and collects a bounded response body.
final class TrackerResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let head: HTTPRequestHead
    private let limit: Int
    private let promise: EventLoopPromise<[UInt8]>
    private let url: String
    private var status: HTTPResponseStatus?
    private var body: [UInt8] = []

    init(head: HTTPRequestHead, limit: Int, promise: EventLoopPromise<[UInt8]>, url: String) {
        self.head = head
        self.limit = limit
        self.promise = promise
        self.url = url
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let response):
            status = response.status
            if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > limit {
                fail(context, EngineError(.trackerResponseTooLarge, "tracker \(url): \(length) bytes"))
            }
        case .body(var buffer):
            guard body.count + buffer.readableBytes <= limit else {
                fail(context, EngineError(.trackerResponseTooLarge, "tracker \(url): more than \(limit) bytes"))
                return
            }
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            if status == .ok {
                promise.succeed(body)
            } else {
                let code = status.map { "\($0.code) \($0.reasonPhrase)" } ?? "no status"
                // Trackers often explain a refusal in a bencoded body even with a non-200 status.
                do {
                    _ = try AnnounceResponse.parse(body, from: url)
                    fail(context, EngineError(.trackerHTTPStatus, "tracker \(url): HTTP \(code)"))
                } catch let error where error.code == .trackerFailure {
                    fail(context, error)
                } catch {
                    fail(context, EngineError(.trackerHTTPStatus, "tracker \(url): HTTP \(code)"))
                }
            }
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(EngineError(.trackerUnreachable, "tracker \(url): connection closed before the response ended"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, EngineError(.trackerUnreachable, "tracker \(url): \(error)"))
    }

    private func fail(_ context: ChannelHandlerContext, _ error: EngineError) {
        promise.fail(error)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension TrackerResponseHandler: Sendable {}
