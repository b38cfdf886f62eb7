import Identity
import Logging
import NIOCore

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
    let gate: ConnectionGate

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
        gate = ConnectionGate()
    }
}

/// The whole announce/scrape connection in one handler: reads raw bytes, parses request heads with
/// `RequestHeadParser` (bounded), answers each request with one pre-sized buffer, keep-alive and in-order
/// pipelining, `Connection: close` answered by writing and closing. Idle and slow connections are closed by the
/// event loop's sweep (`LoopContext.sweep`), not by a timer per connection.
final class AnnounceConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let shared: TrackerShared
    private let local: LoopContext
    private var context: ChannelHandlerContext?
    /// Received bytes not yet consumed by a request.
    private var received: ByteBuffer?
    /// How far the search for the end of the current head got (see `RequestHeadParser.parse`).
    private var scanned = 0
    /// A request is at the store loop; later requests wait in `received`.
    private var busy = false
    private var closing = false
    /// This connection's index in `local.connections` (-1 when not registered).
    var slot = -1
    /// The sweep tick of the connection's start or its last response.
    private(set) var lastActivity = 0

    /// Most bytes buffered while a request is at the store loop (pipelined requests); more closes the connection.
    static let maxBufferedWhileBusy = 64 * 1024

    init(shared: TrackerShared, local: LoopContext) {
        self.shared = shared
        self.local = local
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        lastActivity = local.tick
        local.register(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        local.unregister(self)
        self.context = nil
        received = nil
        shared.gate.count.wrappingSubtract(1, ordering: .relaxed)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var incoming = Self.unwrapInboundIn(data)
        if received == nil {
            received = incoming
        } else {
            received!.writeBuffer(&incoming)
        }
        if busy {
            if received!.readableBytes > Self.maxBufferedWhileBusy { abort(context: context) }
            return
        }
        serveReceived(context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        abort(context: context)
    }

    /// Called by the loop's sweep: the connection has not delivered a complete request head in time.
    var isIdle: Bool { !busy && !closing }

    func timedOut() {
        guard let context else { return }
        abort(context: context)
    }

    private func abort(context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        received = nil
        context.close(promise: nil)
    }

    // MARK: Requests

    /// What to do with the bytes at the front of `received`.
    private enum Step {
        case incomplete
        /// Answer now; `consumed` bytes of `received` were the request.
        case respond(consumed: Int, response: ByteBuffer, keepAlive: Bool)
        /// Hop to the store loop with `work`, which makes the response.
        case store(consumed: Int, work: @Sendable (TrackerCore) -> ByteBuffer, keepAlive: Bool)
    }

    private func serveReceived(context: ChannelHandlerContext) {
        while !busy && !closing {
            guard let buffer = received, buffer.readableBytes > 0 else {
                received = nil
                return
            }
            let step = buffer.withUnsafeReadableBytes { raw in self.step(raw, allocator: context.channel.allocator) }
            switch step {
            case .incomplete:
                return
            case .respond(let consumed, let response, let keepAlive):
                consume(consumed)
                send(response, keepAlive: keepAlive, context: context)
            case .store(let consumed, let work, let keepAlive):
                consume(consumed)
                runOnStore(work, keepAlive: keepAlive, context: context)
            }
        }
    }

    private func consume(_ count: Int) {
        scanned = 0
        if received!.readableBytes == count {
            received = nil
        } else {
            received!.moveReaderIndex(forwardBy: count)
        }
    }

    private func step(_ raw: UnsafeRawBufferPointer, allocator: ByteBufferAllocator) -> Step {
        let configuration = shared.configuration
        let head: RequestHead
        do {
            guard let parsed = try RequestHeadParser.parse(raw, limits: configuration.limits, scanned: &scanned) else {
                return .incomplete
            }
            head = parsed
        } catch {
            let status: StaticString =
                switch error.code {
                case .headTooLarge: "431 Request Header Fields Too Large"
                case .targetTooLong: "414 URI Too Long"
                default: "400 Bad Request"
                }
            return errorStep(raw.count, status, "\(error)", allocator)
        }
        let http10 = head.minorVersion == 0
        guard head.isGET else { return errorStep(head.length, "405 Method Not Allowed", "use GET", allocator) }
        guard !head.hasBody else {
            return errorStep(head.length, "400 Bad Request", "a GET request must not have a body", allocator)
        }
        let target = UnsafeRawBufferPointer(rebasing: raw[head.target])
        switch route(raw, head: head, target: target) {
        case .respond(let status, let body, let close):
            let keepAlive = head.keepAlive && !close
            return .respond(
                consumed: head.length,
                response: Self.response(status, body: body, keepAlive: keepAlive, http10: http10, allocator),
                keepAlive: keepAlive)
        case .refuse(let refusal):
            shared.metrics.refused(refusal.cause)
            shared.logger.debug(
                "refused", metadata: ["cause": "\(refusal.cause.rawValue)", "reason": "\(refusal.reason)"])
            local.scratch.removeAll(keepingCapacity: true)
            BencodeWriter.failure(refusal.reason, into: &local.scratch)
            return .respond(
                consumed: head.length,
                response: Self.response(
                    "200 OK", body: local.scratch, keepAlive: head.keepAlive, http10: http10, allocator),
                keepAlive: head.keepAlive)
        case .store(let work):
            let keepAlive = head.keepAlive
            let metrics = shared.metrics
            return .store(
                consumed: head.length,
                work: { core in
                    let body: [UInt8]
                    switch work(core) {
                    case .success(let bytes): body = bytes
                    case .failure(let refusal):
                        metrics.refused(refusal.cause)
                        var failure: [UInt8] = []
                        BencodeWriter.failure(refusal.reason, into: &failure)
                        body = failure
                    }
                    return Self.response("200 OK", body: body, keepAlive: keepAlive, http10: http10, allocator)
                }, keepAlive: keepAlive)
        }
    }

    private func errorStep(_ consumed: Int, _ status: StaticString, _ message: String, _ allocator: ByteBufferAllocator)
        -> Step
    {
        .respond(
            consumed: consumed,
            response: Self.response(
                status, body: Array((message + "\n").utf8), keepAlive: false, http10: false, allocator),
            keepAlive: false)
    }

    private enum Outcome {
        case respond(status: StaticString, body: [UInt8], close: Bool)
        case refuse(Refusal)
        /// Runs on the store loop: the response body, or a refusal if a reload raced the request.
        case store(@Sendable (TrackerCore) -> Result<[UInt8], Refusal>)
    }

    private func route(_ raw: UnsafeRawBufferPointer, head: RequestHead, target: UnsafeRawBufferPointer)
        -> Outcome
    {
        let configuration = shared.configuration
        let parsedTarget: RequestTarget
        do {
            parsedTarget = try RequestTarget.parse(target, limits: configuration.limits)
        } catch {
            if error.code == .targetTooLong {
                return .respond(status: "414 URI Too Long", body: Array("request target too long\n".utf8), close: true)
            }
            return .respond(status: "404 Not Found", body: Array("not found: \(error)\n".utf8), close: false)
        }
        let query = UnsafeRawBufferPointer(rebasing: target[parsedTarget.query])
        let snapshot = local.snapshot
        // Host, path and clock matter only to signed requests (the signature covers them).
        var path = ""
        var host = ""
        var now: Int64 = 0
        switch parsedTarget.endpoint {
        case .announce(nil), .scrape(nil):
            let pathEnd = parsedTarget.query.isEmpty && target.last != UInt8(ascii: "?")
                ? target.count : parsedTarget.query.lowerBound - 1
            path = String(decoding: target[0..<pathEnd], as: UTF8.self)
            host = configuration.publicHost ?? head.host.map { String(decoding: raw[$0], as: UTF8.self) } ?? ""
            now = Int64(time(nil))
        default:
            break
        }
        switch parsedTarget.endpoint {
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
            guard let address = clientAddress(raw, head: head, request: request) else {
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

    private func clientAddress(_ raw: UnsafeRawBufferPointer, head: RequestHead, request: AnnounceRequest)
        -> PeerAddress?
    {
        let configuration = shared.configuration
        if configuration.trustIPParameter, let ip = request.ip, let address = PeerAddress(literal: ip) {
            return address
        }
        if configuration.trustForwardedFor, let header = head.forwardedFor {
            let value = String(decoding: raw[header], as: UTF8.self)
            if let rightMost = value.split(separator: ",").last, let address = PeerAddress(literal: rightMost) {
                return address
            }
        }
        return context?.channel.remoteAddress.flatMap(PeerAddress.init)
    }

    // MARK: Store hop and responses

    private func runOnStore(
        _ work: @escaping @Sendable (TrackerCore) -> ByteBuffer, keepAlive: Bool, context: ChannelHandlerContext
    ) {
        if context.eventLoop === shared.storeLoop {
            send(work(shared.core.value), keepAlive: keepAlive, context: context)
            return
        }
        busy = true
        let core = shared.core
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        shared.storeLoop.execute {
            let response = work(core.value)
            bound.eventLoop.execute {
                let handler = bound.value
                handler.busy = false
                guard let context = handler.context, !handler.closing else { return }
                handler.send(response, keepAlive: keepAlive, context: context)
                handler.serveReceived(context: context)
            }
        }
    }

    private func send(_ response: ByteBuffer, keepAlive: Bool, context: ChannelHandlerContext) {
        lastActivity = local.tick
        if keepAlive {
            context.writeAndFlush(Self.wrapOutboundOut(response), promise: nil)
            return
        }
        closing = true
        received = nil
        // Close once the bytes are handed to the kernel (at once, unless the socket buffer is full).
        let channel = context.channel
        context.writeAndFlush(Self.wrapOutboundOut(response)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// The whole response (status line, headers, body) in one buffer of the right size.
    static func response(
        _ status: StaticString, body: [UInt8], keepAlive: Bool, http10: Bool, _ allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 112 + status.utf8CodeUnitCount + body.count)
        buffer.writeStaticString(http10 ? "HTTP/1.0 " : "HTTP/1.1 ")
        buffer.writeStaticString(status)
        buffer.writeStaticString("\r\nContent-Type: text/plain\r\nContent-Length: ")
        writeDecimal(body.count, into: &buffer)
        if !keepAlive {
            buffer.writeStaticString("\r\nConnection: close\r\n\r\n")
        } else if http10 {
            buffer.writeStaticString("\r\nConnection: keep-alive\r\n\r\n")
        } else {
            buffer.writeStaticString("\r\n\r\n")
        }
        buffer.writeBytes(body)
        return buffer
    }

    private static func writeDecimal(_ value: Int, into buffer: inout ByteBuffer) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var count = 0
        var rest = UInt64(max(0, value))
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[23 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[(24 - count)...]))
        }
    }
}

@available(*, unavailable)
extension AnnounceConnectionHandler: Sendable {}
