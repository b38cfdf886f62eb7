import Engine
import Logging
import NIOCore
import NIOHTTP1
import PeerTLS

/// Answers one connection's requests for a ``MirrorServer``, in order (NIO's pipelining handler holds the next
/// request until this one's response has ended).
///
/// A response body is streamed: one chunk read on the storage's thread pool, written, and the next read only while
/// the channel is writable, so memory per connection stays about one chunk plus the socket's buffer.
final class MirrorRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let catalog: MirrorCatalog
    private let statistics: MirrorServerStatistics
    private let settings: MirrorServer.Settings
    private let privateSwarm: PeerTLSTransport?
    private let logger: Logger

    private var head: HTTPRequestHead?
    /// Closes the connection when no whole request arrived in time.
    private var deadline: Scheduled<Void>?
    private var body: BodyStream?
    private var active = false
    /// Requests answered on this connection (a keep-alive connection that then goes quiet is closed, not refused).
    private var answeredHere = 0

    /// The rest of a body being sent.
    private struct BodyStream {
        let storage: Storage
        var offset: Int64
        var remaining: Int64
        let keepAlive: Bool
        var reading = false
        var waitingForWritable = false
    }

    init(
        catalog: MirrorCatalog, statistics: MirrorServerStatistics, settings: MirrorServer.Settings,
        privateSwarm: PeerTLSTransport?, logger: Logger
    ) {
        self.catalog = catalog
        self.statistics = statistics
        self.settings = settings
        self.privateSwarm = privateSwarm
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        active = true
        armDeadline(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        active = false
        deadline?.cancel()
        body = nil
        context.fireChannelInactive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive {
            active = true
            armDeadline(context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            statistics.refused("idle connection")
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
        case .body:
            // GET and HEAD carry no body worth reading; whatever comes is dropped (the request deadline bounds it).
            break
        case .end:
            deadline?.cancel()
            deadline = nil
            guard let requestHead = head else { return }
            head = nil
            answeredHere += 1
            answer(requestHead, context: context)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, body?.waitingForWritable == true {
            body?.waitingForWritable = false
            readNext(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Answering

    private func armDeadline(context: ChannelHandlerContext) {
        deadline?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: settings.requestTimeout) {
            let (handler, context) = loopBound.value
            // A request begun and not finished, or none at all on a new connection, is refused; a kept-alive
            // connection with nothing more to ask is only closed.
            if handler.head != nil || handler.answeredHere == 0 { handler.statistics.refused("request timeout") }
            context.close(promise: nil)
        }
    }

    private func answer(_ request: HTTPRequestHead, context: ChannelHandlerContext) {
        guard request.method == .GET || request.method == .HEAD else {
            statistics.refused("method not allowed")
            var headers = HTTPHeaders([("Allow", "GET, HEAD")])
            sendText(
                "only GET and HEAD are served here", status: .methodNotAllowed, headers: &headers, request: request,
                keepAlive: false, context: context)
            return
        }
        let (passkey, target) = MirrorRequest.passkey(in: request.uri)
        switch MirrorRequest.route(target) {
        case .invalid(let why):
            statistics.refused("bad request")
            var headers = HTTPHeaders()
            sendText(why, status: .badRequest, headers: &headers, request: request, keepAlive: false, context: context)
        case .torrentFile(let infoHash, let path):
            answer(
                catalog.lookup(infoHash: infoHash, path: path), passkey: passkey, request: request, context: context)
        case .digest(let sha256):
            answer(catalog.lookup(sha256: sha256), passkey: passkey, request: request, context: context)
        }
    }

    private func answer(
        _ lookup: MirrorCatalog.Lookup, passkey: String?, request: HTTPRequestHead, context: ChannelHandlerContext
    ) {
        let keepAlive = request.isKeepAlive
        switch lookup {
        case .notFound(let reason):
            notFound(reason, request: request, keepAlive: keepAlive, context: context)
        case .file(let entry, let index, let sha256):
            guard !entry.isPrivate || isAllowlisted(context.channel, passkey: passkey) else {
                // The same answer as for an unknown torrent: a LAN client learns nothing of private torrents.
                notFound("private torrent", request: request, keepAlive: keepAlive, context: context)
                return
            }
            serve(entry, file: index, sha256: sha256, request: request, keepAlive: keepAlive, context: context)
        }
    }

    /// The request carries a passkey the allowlist allows now, or the connection is TLS with a node certificate
    /// whose key it allows now (checked per request, so a credential revoked by a reload gets nothing more, even
    /// before a revoked key's connection is closed).
    private func isAllowlisted(_ channel: any Channel, passkey: String?) -> Bool {
        guard let privateSwarm else { return false }
        let allowlist = privateSwarm.allowlist.current
        if let passkey, case .allowed = allowlist.lookup(passkey: passkey) { return true }
        guard let identity = privateSwarm.authenticatedIdentity(of: channel) else { return false }
        guard case .allowed = allowlist.lookup(nodeKey: identity.publicKey) else { return false }
        return true
    }

    private func notFound(
        _ reason: String, request: HTTPRequestHead, keepAlive: Bool, context: ChannelHandlerContext
    ) {
        statistics.refused(reason)
        logger.debug("HTTP mirror: not found", metadata: ["uri": "\(request.uri)", "reason": "\(reason)"])
        var headers = HTTPHeaders()
        sendText(
            "not found: this node serves no such file; paths are /t/<info-hash-hex>/<name>[/<path>] and /sha256/<hex>",
            status: .notFound, headers: &headers, request: request, keepAlive: keepAlive, context: context)
    }

    private func serve(
        _ entry: MirrorCatalog.Entry, file index: Int, sha256: String?, request: HTTPRequestHead, keepAlive: Bool,
        context: ChannelHandlerContext
    ) {
        let storage = entry.storage
        let layoutFile = storage.layout.files[index]
        let have = storage.have
        if let missing = storage.layout.pieces(ofFile: index).first(where: { !have[$0] }) {
            statistics.refused("file not verified")
            var headers = HTTPHeaders([("Retry-After", "60")])
            sendText(
                "\(layoutFile.displayPath): piece \(missing) is not verified on this node; not served until it is",
                status: .serviceUnavailable, headers: &headers, request: request, keepAlive: keepAlive,
                context: context)
            return
        }
        let size = layoutFile.length
        // Strong either way: the content's digest once known, else the info-hash and file index (which fix the bytes).
        let byTorrent = "\"\(entry.infoHash)-\(index)\""
        let etag = sha256.map { "\"sha256-\($0)\"" } ?? byTorrent
        var headers = HTTPHeaders([
            ("ETag", etag), ("Accept-Ranges", "bytes"), ("Cache-Control", "public, max-age=31536000, immutable"),
            ("Content-Type", "application/octet-stream"),
        ])
        // A client that cached the file before its digest was known holds the info-hash tag: the same bytes.
        if let tags = request.headers.first(name: "If-None-Match"),
            MirrorRequest.matches(tags, etag: etag) || MirrorRequest.matches(tags, etag: byTorrent)
        {
            respond(.notModified, headers: headers, request: request, keepAlive: keepAlive, context: context)
            return
        }
        // Ranges are defined for GET only (RFC 9110 §14.2): HEAD describes the whole file.
        var range = ByteRangeRequest(header: request.method == .GET ? request.headers.first(name: "Range") : nil, size: size)
        if let ifRange = request.headers.first(name: "If-Range"), ifRange.trimmingSpaces != etag,
            ifRange.trimmingSpaces != byTorrent
        {
            // A date, a weak or another tag: the client's copy may differ, so it gets the whole file (RFC 9110 §13.1.5).
            range = .whole
        }
        let first: Int64
        let count: Int64
        let status: HTTPResponseStatus
        switch range {
        case .whole:
            (first, count, status) = (0, size, .ok)
        case .partial(let bytes):
            (first, count, status) = (bytes.lowerBound, bytes.upperBound - bytes.lowerBound + 1, .partialContent)
            headers.add(name: "Content-Range", value: "bytes \(bytes.lowerBound)-\(bytes.upperBound)/\(size)")
        case .unsatisfiable:
            statistics.refused("range not satisfiable")
            headers.remove(name: "Cache-Control")
            headers.replaceOrAdd(name: "Content-Range", value: "bytes */\(size)")
            headers.replaceOrAdd(name: "Content-Type", value: "text/plain")
            let text = "the range asked for is outside the file's \(size) bytes\n"
            headers.add(name: "Content-Length", value: "\(text.utf8.count)")
            respond(
                .rangeNotSatisfiable, headers: headers, request: request, keepAlive: keepAlive, context: context,
                text: text)
            return
        }
        headers.add(name: "Content-Length", value: "\(count)")
        statistics.answered()
        context.write(
            wrapOutboundOut(.head(response(status, headers: headers, request: request, keepAlive: keepAlive))),
            promise: nil)
        if request.method == .HEAD || count == 0 {
            end(keepAlive: keepAlive, context: context)
            return
        }
        context.flush()
        body = BodyStream(
            storage: storage, offset: layoutFile.offset + first, remaining: count, keepAlive: keepAlive)
        readNext(context: context)
    }

    /// Reads the body's next chunk and writes it; called again when the write is accepted and the channel is
    /// writable, or when it becomes writable.
    private func readNext(context: ChannelHandlerContext) {
        guard active, var stream = body, !stream.reading else { return }
        guard stream.remaining > 0 else {
            body = nil
            end(keepAlive: stream.keepAlive, context: context)
            return
        }
        guard context.channel.isWritable else {
            body?.waitingForWritable = true
            return
        }
        let length = Int(min(Int64(settings.chunkLength), stream.remaining))
        stream.reading = true
        body = stream
        let buffer = context.channel.allocator.buffer(capacity: length)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        stream.storage.read(contentOffset: stream.offset, length: length, into: buffer, on: context.eventLoop)
            .whenComplete { result in
                let (handler, context) = loopBound.value
                handler.chunkRead(result, length: length, context: context)
            }
    }

    private func chunkRead(_ result: Result<ByteBuffer, any Error>, length: Int, context: ChannelHandlerContext) {
        guard active, var stream = body else { return }
        switch result {
        case .success(let chunk):
            stream.reading = false
            stream.offset += Int64(length)
            stream.remaining -= Int64(length)
            body = stream
            statistics.served(length)
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(chunk))), promise: nil)
            readNext(context: context)
        case .failure(let error):
            // The head is sent: the only honest signal left is to close before the promised length.
            logger.warning(
                "HTTP mirror: reading the data failed; closing the connection",
                metadata: ["error": "\(error)"])
            body = nil
            statistics.refused("read error")
            context.close(promise: nil)
        }
    }

    private func sendText(
        _ text: String, status: HTTPResponseStatus, headers: inout HTTPHeaders, request: HTTPRequestHead,
        keepAlive: Bool, context: ChannelHandlerContext
    ) {
        let line = text + "\n"
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: "\(line.utf8.count)")
        respond(status, headers: headers, request: request, keepAlive: keepAlive, context: context, text: line)
    }

    private func respond(
        _ status: HTTPResponseStatus, headers: HTTPHeaders, request: HTTPRequestHead, keepAlive: Bool,
        context: ChannelHandlerContext, text: String? = nil
    ) {
        statistics.answered()
        context.write(
            wrapOutboundOut(.head(response(status, headers: headers, request: request, keepAlive: keepAlive))),
            promise: nil)
        if let text, request.method != .HEAD {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: text)))), promise: nil)
        }
        end(keepAlive: keepAlive, context: context)
    }

    private func response(
        _ status: HTTPResponseStatus, headers: HTTPHeaders, request: HTTPRequestHead, keepAlive: Bool
    ) -> HTTPResponseHead {
        var headers = headers
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        return HTTPResponseHead(version: request.version, status: status, headers: headers)
    }

    private func end(keepAlive: Bool, context: ChannelHandlerContext) {
        guard keepAlive else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        // Armed before the end is written: writing it may hand over a pipelined request at once, whose end must
        // cancel this deadline rather than be overtaken by it.
        armDeadline(context: context)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

@available(*, unavailable)
extension MirrorRequestHandler: Sendable {}
