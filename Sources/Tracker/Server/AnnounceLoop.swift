import CEventPoll
import Foundation
import Logging
import NIOCore
import NIOPosix
import SystemSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The announce/scrape listener: one dedicated thread running its own epoll loop over non-blocking sockets, which
/// owns the swarms (`TrackerCore`) and answers each request in one go — accept, read, parse
/// (`RequestHeadParser`), admit, store, write one buffer, close — with no per-connection objects beyond a small
/// record, no futures and no thread hops. SwiftNIO still serves `/metrics`.
///
/// This handle is the only part other threads touch: `submit` runs a closure on the loop (reloads), `stop` ends it.
final class AnnounceLoop: Sendable {
    /// The port the listener bound.
    let port: Int
    private let listener: Int32
    private let epoll: Int32
    private let inbox: AnnounceInbox

    static let listenerToken = UInt64.max
    static let wakeToken = UInt64.max - 1

    /// Binds the listener (errors surface here, before any thread starts) and starts the loop's thread.
    /// - Throws: `TrackerError(.configuration)` naming the address when it cannot be resolved or bound.
    static func start(
        configuration: TrackerConfiguration, metrics: TrackerMetrics, logger: Logger, snapshot: AccessSnapshot
    ) throws -> AnnounceLoop {
        let loop = try AnnounceLoop(configuration: configuration)
        let thread = Thread {
            let state = AnnounceLoopState(
                handle: loop, configuration: configuration, metrics: metrics, logger: logger, snapshot: snapshot)
            state.run()
            state.closeAll()
            loop.finish(state)
        }
        thread.name = "swt-announce"
        thread.start()
        return loop
    }

    private init(configuration: TrackerConfiguration) throws {
        let subject = "\(configuration.listenHost):\(configuration.listenPort)"
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(
                configuration.listenHost, port: configuration.listenPort)
        } catch {
            throw TrackerError(.configuration, subject, "cannot resolve the listen address: \(error)")
        }
        let fd = socket(
            address.protocol.rawValue, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TrackerError(.configuration, subject, "socket: \(Self.errorText())") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        // Accepted sockets inherit TCP_NODELAY from the listener on Linux.
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        // Accept a connection only once its request has arrived (Linux TCP_DEFER_ACCEPT, in seconds; a connection
        // that sends nothing is handed over after that anyway and meets the idle timeout): the first read then
        // finds the request, with no epoll registration or second wake-up for the connection.
        var deferSeconds: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_DEFER_ACCEPT, &deferSeconds, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withSockAddr { bind(fd, $0, socklen_t($1)) }
        guard bound == 0 else {
            let text =
                errno == EADDRINUSE ? "address already in use; is another tracker listening there?" : Self.errorText()
            _ = Glibc.close(fd)
            throw TrackerError(.configuration, subject, text)
        }
        guard listen(fd, 4096) == 0 else {
            let text = Self.errorText()
            _ = Glibc.close(fd)
            throw TrackerError(.configuration, subject, "listen: \(text)")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = withUnsafeBytes(of: &storage) { raw in Int(raw[2]) << 8 | Int(raw[3]) }
        let epollFD = swt_epoll_create()
        guard epollFD >= 0, let inbox = AnnounceInbox() else {
            let text = Self.errorText()
            _ = Glibc.close(fd)
            if epollFD >= 0 { _ = Glibc.close(epollFD) }
            throw TrackerError(.configuration, subject, "epoll: \(text)")
        }
        listener = fd
        epoll = epollFD
        self.inbox = inbox
        _ = swt_epoll_control(epoll, 0, listener, 1, 0, Self.listenerToken)
        _ = swt_epoll_control(epoll, 0, inbox.readDescriptor, 1, 0, Self.wakeToken)
    }

    static func errorText() -> String {
        ErrnoText.of()
    }

    /// Runs `body` on the loop's thread; nil if the loop has stopped.
    func submit<T: Sendable>(_ body: @escaping @Sendable (AnnounceLoopState) -> T) async -> T? {
        await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            let accepted = inbox.post { state in continuation.resume(returning: body(state)) }
            if !accepted { continuation.resume(returning: nil) }
        }
    }

