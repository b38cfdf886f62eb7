import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOSSL
import PeerWire

/// One run of consecutive blocks fetched from a mirror: one Range request per file the run touches (in order, on
/// the node's HTTP client), the body cut into the run's blocks as it streams in, each block handed to the session
/// as soon as it is complete. Pad-file bytes (BEP 47) are zeros and never fetched.
///
/// Every response is held to what was asked: `206 Partial Content` with the asked `Content-Range` (or `200` when
/// the whole file was asked for), a body of exactly the asked length (a longer one is cut off at the first excess
/// byte, a shorter one fails at its end), and no more than ``MirrorSettings/readTimeout`` without a byte. Redirects
/// are followed by the client (at most ``HostCore/mirrorRedirectLimit``). Lives on the session's event loop.
final class MirrorFetch {
    unowned let mirror: HTTPMirror
    let id: Int
    /// The run's blocks, in byte order.
    let blocks: [BlockRequest]
    private let spans: [StorageLayout.Span]
    private var spanIndex = 0
    private var spanReceived = 0
    private var blockIndex = 0
    /// The current block while it arrives in pieces smaller than it.
    private var partial: ByteBuffer?
    private var task: HTTPClient.Task<Void>?
    private var timer: Scheduled<Void>?
    private var lastByteAt: Double
    private(set) var finished = false
    /// The file (its index in the layout) the mirror answered `404` or `410` for: it lacks that file.
    private(set) var lackingFile: Int?
    /// The request failed at a keyed node's handshake with the client's own TLS settings, which the mirror has left
    /// for verified ones (``HTTPMirror/useVerifiedTLS(after:generation:)``): asked again at once, not counted as a
    /// failure.
    private(set) var switchedTLS = false
    /// The request failed at the handshake with the verified settings and switched the mirror back to the client's
    /// (``HTTPMirror/useClientTLS(after:generation:)``): counted as a failure like any other.
    private(set) var switchedBack = false
    /// The request failed at the handshake with TLS settings the mirror has left since (it was made before the
    /// mirror's last switch): not counted, and it switches nothing.
    private(set) var staleTLS = false
    /// The current request uses the client's own TLS settings (not the mirror's verified ones).
    private var usesClientTLS = true
    /// The mirror's ``HTTPMirror/tlsGeneration`` when the current request was made.
    private var tlsGeneration = 0

    init(mirror: HTTPMirror, id: Int, blocks: [BlockRequest]) {
        self.mirror = mirror
        self.id = id
        self.blocks = blocks
        let layout = mirror.core.storage.layout
        let first = blocks[0]
        let length = blocks.reduce(0) { $0 + $1.length }
        self.spans = layout.spans(
            offset: Int64(first.piece) * Int64(layout.pieceLength) + Int64(first.begin), length: length)
        self.lastByteAt = mirror.core.now()
    }

    /// The blocks not delivered yet.
    var undelivered: ArraySlice<BlockRequest> { blocks[blockIndex...] }

    private var loop: any EventLoop { mirror.core.loop }

    func start() {
        armTimer()
        nextSpan()
    }

    /// Ends the fetch without a word to the mirror (the session stops, the mirror was dropped).
    func cancel() {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        task?.cancel()
    }

