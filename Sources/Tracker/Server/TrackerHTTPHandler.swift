import Identity
import Logging
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// What every connection handler shares: configuration, metrics, the store's loop and each loop's context.
final class TrackerShared: Sendable {
    let configuration: TrackerConfiguration
    let metrics: TrackerMetrics
    let logger: Logger
    let storeLoop: any EventLoop
    let core: NIOLoopBound<TrackerCore>
    let contexts: [ObjectIdentifier: NIOLoopBound<LoopContext>]

    init(
        configuration: TrackerConfiguration, metrics: TrackerMetrics, logger: Logger, storeLoop: any EventLoop,
        core: NIOLoopBound<TrackerCore>, contexts: [ObjectIdentifier: NIOLoopBound<LoopContext>]
    ) {
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.storeLoop = storeLoop
        self.core = core
        self.contexts = contexts
    }
}

/// Serves announces and scrapes on one connection: HTTP/1.1 with keep-alive and in-order pipelining, bencoded
/// bodies, refusals as HTTP 200 with `failure reason`, and a per-request deadline.
final class TrackerHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private let shared: TrackerShared
    private let local: LoopContext
    private var head: HTTPRequestHead?
    private var remote: PeerAddress?
    private var busy = false
    private var closing = false
    private var pending = CircularBuffer<HTTPRequestHead>(initialCapacity: 2)
    private var responses = 0
    private var responsesAtLastCheck = -1
    private var timeout: Scheduled<Void>?

    static let maxPipelined = 16

    init(shared: TrackerShared, local: LoopContext) {
        self.shared = shared
        self.local = local
    }

    func channelActive(context: ChannelHandlerContext) {
        remote = context.channel.remoteAddress.flatMap(PeerAddress.init)
        scheduleTimeout(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        timeout = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
        case .body:
            break
        case .end:
            guard let requestHead = head, !closing else { return }
            head = nil
            if busy {
                guard pending.count < Self.maxPipelined else {
                    closing = true
                    context.close(promise: nil)
                    return
                }
                pending.append(requestHead)
            } else {
                process(context: context, head: requestHead)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !closing else { return }
        closing = true
        if !busy, context.channel.isActive {
            // The request line or headers were malformed or too large (HTTPParserError), or the socket failed.
            let status: String
            if let parserError = error as? HTTPParserError, case .headerOverflow = parserError {
                status = "431 Request Header Fields Too Large"
            } else {
                status = "400 Bad Request"
            }
            write(context: context, status: status, body: Array("bad request\n".utf8), keepAlive: false, http10: false)
        } else {
            context.close(promise: nil)
        }
    }

    // MARK: Timeout

    private func scheduleTimeout(context: ChannelHandlerContext) {
        responsesAtLastCheck = responses
        let seconds = shared.configuration.requestTimeoutSeconds
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: .seconds(seconds)) {
            let (handler, context) = bound.value
            handler.timeoutFired(context: context)
        }
    }

    private func timeoutFired(context: ChannelHandlerContext) {
        timeout = nil
        guard context.channel.isActive else { return }
        if busy || responses != responsesAtLastCheck {
            scheduleTimeout(context: context)
        } else {
            closing = true
            context.close(promise: nil)
        }
    }

    // MARK: Requests

    private func process(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let keepAlive = head.isKeepAlive
        let http10 = head.version.minor == 0
        guard head.method == .GET else {
            write(
                context: context, status: "405 Method Not Allowed", body: Array("use GET\n".utf8),
                keepAlive: false, http10: http10)
            return
        }
        var uri = head.uri
        let outcome = uri.withUTF8 { buffer in route(UnsafeRawBufferPointer(buffer), head: head) }
        switch outcome {
        case .respond(let status, let body, let close):
            write(context: context, status: status, body: body, keepAlive: keepAlive && !close, http10: http10)
        case .refuse(let refusal):
            shared.metrics.refused(refusal.cause)
            shared.logger.debug(
                "refused", metadata: ["cause": "\(refusal.cause.rawValue)", "reason": "\(refusal.reason)"])
            local.scratch.removeAll(keepingCapacity: true)
            BencodeWriter.failure(refusal.reason, into: &local.scratch)
            write(context: context, status: "200 OK", body: local.scratch, keepAlive: keepAlive, http10: http10)
        case .store(let work):
            runOnStore(context: context, keepAlive: keepAlive, http10: http10, work)
        }
    }

    private enum Outcome {
        case respond(status: String, body: [UInt8], close: Bool)
        case refuse(Refusal)
        case store(@Sendable (TrackerCore) -> Result<[UInt8], Refusal>)
    }

    private func route(_ raw: UnsafeRawBufferPointer, head: HTTPRequestHead) -> Outcome {
        let configuration = shared.configuration
        let target: RequestTarget
        do {
            target = try RequestTarget.parse(raw, limits: configuration.limits)
        } catch {
            if error.code == .targetTooLong {
                return .respond(status: "414 URI Too Long", body: Array("request target too long\n".utf8), close: true)
            }
            return .respond(status: "404 Not Found", body: Array("not found: \(error)\n".utf8), close: false)
        }
        let query = UnsafeRawBufferPointer(rebasing: raw[target.query])
        let snapshot = local.snapshot
        // Host, path and clock matter only to signed requests (the signature covers them).
        var path = ""
        var host = ""
        var now: Int64 = 0
        if case .announce(nil) = target.endpoint {
            Self.signingContext(raw, target, head, configuration, &path, &host, &now)
        }
        if case .scrape(nil) = target.endpoint {
            Self.signingContext(raw, target, head, configuration, &path, &host, &now)
        }
        switch target.endpoint {
        case .announce(let passkey):
            let request: AnnounceRequest
            do {
                request = try AnnounceRequest.parse(query: query, limits: configuration.limits)
            } catch {
                return .refuse(.malformed(error))
            }
            let admitted = snapshot.admit(
                passkey: passkey, infoHash: request.infoHash, peerID: request.peerID, port: request.port,
                event: request.event, signed: request.signed, host: host, path: path, now: now,
                window: configuration.signatureWindow)
            let owner: UInt32
            switch admitted {
            case .failure(let refusal): return .refuse(refusal)
            case .success(let id): owner = id
            }
            guard let address = clientAddress(head: head, request: request) else {
                return .refuse(Refusal(.malformedRequest, "malformed request: no usable client address"))
            }
            (passkey == nil ? shared.metrics.signedAnnounces : shared.metrics.passkeyAnnounces).increment()
            return .store { core in core.announce(request, address: address, owner: owner) }
        case .scrape(let passkey):
            let request: ScrapeRequest
            do {
                request = try ScrapeRequest.parse(query: query, limits: configuration.limits)
            } catch {
                return .refuse(.malformed(error))
            }
            if passkey == nil && (request.peerID == nil || request.port == nil) && request.signed != nil {
                return .refuse(
                    Refusal(.malformedRequest, "malformed request: a signed scrape needs peer_id and port"))
            }
            let admitted = snapshot.admit(
                passkey: passkey, infoHash: request.infoHashes[0], peerID: request.peerID ?? .zero,
                port: request.port ?? 0, event: .none, signed: request.signed, host: host, path: path, now: now,
                window: configuration.signatureWindow)
            if case .failure(let refusal) = admitted { return .refuse(refusal) }
            if let registered = snapshot.registered,
                let missing = request.infoHashes.first(where: { !registered.contains($0) })
            {
                return .refuse(.unregistered(missing))
            }
            shared.metrics.scrapes.increment()
            let hashes = request.infoHashes
            return .store { core in .success(core.scrape(hashes)) }
        }
    }

    private static func signingContext(
        _ raw: UnsafeRawBufferPointer, _ target: RequestTarget, _ head: HTTPRequestHead,
        _ configuration: TrackerConfiguration, _ path: inout String, _ host: inout String, _ now: inout Int64
    ) {
        let pathEnd = target.query.isEmpty && (raw.last != UInt8(ascii: "?")) ? raw.count : target.query.lowerBound - 1
        path = String(decoding: raw[0..<pathEnd], as: UTF8.self)
        host = configuration.publicHost ?? head.headers.first(name: "host") ?? ""
        now = Int64(time(nil))
    }

    private func clientAddress(head: HTTPRequestHead, request: AnnounceRequest) -> PeerAddress? {
        let configuration = shared.configuration
        if configuration.trustIPParameter, let ip = request.ip, let address = PeerAddress(literal: ip) {
            return address
        }
        if configuration.trustForwardedFor, let header = head.headers[canonicalForm: "x-forwarded-for"].last,
            let rightMost = header.split(separator: ",").last, let address = PeerAddress(literal: rightMost)
        {
            return address
        }
        return remote
    }

    // MARK: Store hop and responses

    private func runOnStore(
        context: ChannelHandlerContext, keepAlive: Bool, http10: Bool,
        _ work: @escaping @Sendable (TrackerCore) -> Result<[UInt8], Refusal>
    ) {
        if context.eventLoop === shared.storeLoop {
            finish(context: context, result: work(shared.core.value), keepAlive: keepAlive, http10: http10)
            return
        }
        busy = true
        let core = shared.core
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        shared.storeLoop.execute {
            let result = work(core.value)
            bound.eventLoop.execute {
                let (handler, context) = bound.value
                handler.busy = false
                handler.finish(context: context, result: result, keepAlive: keepAlive, http10: http10)
                handler.drainPending(context: context)
            }
        }
    }

    private func finish(context: ChannelHandlerContext, result: Result<[UInt8], Refusal>, keepAlive: Bool, http10: Bool)
    {
        switch result {
        case .success(let body):
            write(context: context, status: "200 OK", body: body, keepAlive: keepAlive, http10: http10)
        case .failure(let refusal):
            shared.metrics.refused(refusal.cause)
            var body: [UInt8] = []
            BencodeWriter.failure(refusal.reason, into: &body)
            write(context: context, status: "200 OK", body: body, keepAlive: keepAlive, http10: http10)
        }
    }

    private func drainPending(context: ChannelHandlerContext) {
        while !busy, !closing, let next = pending.popFirst() {
            process(context: context, head: next)
        }
    }

    private func write(context: ChannelHandlerContext, status: String, body: [UInt8], keepAlive: Bool, http10: Bool) {
        guard context.channel.isActive else { return }
        responses &+= 1
        var buffer = context.channel.allocator.buffer(capacity: 128 + body.count)
        buffer.writeStaticString(http10 ? "HTTP/1.0 " : "HTTP/1.1 ")
        buffer.writeString(status)
        buffer.writeStaticString("\r\nContent-Type: text/plain\r\nContent-Length: ")
        buffer.writeString(String(body.count))
        if !keepAlive {
            buffer.writeStaticString("\r\nConnection: close")
        } else if http10 {
            buffer.writeStaticString("\r\nConnection: keep-alive")
        }
        buffer.writeStaticString("\r\n\r\n")
        buffer.writeBytes(body)
        if keepAlive && !closing {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        } else {
            closing = true
            pending.removeAll()
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension TrackerHTTPHandler: Sendable {}