    /// Runs `body` on the loop's thread later (dropped if the loop has stopped); returns at once.
    func post(_ body: @escaping @Sendable (AnnounceLoopState) -> Void) {
        inbox.post(body)
    }

    /// Asks the loop to close its listener and connections and end; returns at once.
    func stop() {
        inbox.post { state in state.stopping = true }
    }

    /// Returns once the loop has ended.
    func waitUntilStopped() async {
        await inbox.waitUntilClosed()
    }

    /// Called on the loop's thread: takes the queued tasks.
    func takeTasks() -> [@Sendable (AnnounceLoopState) -> Void] {
        inbox.take()
    }

    /// Called on the loop's thread as it ends: runs what is still queued, closes the descriptors, wakes waiters.
    private func finish(_ state: AnnounceLoopState) {
        let (tasks, waiters) = inbox.close()
        for task in tasks { task(state) }
        _ = Glibc.close(listener)
        _ = Glibc.close(epoll)
        for waiter in waiters { waiter.resume() }
    }

    var listenerDescriptor: Int32 { listener }
    var epollDescriptor: Int32 { epoll }
}

/// One client connection on the announce loop.
final class AnnounceConnection {
    let fd: Int32
    let generation: UInt32
    let address: PackedIPAddress?
    /// Received bytes of a head not complete yet (empty most of the time: complete heads are parsed in place).
    var pending: [UInt8] = []
    var scanned = 0
    /// Response bytes the socket did not take yet; while any are left the connection is not read.
    var unsent: [UInt8] = []
    var unsentOffset = 0
    var closeAfterSend = false
    /// A signed announce of this connection is being verified on the thread pool; later requests wait in `pending`.
    var awaiting = false
    var awaitingKeepAlive = false
    var awaitingHTTP10 = false
    var registered = false
    var watchingWrites = false
    /// The sweep tick of the connection's start, its last response or its last write progress.
    var lastActivity: Int

    init(fd: Int32, generation: UInt32, address: PackedIPAddress?, tick: Int) {
        self.fd = fd
        self.generation = generation
        self.address = address
        lastActivity = tick
    }
}

/// Everything the announce loop's thread owns. Never leaves that thread (closures sent with
/// `AnnounceLoop.submit` run there).
final class AnnounceLoopState {
    unowned let handle: AnnounceLoop
    let configuration: TrackerConfiguration
    let metrics: TrackerMetrics
    let logger: Logger
    /// The current access snapshot, replaced by reloads.
    var snapshot: AccessSnapshot
    let core: TrackerCore
    var stopping = false

    private var connections: [AnnounceConnection?] = []
    private var openCount = 0
    private var generation: UInt32 = 0
    private var tick = 0
    private let idleTicks: Int
    private let sweepMilliseconds: Int64
    private let expirySweeps: Int
    private var acceptPaused = false

    private let readCapacity: Int
    private let readBuffer: UnsafeMutableRawBufferPointer
    private var out: [UInt8] = []
    private var body: [UInt8] = []