    private func finish(_ failure: String?) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        if failure != nil { task?.cancel() }
        mirror.fetchEnded(self, failure: failure)
    }

    // MARK: - Requests

    private func nextSpan() {
        let location = mirror.location
        while spanIndex < spans.count, location.fileURLs[spans[spanIndex].file] == nil {
            // Pad file: zeros, not on any mirror.
            var zeros = ByteBufferAllocator().buffer(capacity: spans[spanIndex].length)
            zeros.writeRepeatingByte(0, count: spans[spanIndex].length)
            spanIndex += 1
            consume(zeros)
            if finished { return }
        }
        guard spanIndex < spans.count else { return finish(nil) }
        let span = spans[spanIndex]
        let url = location.fileURLs[span.file]!
        spanReceived = 0
        var headers = HTTPHeaders()
        headers.add(name: "Range", value: "bytes=\(span.fileOffset)-\(span.fileOffset + Int64(span.length) - 1)")
        headers.add(name: "User-Agent", value: "swtorrent")
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(
                url: url, method: .GET, headers: headers, tlsConfiguration: mirror.tlsConfiguration)
            usesClientTLS = mirror.tlsConfiguration == nil
            tlsGeneration = mirror.tlsGeneration
        } catch {
            return finish("\(url): \(error)")
        }
        let delegate = MirrorResponse(fetch: NIOLoopBound(self, eventLoop: loop))
        let task = mirror.core.host.httpClient.execute(
            request: request, delegate: delegate, eventLoop: .delegateAndChannel(on: loop), deadline: nil,
            logger: nil)
        self.task = task
        // A redirect the client refuses (too many, a cycle) fails the task without telling the delegate.
        task.futureResult.hop(to: loop).assumeIsolated().whenFailure { error in
            guard self.task === task else { return }
            self.failed(error)
        }
    }

    /// Fails the fetch when no byte arrived for the read timeout.
    private func armTimer() {
        let timeout = mirror.settings.readTimeout
        let due = lastByteAt + timeout.seconds - mirror.core.now()
        timer = loop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(max(due, 0.001) * 1e9))) {
            guard !self.finished else { return }
            if self.mirror.core.now() - self.lastByteAt >= timeout.seconds {
                self.finish("no data for \(HTTPMirror.text(timeout))")
            } else {
                self.armTimer()
            }
        }
    }

    // MARK: - Responses

    fileprivate func head(_ head: HTTPResponseHead) {
        guard !finished else { return }
        lastByteAt = mirror.core.now()
        let span = spans[spanIndex]
        let file = mirror.core.storage.layout.files[span.file]
        let last = span.fileOffset + Int64(span.length) - 1
        switch head.status.code {
        case 206:
            // RFC 9110 §15.3.7: a 206 for one range carries its Content-Range. The total must be the file's length
            // (or `*`): another total is another version of the file.
            guard let range = head.headers.first(name: "Content-Range") else {
                return finish("answered 206 without a Content-Range to a request for bytes \(span.fileOffset)-\(last)")
            }
            let asked = "bytes \(span.fileOffset)-\(last)/"
            // The unit is case-insensitive (RFC 9110 §14.1); the numbers have no case.
            let given = range.lowercased()
            guard given == asked + "\(file.length)" || given == asked + "*" else {
                return finish(
                    "answered Content-Range '\(range)' to a request for bytes \(span.fileOffset)-\(last) of a "
                        + "\(file.length)-byte file")
            }
        case 200 where span.fileOffset == 0 && Int64(span.length) == file.length:
            break  // the whole file was asked for
        case 200:
            return finish("answered 200 to a Range request (the server does not serve ranges)")
        default:
            if head.status == .notFound || head.status == .gone { lackingFile = span.file }
            return finish("HTTP \(head.status.code) \(head.status.reasonPhrase) for \(mirror.location.fileURLs[span.file]!)")
        }
        if let text = head.headers.first(name: "Content-Length"), let length = Int64(text),
            length != Int64(span.length)
        {
            return finish("Content-Length \(length) for a request of \(span.length) bytes")
        }
    }

    fileprivate func body(_ part: ByteBuffer) {
        guard !finished else { return }
        lastByteAt = mirror.core.now()
        let length = spans[spanIndex].length
        guard spanReceived + part.readableBytes <= length else {
            return finish("body longer than the \(length) bytes asked for")
        }
        spanReceived += part.readableBytes
        consume(part)
    }

    fileprivate func ended() {
        guard !finished else { return }
        task = nil
        let length = spans[spanIndex].length
        guard spanReceived == length else {
            return finish("body shorter than asked: \(spanReceived) of \(length) bytes")
        }
        spanIndex += 1
        nextSpan()
    }

    fileprivate func failed(_ error: any Error) {
        guard !finished else { return }
        let reason = MirrorTrustRoots.describe(error)
        if usesClientTLS, Self.isIncompatibleHandshake(error),
            mirror.useVerifiedTLS(after: reason, generation: tlsGeneration)
        {
            switchedTLS = true
            return finish(
                "\(reason); the next requests verify the server's certificate instead of presenting the node's")
        }
        if !usesClientTLS {
            // Only an incompatible handshake switches back (an appliance refuses the verified settings): a certificate
            // that does not verify keeps them, or an on-path attacker showing one would get the node certificate and
            // the requests, unverified.
            let certificate = MirrorTrustRoots.isUnverifiedCertificate(error)
            let incompatible = Self.isIncompatibleHandshake(error)
            if (certificate || incompatible) && tlsGeneration != mirror.tlsGeneration {
                staleTLS = true
            } else if incompatible {
                switchedBack = mirror.useClientTLS(after: reason, generation: tlsGeneration)
            }
        }
        finish(reason)
    }

    /// Words in the TLS library's errors when client and server share no protocol version, cipher or signature
    /// algorithm (what a keyed node's TLS 1.3, Ed25519-only settings meet at a third-party server, and what the
    /// verified settings meet at an appliance), or the server refused the handshake with a `handshake_failure` alert.
    static let incompatibleHandshakeErrors = [
        "TLSV1_ALERT_PROTOCOL_VERSION", "SSLV3_ALERT_HANDSHAKE_FAILURE", "UNSUPPORTED_PROTOCOL",
        "NO_COMMON_SIGNATURE_ALGORITHMS", "WRONG_SIGNATURE_TYPE", "NO_SHARED_CIPHER",
    ]

    static func isIncompatibleHandshake(_ error: any Error) -> Bool {
        MirrorTrustRoots.tlsErrorNames(error).contains { name in
            incompatibleHandshakeErrors.contains { name.contains($0) }
        }
    }

    /// Cuts the bytes into the run's blocks; a block split across parts is gathered in ``partial``.
    private func consume(_ bytes: ByteBuffer) {
        var bytes = bytes
        while bytes.readableBytes > 0, blockIndex < blocks.count, !finished {
            let block = blocks[blockIndex]
            let have = partial?.readableBytes ?? 0
            let need = block.length - have
            if have == 0 && bytes.readableBytes >= need {
                blockIndex += 1
                mirror.delivered(block, bytes.readSlice(length: need)!)
                continue
            }
            var slice = bytes.readSlice(length: min(need, bytes.readableBytes))!
            if partial == nil { partial = ByteBufferAllocator().buffer(capacity: block.length) }
            partial!.writeBuffer(&slice)
            if partial!.readableBytes == block.length {
                let whole = partial!
                partial = nil
                blockIndex += 1
                mirror.delivered(block, whole)
            }
        }
    }
}

@available(*, unavailable)
extension MirrorFetch: Sendable {}

/// The client's view of one request of a ``MirrorFetch``: every callback runs on the session's loop (the request
/// is made with `.delegateAndChannel(on:)`) and goes straight to the fetch.
final class MirrorResponse: HTTPClientResponseDelegate {
    typealias Response = Void
    private let fetch: NIOLoopBound<MirrorFetch>

    init(fetch: NIOLoopBound<MirrorFetch>) {
        self.fetch = fetch
    }

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        fetch.value.head(head)
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        fetch.value.body(buffer)
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) {
        fetch.value.failed(error)
    }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws {
        fetch.value.ended()
    }
}