    init(
        handle: AnnounceLoop, configuration: TrackerConfiguration, metrics: TrackerMetrics, logger: Logger,
        snapshot: AccessSnapshot
    ) {
        self.handle = handle
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.snapshot = snapshot
        core = TrackerCore(
            timing: SwarmStore.Timing(interval: configuration.interval), activeOwners: snapshot.activeOwners,
            metrics: metrics)
        let timeoutMilliseconds = max(1, configuration.requestTimeoutSeconds) * 1000
        sweepMilliseconds = timeoutMilliseconds <= 4000 ? 250 : 1000
        idleTicks = Int((timeoutMilliseconds + sweepMilliseconds - 1) / sweepMilliseconds)
        let expirySeconds = Int64(max(1, min(configuration.interval / 2, 60)))
        expirySweeps = Int(max(1, expirySeconds * 1000 / sweepMilliseconds))
        readCapacity = max(16384, configuration.limits.maxHeadLength)
        readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readCapacity, alignment: 16)
        out.reserveCapacity(4096)
        body.reserveCapacity(4096)
    }

    deinit {
        readBuffer.deallocate()
    }

    // MARK: Loop

    func run() {
        let capacity = 256
        var tokens = [UInt64](repeating: 0, count: capacity)
        var flags = [UInt32](repeating: 0, count: capacity)
        var nextSweep = Self.nowMilliseconds() + sweepMilliseconds
        while !stopping {
            let wait = Int32(clamping: max(0, nextSweep - Self.nowMilliseconds()))
            let count = tokens.withUnsafeMutableBufferPointer { tokenBuffer in
                flags.withUnsafeMutableBufferPointer { flagBuffer in
                    swt_epoll_wait(
                        handle.epollDescriptor, tokenBuffer.baseAddress, flagBuffer.baseAddress, Int32(capacity), wait)
                }
            }
            if count < 0 {
                if errno == EINTR { continue }
                logger.error("announce loop: epoll_wait failed", metadata: ["error": "\(AnnounceLoop.errorText())"])
                return
            }
            for index in 0..<Int(count) {
                let token = tokens[index]
                switch token {
                case AnnounceLoop.listenerToken:
                    acceptConnections()
                case AnnounceLoop.wakeToken:
                    for task in handle.takeTasks() { task(self) }
                default:
                    let fd = Int32(truncatingIfNeeded: token & 0xFFFF_FFFF)
                    guard fd >= 0, Int(fd) < connections.count, let connection = connections[Int(fd)],
                        connection.generation == UInt32(truncatingIfNeeded: token >> 32)
                    else { continue }
                    ready(connection, flags: flags[index])
                }
            }
            let now = Self.nowMilliseconds()
            if now >= nextSweep {
                sweep()
                nextSweep = now + sweepMilliseconds
            }
        }
    }

    static func nowMilliseconds() -> Int64 {
        Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000)
    }

    /// Closes every connection (shutdown).
    func closeAll() {
        for case let connection? in connections { close(connection) }
    }

    private func sweep() {
        tick += 1
        for case let connection? in connections where tick - connection.lastActivity >= idleTicks {
            close(connection)
        }
        if acceptPaused {
            acceptPaused = false
            _ = swt_epoll_control(
                handle.epollDescriptor, 1, handle.listenerDescriptor, 1, 0, AnnounceLoop.listenerToken)
        }
        metrics.connections.record(openCount)
        if tick % expirySweeps == 0 {
            let removed = core.expire()
            if removed > 0 { logger.debug("expired peers", metadata: ["count": "\(removed)"]) }
        }
    }

    // MARK: Connections

    private func acceptConnections() {
        for _ in 0..<64 {
            var storage = sockaddr_storage()
            var length = UInt32(MemoryLayout<sockaddr_storage>.size)
            let fd = swt_accept(handle.listenerDescriptor, &storage, &length)
            if fd < 0 {
                switch errno {
                case EAGAIN, EWOULDBLOCK: return
                case EINTR, ECONNABORTED: continue
                default:
                    // EMFILE, ENFILE, ENOBUFS, ENOMEM: stop accepting until the next sweep instead of spinning.
                    logger.warning("accept failed; pausing accepts", metadata: ["error": "\(AnnounceLoop.errorText())"])
                    acceptPaused = true
                    _ = swt_epoll_control(
                        handle.epollDescriptor, 1, handle.listenerDescriptor, 0, 0, AnnounceLoop.listenerToken)
                    return
                }
            }
            guard openCount < configuration.maxConnections else {
                _ = Glibc.close(fd)
                metrics.connectionsRefused.increment()
                continue
            }
            generation &+= 1
            let connection = AnnounceConnection(
                fd: fd, generation: generation, address: Self.peerAddress(&storage), tick: tick)
            while connections.count <= Int(fd) { connections.append(nil) }
            connections[Int(fd)] = connection
            openCount += 1
            // Clients send the request right behind the handshake, so it is usually there already: read at once
            // and, if it is, answer and close without ever registering the socket with epoll.
            receive(connection)
        }
    }

    private static func peerAddress(_ storage: inout sockaddr_storage) -> PackedIPAddress? {
        let family = Int32(storage.ss_family)
        return withUnsafeBytes(of: &storage) { raw in
            switch family {
            case AF_INET: PackedIPAddress(ipv4: raw[4], raw[5], raw[6], raw[7])
            case AF_INET6: PackedIPAddress(bytes: UnsafeRawBufferPointer(rebasing: raw[8..<24]))
            default: nil
            }
        }
    }

    private func ready(_ connection: AnnounceConnection, flags: UInt32) {
        if flags & SWT_EVENT_ERROR != 0 {
            close(connection)
            return
        }
        if !connection.unsent.isEmpty {
            // Watching writes only; a hang-up here makes the write fail and the connection close.
            if flags & (SWT_EVENT_WRITABLE | SWT_EVENT_HANGUP) != 0 { flush(connection) }
        } else if flags & (SWT_EVENT_READABLE | SWT_EVENT_HANGUP) != 0 {
            receive(connection)
        }
    }

    private func isOpen(_ connection: AnnounceConnection) -> Bool {
        Int(connection.fd) < connections.count && connections[Int(connection.fd)] === connection
    }

    /// Reads what the socket has, answers every complete request, and keeps the connection registered for more.
    private func receive(_ connection: AnnounceConnection) {
        while isOpen(connection) && connection.unsent.isEmpty {
            let count = recv(connection.fd, readBuffer.baseAddress, readCapacity, 0)
            if count > 0 {
                let received = UnsafeRawBufferPointer(rebasing: readBuffer[0..<count])
                if connection.awaiting {
                    // Keep reading (the socket is watched level-triggered) but answer nothing until the signed
                    // announce ahead of these bytes is verified; bounded like output.
                    connection.pending.append(contentsOf: received)
                    if connection.pending.count > configuration.limits.maxHeadLength * 4 {
                        close(connection)
                        return
                    }
                } else if connection.pending.isEmpty {
                    let used = serve(received, connection: connection, scanned: &connection.scanned)
                    if used < count && isOpen(connection) {
                        connection.pending.append(contentsOf: received[used...])
                    }
                } else {
                    connection.pending.append(contentsOf: received)
                    let bytes = connection.pending
                    let used = bytes.withUnsafeBytes { raw in
                        serve(raw, connection: connection, scanned: &connection.scanned)
                    }
                    if isOpen(connection) { connection.pending.removeFirst(used) }
                }
                send(connection)
                if count < readCapacity { break }
            } else if count == 0 {
                close(connection)
                return
            } else {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                close(connection)
                return
            }
        }
        guard isOpen(connection) else { return }
        watch(connection)
    }

    /// Parses and answers the complete heads at the front of `bytes` into `out`; returns the bytes used.
    private func serve(_ bytes: UnsafeRawBufferPointer, connection: AnnounceConnection, scanned: inout Int) -> Int {
        var used = 0
        while used < bytes.count && !connection.closeAfterSend && !connection.awaiting {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[used...])
            let head: RequestHead
            do {
                guard let parsed = try RequestHeadParser.parse(rest, limits: configuration.limits, scanned: &scanned)
                else { break }
                head = parsed
            } catch {
                let status: StaticString =
                    switch error.code {
                    case .headTooLarge: "431 Request Header Fields Too Large"
                    case .targetTooLong: "414 URI Too Long"
                    default: "400 Bad Request"
                    }
                respondError(status, "\(error)", connection: connection)
                return bytes.count
            }
            scanned = 0
            used += head.length
            let raw = UnsafeRawBufferPointer(rebasing: rest[0..<head.length])
            if !head.isGET {
                respondError("405 Method Not Allowed", "use GET", connection: connection)
            } else if head.hasBody {
                respondError("400 Bad Request", "a GET request must not have a body", connection: connection)
            } else {
                answer(raw, head: head, connection: connection)
            }
            connection.lastActivity = tick
        }
        return connection.closeAfterSend ? bytes.count : used
    }

    /// Writes `out` to the socket; keeps what it did not take; closes once all is sent if the response said so.
    private func send(_ connection: AnnounceConnection) {
        if !out.isEmpty {
            if connection.unsent.isEmpty {
                let written = out.withUnsafeBytes { raw in
                    Glibc.send(connection.fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
                }
                if written < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                    out.removeAll(keepingCapacity: true)
                    close(connection)
                    return
                }
                let taken = max(0, written)
                if taken < out.count { connection.unsent.append(contentsOf: out[taken...]) }
            } else {
                connection.unsent.append(contentsOf: out)
            }
            out.removeAll(keepingCapacity: true)
        }
        if connection.unsent.isEmpty {
            if connection.closeAfterSend { close(connection) }
        } else if connection.unsent.count - connection.unsentOffset > 1 << 20 {
            close(connection)  // a client pipelining without reading its responses
        }
    }

    private func flush(_ connection: AnnounceConnection) {
        while connection.unsentOffset < connection.unsent.count {
            let written = connection.unsent.withUnsafeBytes { raw in
                Glibc.send(
                    connection.fd, raw.baseAddress! + connection.unsentOffset, raw.count - connection.unsentOffset,
                    Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                connection.unsentOffset += written
                connection.lastActivity = tick
            } else if written < 0 && errno == EINTR {
                continue
            } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                return
            } else {
                close(connection)
                return
            }
        }
        connection.unsent.removeAll()
        connection.unsentOffset = 0
        if connection.closeAfterSend {
            close(connection)
        } else {
            receive(connection)
        }
    }

    /// Registers the connection with epoll for what it waits for: writes while output is left, else reads.
    private func watch(_ connection: AnnounceConnection) {
        let writes = !connection.unsent.isEmpty
        let token = UInt64(connection.generation) << 32 | UInt64(UInt32(bitPattern: connection.fd))
        if !connection.registered {
            connection.registered = true
            connection.watchingWrites = writes
            _ = swt_epoll_control(handle.epollDescriptor, 0, connection.fd, writes ? 0 : 1, writes ? 1 : 0, token)
        } else if connection.watchingWrites != writes {
            connection.watchingWrites = writes
            _ = swt_epoll_control(handle.epollDescriptor, 1, connection.fd, writes ? 0 : 1, writes ? 1 : 0, token)
        }
    }

    private func close(_ connection: AnnounceConnection) {
        guard isOpen(connection) else { return }
        connections[Int(connection.fd)] = nil
        openCount -= 1
        // Closing the descriptor also removes it from the epoll set.
        _ = Glibc.close(connection.fd)
    }

    // MARK: Requests

    private func respondError(_ status: StaticString, _ message: String, connection: AnnounceConnection) {
        body.removeAll(keepingCapacity: true)
        body.append(contentsOf: message.utf8)
        body.append(UInt8(ascii: "\n"))
        appendResponse(status, keepAlive: false, http10: false)
        connection.closeAfterSend = true
    }

    /// Appends status line, headers and `body` to `out`.
    private func appendResponse(_ status: StaticString, keepAlive: Bool, http10: Bool) {
        out.append(contentsOf: http10 ? Self.http10 : Self.http11)
        out.append(contentsOf: UnsafeRawBufferPointer(start: status.utf8Start, count: status.utf8CodeUnitCount))
        out.append(contentsOf: Self.contentLength)
        BencodeWriter.appendDecimal(UInt64(body.count), into: &out)
        out.append(contentsOf: !keepAlive ? Self.closeEnd : http10 ? Self.keepAliveEnd : Self.plainEnd)
        out.append(contentsOf: body)
    }

    private static let http10 = Array("HTTP/1.0 ".utf8)
    private static let http11 = Array("HTTP/1.1 ".utf8)
    private static let contentLength = Array("\r\nContent-Type: text/plain\r\nContent-Length: ".utf8)
    private static let closeEnd = Array("\r\nConnection: close\r\n\r\n".utf8)
    private static let keepAliveEnd = Array("\r\nConnection: keep-alive\r\n\r\n".utf8)
    private static let plainEnd = Array("\r\n\r\n".utf8)

    /// Answers one well-formed GET request head (`raw` holds exactly the head).
    private func answer(_ raw: UnsafeRawBufferPointer, head: RequestHead, connection: AnnounceConnection) {
        let http10 = head.minorVersion == 0
        var keepAlive = head.keepAlive
        let target = UnsafeRawBufferPointer(rebasing: raw[head.target])
        let parsedTarget: RequestTarget
        do {
            parsedTarget = try RequestTarget.parse(target, limits: configuration.limits)
        } catch {
            body.removeAll(keepingCapacity: true)
            if error.code == .targetTooLong {
                body.append(contentsOf: "request target too long\n".utf8)
                appendResponse("414 URI Too Long", keepAlive: false, http10: http10)
                connection.closeAfterSend = true
            } else {
                body.append(contentsOf: "not found: \(error)\n".utf8)
                appendResponse("404 Not Found", keepAlive: keepAlive, http10: http10)
                if !keepAlive { connection.closeAfterSend = true }
            }
            return
        }
        switch admitAndStore(raw, head: head, target: target, parsedTarget, connection: connection) {
        case .answered:
            break
        case .refused(let refusal):
            refuse(refusal)
        case .verifying:
            connection.awaiting = true
            connection.awaitingKeepAlive = keepAlive
            connection.awaitingHTTP10 = http10
            return
        }
        if stopping { keepAlive = false }
        appendResponse("200 OK", keepAlive: keepAlive, http10: http10)
        if !keepAlive { connection.closeAfterSend = true }
    }

    private func refuse(_ refusal: Refusal) {
        metrics.refused(refusal.cause)
        logger.debug("refused", metadata: ["cause": "\(refusal.cause.rawValue)", "reason": "\(refusal.reason)"])
        body.removeAll(keepingCapacity: true)
        BencodeWriter.failure(refusal.reason, into: &body)
    }

    private enum Disposition {
        /// `body` holds the response.
        case answered
        case refused(Refusal)
        /// A signed announce went to the thread pool for admission; `finishSigned` answers it.
        case verifying
    }

    /// Admission of a signed announce — above all its Ed25519 verification (≈ 48 µs, most of the request's CPU) —
    /// runs on NIO's thread pool so that it can use every core while this thread goes on accepting and answering;
    /// the result comes back through the loop's inbox and the announce is stored and answered here.
    private func verifyElsewhere(
        _ request: ReceivedAnnounce, address: PackedIPAddress?, host: String, path: String, now: Int64,
        connection: AnnounceConnection
    ) {
        let loop = handle
        let snapshot = self.snapshot
        let window = configuration.signatureWindow
        let fd = connection.fd
        let generation = connection.generation
        connection.lastActivity = tick
        NIOThreadPool.singleton.submit { state in
            let admitted: Result<UInt32, Refusal>
            if case .active = state {
                admitted = snapshot.admit(
                    passkey: nil, infoHash: request.infoHash, peerID: request.peerID, port: request.port,
                    event: request.event, signed: request.signed, host: host, path: path, now: now, window: window)
            } else {
                admitted = .failure(Refusal(.malformedRequest, "malformed request: the tracker is shutting down"))
            }
            loop.post { state in
                state.finishSigned(fd: fd, generation: generation, request: request, address: address, admitted)
            }
        }
    }

    /// Stores and answers a signed announce once its admission is known, then serves what the client sent after it.
    func finishSigned(
        fd: Int32, generation: UInt32, request: ReceivedAnnounce, address: PackedIPAddress?,
        _ admitted: Result<UInt32, Refusal>
    ) {
        guard Int(fd) < connections.count, let connection = connections[Int(fd)], connection.generation == generation,
            connection.awaiting
        else { return }
        connection.awaiting = false
        switch admitted {
        case .failure(let refusal):
            refuse(refusal)
        case .success(let owner):
            if let address {
                if let refusal = core.announce(request, address: address, owner: owner, into: &body) {
                    refuse(refusal)
                } else {
                    metrics.signedAnnounces.increment()
                }
            } else {
                refuse(Refusal(.malformedRequest, "malformed request: no usable client address"))
            }
        }
        let keepAlive = connection.awaitingKeepAlive && !stopping
        appendResponse("200 OK", keepAlive: keepAlive, http10: connection.awaitingHTTP10)
        if !keepAlive { connection.closeAfterSend = true }
        connection.lastActivity = tick
        send(connection)
        if isOpen(connection) && !connection.closeAfterSend && !connection.pending.isEmpty {
            let bytes = connection.pending
            let used = bytes.withUnsafeBytes { raw in serve(raw, connection: connection, scanned: &connection.scanned) }
            if isOpen(connection) { connection.pending.removeFirst(used) }
            send(connection)
        }
        if isOpen(connection) { watch(connection) }
    }

    /// Admits the request and applies it to the store, leaving the response body in `body`; or returns the refusal.
    private func admitAndStore(
        _ raw: UnsafeRawBufferPointer, head: RequestHead, target: UnsafeRawBufferPointer,
        _ parsedTarget: RequestTarget, connection: AnnounceConnection
    ) -> Disposition {
        let query = UnsafeRawBufferPointer(rebasing: target[parsedTarget.query])
        // Host, path and clock matter only to signed requests (the signature covers them).
        var path = ""
        var host = ""
        var now: Int64 = 0
        switch parsedTarget.endpoint {
        case .announce(nil), .scrape(nil):
            let pathEnd =
                parsedTarget.query.isEmpty && target.last != UInt8(ascii: "?")
                ? target.count : parsedTarget.query.lowerBound - 1
            path = String(decoding: target[0..<pathEnd], as: UTF8.self)
            host = configuration.publicHost ?? head.host.map { String(decoding: raw[$0], as: UTF8.self) } ?? ""
            now = Int64(time(nil))
        default:
            break
        }
        switch parsedTarget.endpoint {
        case .announce(let passkey):
            let request: ReceivedAnnounce
            do {
                request = try ReceivedAnnounce.parse(query: query, limits: configuration.limits)
            } catch {
                return .refused(.malformed(error))
            }
            if passkey == nil {
                let address = clientAddress(raw, head: head, request: request, connection: connection)
                verifyElsewhere(request, address: address, host: host, path: path, now: now, connection: connection)
                return .verifying
            }
            let admitted = snapshot.admit(
                passkey: passkey, infoHash: request.infoHash, peerID: request.peerID, port: request.port,
                event: request.event, signed: request.signed, host: host, path: path, now: now,
                window: configuration.signatureWindow)
            let owner: UInt32
            switch admitted {
            case .failure(let refusal): return .refused(refusal)
            case .success(let id): owner = id
            }
            guard let address = clientAddress(raw, head: head, request: request, connection: connection) else {
                return .refused(Refusal(.malformedRequest, "malformed request: no usable client address"))
            }
            if let refusal = core.announce(request, address: address, owner: owner, into: &body) {
                return .refused(refusal)
            }
            metrics.passkeyAnnounces.increment()
            return .answered
        case .scrape(let passkey):
            let request: ScrapeRequest
            do {
                request = try ScrapeRequest.parse(query: query, limits: configuration.limits)
            } catch {
                return .refused(.malformed(error))
            }
            if passkey == nil && (request.peerID == nil || request.port == nil) && request.signed != nil {
                return .refused(
                    Refusal(.malformedRequest, "malformed request: a signed scrape needs peer_id and port"))
            }
            let admitted = snapshot.admit(
                passkey: passkey, infoHash: request.infoHashes[0], peerID: request.peerID ?? .zero,
                port: request.port ?? 0, event: .none, signed: request.signed, host: host, path: path, now: now,
                window: configuration.signatureWindow)
            if case .failure(let refusal) = admitted { return .refused(refusal) }
            if let registered = snapshot.registered,
                let missing = request.infoHashes.first(where: { !registered.contains($0) })
            {
                return .refused(.unregistered(missing))
            }
            metrics.scrapes.increment()
            core.scrape(request.infoHashes, into: &body)
            return .answered
        }
    }

    private func clientAddress(
        _ raw: UnsafeRawBufferPointer, head: RequestHead, request: ReceivedAnnounce, connection: AnnounceConnection
    ) -> PackedIPAddress? {
        if configuration.trustIPParameter, let ip = request.ip, let address = PackedIPAddress(literal: ip) {
            return address
        }
        if configuration.trustForwardedFor, let header = head.forwardedFor {
            let value = String(decoding: raw[header], as: UTF8.self)
            if let rightMost = value.split(separator: ",").last, let address = PackedIPAddress(literal: rightMost) {
                return address
            }
        }
        return connection.address
    }
}

@available(*, unavailable)
extension AnnounceConnection: Sendable {}

@available(*, unavailable)
extension AnnounceLoopState: Sendable {}
