import Logging
import Metainfo
import NIOCore
import NIOPosix
import PeerWire

#if canImport(Glibc)
    import Glibc
#endif

/// The state of one torrent: picker, choker, connections, tracker, storage. Every method runs on ``loop``, the
/// host's loop; the channel handlers of all its connections and the host (``HostCore``) live on the same loop, so
/// they call in directly.
final class SessionCore {
    enum State {
        case starting
        case downloading
        /// Complete; seeding until the deadline (nil: until stopped).
        case seeding(until: Double?)
        case stopping
        case stopped
    }

    let loop: any EventLoop
    /// The node-wide part: listener, routing, limits shared with the other sessions.
    let host: HostCore
    /// The session's key in the host's shared budgets (set by ``HostCore/add(_:)``).
    var hostID = 0
    let torrent: Torrent
    let storage: Storage
    let configuration: SessionConfiguration
    let logger: Logger
    let infoHash: [UInt8]
    let peerID: [UInt8]
    let ourHandshake: Handshake
    let wireLimits: PeerWireLimits
    private let done: EventLoopPromise<SessionOutcome>
    private let progressHandler: @Sendable (SessionProgress) -> Void

    private(set) var state: State = .starting
    private var picker: PiecePicker
    private var choker: Choker
    private var reputation = PeerReputation()
    /// Verified bytes per file per peer, for the signature gate's audit log.
    private var attribution: PeerAttribution
    private var nextID = 1
    private var connections: [Int: PeerConnection] = [:]
    /// Every peer known, from every source; decides whom to dial next.
    private var directory = PeerDirectory()
    /// Sets each peer record's locality.
    let classifier: LocalityClassifier
    private var halfOpen = 0
    private(set) var listenPort = 0
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant

    // Disk: writes in flight per piece, pieces waiting for their writes before the hash check.
    private var writesInFlight: [Int: Int] = [:]
    private var awaitingVerification: Set<Int> = []
    private var verifying = 0
    /// Pieces being gathered in memory (each piece at a 4 KiB-aligned offset of its buffer, so it can be written
    /// with `O_DIRECT`), and how many bytes of buffers exist: gathering, being hashed and written, or free.
    private var pieceBuffers: [Int: PieceAssembly] = [:]
    /// Buffers whose piece was written, ready for the next piece (no allocation, no page faults).
    private var freeBuffers: [ByteBuffer] = []
    /// Verified pieces still in their buffers, oldest first: uploads of them are slices of these buffers (no disk
    /// read; the pieces a leecher just announced with `have` are the ones its peers ask for). A cached buffer is
    /// reused for a new piece when the budget is spent.
    private var recentPieces: [Int: ByteBuffer] = [:]
    private var recentOrder: [Int] = []
    // The budgets of piece buffers, bytes handed to the disk and free read buffers are the host's, shared with
    // the other sessions (``HostConfiguration``): when the disk falls behind, requests stop until it catches up,
    // so memory stays bounded.
    /// Upload read buffers whose blocks have been sent, by size, for the next reads.
    private var freeReadBuffers: [Int: [ByteBuffer]] = [:]
    /// Pieces whose blocks go to disk one by one (no buffer was free when they started).
    private var directPieces: Set<Int> = []

    // Totals and rates.
    private var downloaded: Int64 = 0
    private var uploaded: Int64 = 0
    private var wasted: Int64 = 0
    private var hashFailures = 0
    private var rateSamples: [(time: Double, down: Int64, up: Int64)] = []
    private var lastVerifiedAt: Double
    private var downloadBucket: TokenBucket
    private var uploadBucket: TokenBucket
    /// This session's share of the node-wide rate limits.
    private var hostDownloadBucket = TokenBucket(bytesPerSecond: nil)
    private var hostUploadBucket = TokenBucket(bytesPerSecond: nil)
    private var refillScheduled = false
    private var ticks = 0

    // Trackers.
    private var tiers: TrackerTiers
    private var schedule = AnnounceSchedule()
    private var trackerID: String?
    private var announceTask: Scheduled<Void>?
    private let trackerKey = String(UInt32.random(in: .min ... .max), radix: 16)

    init(
        host: HostCore, torrent: Torrent, storage: Storage, configuration: SessionConfiguration, logger: Logger,
        done: EventLoopPromise<SessionOutcome>, progress: @escaping @Sendable (SessionProgress) -> Void
    ) {
        self.loop = host.loop
        self.host = host
        self.torrent = torrent
        self.storage = storage
        self.configuration = configuration
        self.logger = logger
        self.done = done
        self.progressHandler = progress
        self.infoHash = torrent.infoHash.bytes
        self.peerID = PeerID.generate()
        self.ourHandshake = Handshake(infoHash: torrent.infoHash.bytes, peerID: peerID)
        self.wireLimits = PeerWireLimits(pieceLength: torrent.pieceLength, totalLength: Int(torrent.totalLength))
        self.picker = PiecePicker(
            pieceCount: torrent.pieceCount, pieceLength: torrent.pieceLength, totalLength: torrent.totalLength,
            have: storage.have)
        self.attribution = PeerAttribution(layout: storage.layout)
        self.choker = Choker(regularSlots: configuration.uploadSlots, favourLAN: configuration.favourLANUploads)
        self.start = clock.now
        self.lastVerifiedAt = 0
        self.downloadBucket = TokenBucket(bytesPerSecond: configuration.downloadRateLimit)
        self.uploadBucket = TokenBucket(bytesPerSecond: configuration.uploadRateLimit)
        self.tiers = TrackerTiers(announceList: torrent.announceList, announce: torrent.announce)
        self.classifier = LocalityClassifier.forThisHost(siteNetworks: configuration.lanNetworks)
    }

    /// Seconds since the session started (monotonic).
    func now() -> Double { (clock.now - start).seconds }

    // MARK: - Lifecycle

    func begin(stopRequested: EventLoopFuture<Void>) {
        stopRequested.hop(to: loop).assumeIsolated().whenSuccess { self.shutdown(.stopped) }
        if picker.isComplete {
            if configuration.seedUntilStopped {
                state = .seeding(until: nil)
            } else {
                // Nothing to download: seed as long as asked, or end at once (after the listener is up).
                state = .seeding(until: configuration.seedAfterComplete.map { $0.seconds } ?? 0)
            }
        } else {
            state = .downloading
        }
        do {
            try host.add(self)
        } catch {
            return fail(error)
        }
        listenPort = host.port
        learnOwnAddresses()
        started()
    }

    /// Completes when the session has ended (whatever the outcome).
    var finished: EventLoopFuture<Void> { done.futureResult.map { _ in () } }

    private func started() {
        for address in configuration.manualPeers {
            addPeer(classifier.record(address, source: .manual))
        }
        every(.milliseconds(250)) { self.tick() }
        every(.seconds(10)) { self.chokeRound() }
        every(configuration.progressInterval.timeAmount) { self.progressHandler(self.progress()) }
        if configuration.useTrackers && !tiers.isEmpty {
            announce(picker.isComplete ? .completed : .started)
        }
        connectMore()
        if picker.isComplete { logger.info("seeding: every piece is verified") }
    }

    /// Runs `body` every `interval` while the session runs.
    private func every(_ interval: TimeAmount, _ body: @escaping () -> Void) {
        loop.assumeIsolated().scheduleTask(in: interval) {
            guard self.isRunning else { return }
            body()
            self.every(interval, body)
        }
    }

    private func fail(_ error: EngineError) {
        logger.error("\(error)")
        state = .stopped
        closeEverything()
        done.fail(error)
    }

    /// Ends the session: closes connections, tells the trackers (bounded), completes `done`.
    func shutdown(_ reason: ShutdownReason) {
        switch state {
        case .stopping, .stopped: return
        default: break
        }
        state = .stopping
        closeEverything()
        var progress = self.progress()
        progress.suppliedBytes = attribution.suppliedBytes
        let outcome: SessionOutcome =
            switch reason {
            case .stopped: picker.isComplete ? .complete(progress) : .stopped(progress)
            case .complete: .complete(progress)
            case .stalled: .stalled(progress)
            }
        let finish = {
            self.state = .stopped
            self.done.succeed(outcome)
        }
        if configuration.useTrackers && !tiers.isEmpty {
            let future = sendAnnounce(.stopped, timeout: .seconds(5))
            future.assumeIsolated().whenComplete { _ in finish() }
        } else {
            finish()
        }
    }

    enum ShutdownReason {
        case stopped
        case complete
        case stalled
    }

    private func closeEverything() {
        // Pooled and cached buffers go back to the kernel now (they are unmapped when the last reference goes).
        freeBuffers.removeAll()
        recentPieces.removeAll()
        recentOrder.removeAll()
        freeReadBuffers.removeAll()
        announceTask?.cancel()
        // Its info-hash is unknown to the listener from now on; its shares of the node-wide budgets go back.
        host.remove(self)
        for connection in connections.values { connection.close() }
    }

    private var isRunning: Bool {
        switch state {
        case .downloading, .seeding: true
        default: false
        }
    }

    // MARK: - Peers and connections

    /// Learns of a peer (tracker, manual, discovery); it is dialled when there is room.
    func addPeer(_ record: PeerRecord) {
        directory.add(record)
    }

    /// Our listening port on loopback, the listen address and every interface address: never dialled.
    private func learnOwnAddresses() {
        var hosts: Set<String> = ["127.0.0.1", "::1", "localhost", configuration.listenHost]
        for bytes in classifier.interfaceAddresses {
            hosts.insert(bytes.count == 4 ? PeerAddress.ipv4String(bytes) : PeerAddress.ipv6String(bytes))
        }
        for host in hosts { directory.addOwnAddress(PeerAddress(host: host, port: listenPort)) }
    }

    private func connectMore() {
        guard isRunning else { return }
        // A seed still dials manual peers (they may be leechers waiting for it); otherwise seeds wait to be dialled.
        let room = min(
            configuration.maxHalfOpen - halfOpen, configuration.maxConnections - connections.count - halfOpen,
            host.dialRoom(for: self))
        for record in directory.nextToDial(now: now(), count: room, manualOnly: picker.isComplete) {
            guard host.dial(record, for: self) else {
                dialFailed(record.address)
                continue
            }
            halfOpen += 1
        }
    }

    /// A dial's TCP connection was set up (its handshake follows) or failed.
    func dialCompleted(_ address: PeerAddress, _ result: Result<any Channel, any Error>) {
        halfOpen -= 1
        if case .failure(let error) = result {
            logger.debug("dial failed", metadata: ["peer": "\(address)", "error": "\(error)"])
            dialFailed(address)
        }
    }

    func dialFailed(_ address: PeerAddress) {
        directory.dialFailed(address, now: now())
    }

    /// A handshake for this torrent completed (the host routed it here): the connection's handler, or nil when
    /// it may not stay (ourselves, banned, already connected, over the session's or the node's limit).
    func admit(_ handshake: Handshake, dialled: PeerRecord?, remote: SocketAddress?) -> PeerConnection? {
        let connection = PeerConnection(core: self, handshake: handshake, dialled: dialled, remote: remote)
        let record = connection.record
        if connection.peerID == peerID, record.source != .incoming {
            directory.addOwnAddress(record.address)  // we dialled ourselves
            return nil
        }
        guard mayAdmit(connection), host.takeConnection(for: self) else {
            if record.source != .incoming { directory.dialFailed(record.address, now: now()) }
            return nil
        }
        connection.id = nextID
        nextID += 1
        connections[connection.id] = connection
        directory.connected(record)
        picker.addSource(connection)
        return connection
    }

    private func mayAdmit(_ connection: PeerConnection) -> Bool {
        guard isRunning, connection.peerID != peerID else { return false }
        if reputation.isBanned(host: connection.banKey) || reputation.isBanned(host: connection.record.address.host)
        {
            return false
        }
        if connections.count >= configuration.maxConnections { return false }
        return !connections.values.contains(where: { $0.peerID == connection.peerID })
    }

    /// The connection's handler is in the pipeline: say what we have.
    func connectionReady(_ connection: PeerConnection) {
        let have = storage.have
        if connection.fast && have.isComplete {
            connection.send(.haveAll)
        } else if connection.fast && have.isEmpty {
            connection.send(.haveNone)
        } else {
            connection.send(.bitfield(have))
        }
        connection.flush()
        logger.debug(
            "peer connected",
            metadata: ["peer": "\(connection.record.address)", "source": "\(connection.record.source)"])
    }

    func disconnected(_ connection: PeerConnection) {
        guard connections.removeValue(forKey: connection.id) != nil else { return }
        host.connectionClosed(self)
        picker.removePeer(connection.id)
        directory.disconnected(connection.record.address, now: now())
        logger.debug("peer disconnected", metadata: ["peer": "\(connection.record.address)"])
        // Its blocks are free again: let the others take them.
        for other in connections.values { requestMore(other) }
        flushAll()
    }

    func protocolError(_ connection: PeerConnection, _ error: any Error) {
        logger.info(
            "dropping peer that broke the protocol",
            metadata: ["peer": "\(connection.record.address)", "error": "\(error)"])
    }

    private func drop(_ connection: PeerConnection, _ why: String, ban: Bool = false) {
        logger.info("dropping peer", metadata: ["peer": "\(connection.record.address)", "reason": "\(why)"])
        if ban {
            reputation.ban(host: connection.banKey)
            directory.ban(connection.record.address)
        }
        connection.close()
    }

    private var unchokedCount: Int { connections.values.reduce(0) { $0 + ($1.amChoking ? 0 : 1) } }

    // MARK: - Messages

    func received(_ message: PeerMessage, from c: PeerConnection) {
        guard isRunning, !c.closed else { return }
        switch message {
        case .keepAlive, .port, .suggest, .allowedFast, .extended:
            break
        case .choke:
            c.peerChoking = true
            picker.cancelRequests(c.id)
        case .unchoke:
            c.peerChoking = false
            c.lastBlockAt = now()
            requestMore(c)
        case .interested:
            c.peerInterested = true
            if c.amChoking && unchokedCount < configuration.uploadSlots + 1 {
                c.amChoking = false
                c.send(.unchoke)
            }
        case .notInterested:
            c.peerInterested = false
        case .have(let piece):
            picker.peerHas(c.id, piece: piece)
            updateInterest(c)
        case .bitfield(let bits):
            // BEP 3 wants it first; aria2 sends it after `have none`. Merging a late one is harmless.
            picker.peerHas(c.id, bitfield: bits)
            updateInterest(c)
        case .haveAll:
            guard c.fast else { return drop(c, "have all without the fast extension") }
            picker.peerHasAll(c.id)
            updateInterest(c)
        case .haveNone:
            guard c.fast else { return drop(c, "have none without the fast extension") }
        case .request(let request):
            peerRequested(request, c)
        case .cancel(let request):
            c.removeUpload(request)
        case .rejectRequest(let request):
            guard c.fast else { return drop(c, "reject without the fast extension") }
            picker.cancelRequests(c.id, [request])
        case .piece(let piece, let begin, let block):
            blockArrived(piece: piece, begin: begin, block: block, from: c)
        }
        if picker.isComplete && c.peerInterested == false && picker.peerIsSeed(c.id) && isComplete {
            // Two seeds have nothing to say to each other.
            c.close()
        }
    }

    private var isComplete: Bool { picker.isComplete }

    func readComplete(_ c: PeerConnection) {
        if c.pendingUploads > 0 { pumpUploads(c) }
        c.flush()
    }

    private func updateInterest(_ c: PeerConnection) {
        let interesting = picker.isInteresting(c.id)
        if interesting && !c.amInterested {
            c.amInterested = true
            c.send(.interested)
        } else if !interesting && c.amInterested {
            c.amInterested = false
            c.send(.notInterested)
        }
        if !c.peerChoking { requestMore(c) }
    }

    private func requestMore(_ c: PeerConnection) {
        guard case .downloading = state, !c.peerChoking, c.amInterested, !c.closed,
            host.writesAllowRequests(for: self)
        else { return }
        let outstanding = picker.outstanding(c.id).count
        let depth = c.snubbed ? 4 : c.pipeline.depth
        let room = depth - outstanding
        // Refill in batches so requests go out in large writes.
        guard room >= max(1, min(16, depth / 4)) || outstanding == 0 else { return }
        if downloadBucket.rate != nil || hostDownloadBucket.rate != nil {
            guard !refillScheduled else { return }
            let bytes = room * picker.blockSize
            let wait = max(downloadBucket.take(bytes, at: now()), hostDownloadBucket.take(bytes, at: now()))
            if wait > 0 {
                refillScheduled = true
                loop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(wait * 1000) + 1)) {
                    self.refillScheduled = false
                    for other in self.connections.values { self.requestMore(other) }
                    self.flushAll()
                }
            }
        }
        picker.request(room, from: c)
    }

    private func blockArrived(piece: Int, begin: Int, block: ByteBuffer, from c: PeerConnection) {
        let request = BlockRequest(piece: piece, begin: begin, length: block.readableBytes)
        let arrival = picker.blockReceived(from: c.id, request)
        let t = now()
        c.lastBlockAt = t
        c.snubbed = false
        c.pipeline.received(block.readableBytes, at: t)
        guard arrival.accepted else {
            wasted += Int64(block.readableBytes)
            return
        }
        downloaded += Int64(block.readableBytes)
        attribution.blockAccepted(piece: piece, begin: begin, length: block.readableBytes, peer: c.attributionKey)
        c.downloadedFromPeer += Int64(block.readableBytes)
        c.rateWindowBytes += Int64(block.readableBytes)
        for cancel in arrival.cancels {
            connections[cancel.peer]?.cancelBlock(cancel.request)
        }
        // Blocks are gathered into one buffer per piece (one copy, out of the receive buffer at once); the complete
        // piece is hashed in memory and written in one write (`writeVerified`). When too much is buffered already,
        // blocks are written one by one and the piece is read back for its hash check.
        if var assembly = pieceBuffers.removeValue(forKey: piece) {
            assembly.buffer.setBuffer(block, at: assembly.base + begin)
            pieceBuffers[piece] = assembly
        } else if !directPieces.contains(piece) {
            if var assembly = takeBuffer() {
                assembly.buffer.setBuffer(block, at: assembly.base + begin)
                pieceBuffers[piece] = assembly
            } else {
                directPieces.insert(piece)
            }
        }
        if directPieces.contains(piece) {
            // Copied out of the receive buffer: a 16 KiB slice waiting for the disk would keep the whole (up to 1 MiB)
            // read alive.
            var own = c.allocator.buffer(capacity: block.readableBytes)
            own.writeImmutableBuffer(block)
            write(piece: piece, begin: begin, own)
        }
        if arrival.pieceComplete {
            directPieces.remove(piece)
            if var assembly = pieceBuffers.removeValue(forKey: piece) {
                assembly.buffer.moveReaderIndex(to: 0)
                assembly.buffer.moveWriterIndex(to: assembly.base + picker.size(ofPiece: piece))
                assembly.buffer.moveReaderIndex(to: assembly.base)
                writeVerified(piece: piece, assembly.buffer)
            } else if writesInFlight[piece, default: 0] == 0 {
                verify(piece)
            } else {
                awaitingVerification.insert(piece)
            }
        }
        requestMore(c)
    }

    /// A piece buffer being filled, and where the piece starts in it.
    struct PieceAssembly {
        var buffer: ByteBuffer
        let base: Int
    }

    /// The largest piece (a power of two: `ByteBuffer` does not round it up).
    private var pieceBufferCapacity: Int { picker.pieceLength }

    /// A free buffer for a new piece, or a new one while the budget allows; nil when it is spent.
    private func takeBuffer() -> PieceAssembly? {
        var buffer: ByteBuffer
        if let free = freeBuffers.popLast() {
            buffer = free
        } else if host.takePieceBuffer(pieceBufferCapacity, for: self) {
            // 4 KiB-aligned storage, so the storage can write the piece with O_DIRECT.
            buffer = AlignedAllocator.allocator.buffer(capacity: pieceBufferCapacity)
        } else if let oldest = evictRecentPiece() {
            buffer = oldest
        } else {
            return nil
        }
        buffer.clear()
        return PieceAssembly(buffer: buffer, base: 0)
    }

    /// Takes the oldest verified piece out of the cache and gives its buffer (if another piece is waiting for one
    /// and blocks of it are still being sent, the buffer is copied on its first write: correct, and rare).
    private func evictRecentPiece() -> ByteBuffer? {
        while !recentOrder.isEmpty {
            let piece = recentOrder.removeFirst()
            if let buffer = recentPieces.removeValue(forKey: piece) { return buffer }
        }
        return nil
    }

    /// Drops free and cached piece buffers (free first, then the oldest cached pieces) until `bytes` went back
    /// to the host's budget: another session below its fair share needs them.
    func releaseCachedPieceBuffers(bytes: Int) {
        var released = 0
        while released < bytes, freeBuffers.popLast() != nil || evictRecentPiece() != nil {
            host.givePieceBuffer(pieceBufferCapacity, by: self)
            released += pieceBufferCapacity
        }
    }

    /// A written buffer: cached while uploads may want it, or free again.
    private func bufferReturned(_ returned: Storage.ReturnedBuffer) {
        guard isRunning else {
            host.givePieceBuffer(pieceBufferCapacity, by: self)
            return
        }
        guard returned.written, returned.data.capacity >= pieceBufferCapacity else {
            return returnBuffer(returned.data)
        }
        recentPieces[returned.piece] = returned.data
        recentOrder.append(returned.piece)
    }

    /// Gives a buffer back after its piece was written (or failed).
    private func returnBuffer(_ buffer: ByteBuffer) {
        guard buffer.capacity >= pieceBufferCapacity, isRunning else {
            host.givePieceBuffer(pieceBufferCapacity, by: self)
            return
        }
        freeBuffers.append(buffer)
    }

    /// Hands a complete piece held in memory to the storage: hashed there, written only when it matches.
    private func writeVerified(piece: Int, _ buffer: ByteBuffer) {
        verifying += 1
        let length = buffer.readableBytes
        host.writeStarted(length, by: self)
        storage.writeVerified(piece: piece, data: buffer, on: loop).assumeIsolated().whenComplete { result in
            self.verifying -= 1
            defer { self.host.writeFinished(length, by: self) }
            for returned in self.storage.takeReturnedBuffers() { self.bufferReturned(returned) }
            switch result {
            case .success(let matches):
                guard self.isRunning else { return }
                if matches { self.pieceVerified(piece) } else { self.pieceFailed(piece) }
            case .failure(let error):
                if let storageError = error as? EngineError, storageError.code == .pieceAlreadyComplete { return }
                guard self.isRunning else { return }
                return self.fail(EngineError(.storage, "writing piece \(piece): \(error)"))
            }
        }
    }

    private func write(piece: Int, begin: Int, _ bytes: ByteBuffer) {
        writesInFlight[piece, default: 0] += 1
        let length = bytes.readableBytes
        host.writeStarted(length, by: self)
        let storage = self.storage
        loop.makeFutureWithTask {
            try await storage.write(piece: piece, begin: begin, bytes: bytes)
        }.assumeIsolated().whenComplete { result in
            self.writeFinished(piece: piece, result: result)
            self.host.writeFinished(length, by: self)
        }
    }

    private func writeFinished(piece: Int, result: Result<Void, any Error>) {
        writesInFlight[piece, default: 1] -= 1
        if case .failure(let error) = result {
            if let storageError = error as? EngineError, storageError.code == .pieceAlreadyComplete { return }
            return fail(EngineError(.storage, "writing piece \(piece): \(error)"))
        }
        if writesInFlight[piece] == 0 {
            writesInFlight[piece] = nil
            if awaitingVerification.remove(piece) != nil { verify(piece) }
        }
    }

    private func verify(_ piece: Int) {
        verifying += 1
        let storage = self.storage
        loop.makeFutureWithTask {
            try await storage.verify(piece: piece)
        }.assumeIsolated().whenComplete { result in
            self.verifying -= 1
            guard self.isRunning else { return }
            switch result {
            case .success(true):
                self.pieceVerified(piece)
            case .success(false):
                self.pieceFailed(piece)
            case .failure(let error):
                self.fail(EngineError(.storage, "checking piece \(piece): \(error)"))
            }
        }
    }

    private func pieceVerified(_ piece: Int) {
        picker.pieceVerified(piece)
        attribution.pieceVerified(piece)
        lastVerifiedAt = now()
        for c in connections.values {
            c.send(.have(piece: piece))
            if c.amInterested && !picker.isInteresting(c.id) {
                c.amInterested = false
                c.send(.notInterested)
            }
        }
        flushAll()
        if picker.isComplete { downloadFinished() }
    }

    private func pieceFailed(_ piece: Int) {
        hashFailures += 1
        let contributors = picker.pieceFailed(piece)
        attribution.pieceFailed(piece)
        logger.warning("piece failed the hash check", metadata: ["piece": "\(piece)", "peers": "\(contributors.count)"])
        for id in contributors {
            guard let c = connections[id] else { continue }
            if reputation.pieceFailed(host: c.banKey) {
                drop(c, "sent \(reputation.failureLimit) pieces that failed the hash check", ban: true)
            }
        }
        for c in connections.values { requestMore(c) }
        flushAll()
    }

    private func downloadFinished() {
        guard case .downloading = state else { return }
        logger.info("download complete: every piece verified")
        host.downloadFinished(self)
        let storage = self.storage
        loop.makeFutureWithTask { try await storage.sync() }.assumeIsolated().whenComplete { result in
            if case .failure(let error) = result {
                return self.fail(EngineError(.storage, "flushing data to disk: \(error)"))
            }
            if self.configuration.useTrackers && !self.tiers.isEmpty { self.announce(.completed) }
            if self.configuration.seedUntilStopped {
                self.state = .seeding(until: nil)
            } else if let seedFor = self.configuration.seedAfterComplete {
                self.state = .seeding(until: self.now() + seedFor.seconds)
                for c in self.connections.values where self.picker.peerIsSeed(c.id) { c.close() }
            } else {
                self.shutdown(.complete)
            }
        }
    }

    // MARK: - Uploads

    private func peerRequested(_ request: BlockRequest, _ c: PeerConnection) {
        guard picker.have[request.piece] else {
            if c.fast { c.send(.rejectRequest(request)) }
            return
        }
        guard !c.amChoking else {
            if c.fast { c.send(.rejectRequest(request)) }
            return
        }
        guard c.pendingUploads < configuration.maxQueuedRequestsPerPeer else {
            return drop(c, "more than \(configuration.maxQueuedRequestsPerPeer) requests queued")
        }
        // Served when this read from the socket is done (`readComplete`), so the requests that arrived together
        // are batched into few, large disk reads.
        c.uploadQueue.append(request)
    }

    func pumpUploads(_ c: PeerConnection) {
        while !c.closed, c.readsInFlight < configuration.readsInFlightPerPeer,
            c.readBytesInFlight < configuration.readBytesInFlightPerPeer, c.isWritable, let first = c.popUpload()
        {
            // Requests for consecutive blocks of one piece are served with one disk read (up to 1 MiB).
            var batch = [first]
            var length = first.length
            while length < 1 << 20, let next = c.peekUpload(), next.piece == first.piece,
                next.begin == batch[batch.count - 1].begin + batch[batch.count - 1].length
            {
                batch.append(c.popUpload()!)
                length += next.length
            }
            let wait = max(uploadBucket.take(length, at: now()), hostUploadBucket.take(length, at: now()))
            if wait <= 0, let cached = recentPieces[first.piece] {
                // A piece still in memory: its blocks are slices of the piece buffer.
                for request in batch {
                    guard let block = cached.getSlice(at: request.begin, length: request.length) else { break }
                    c.send(.piece(piece: request.piece, begin: request.begin, block: block))
                    c.uploadedToPeer += Int64(request.length)
                    uploaded += Int64(request.length)
                    c.unflushedWrites += 1
                }
                if c.unflushedWrites >= 64 { c.flush() }
                continue
            }
            c.readsInFlight += 1
            c.readBytesInFlight += length
            let storage = self.storage
            let span = length
            let read = {
                storage.read(
                    piece: first.piece, begin: first.begin, length: span, into: self.takeReadBuffer(span), on: self.loop
                ).assumeIsolated().whenComplete { result in
                    c.readsInFlight -= 1
                    c.readBytesInFlight -= span
                    switch result {
                    case .success(var buffer):
                        guard !c.closed, !c.amChoking else { return self.returnReadBuffer(buffer) }
                        // The blocks are slices of one pooled buffer; it goes back to the pool once the last of
                        // them has been written to the socket.
                        let written = self.loop.makePromise(of: Void.self)
                        let whole = buffer
                        var attached = false
                        for (index, request) in batch.enumerated() {
                            guard let block = buffer.readSlice(length: request.length) else { break }
                            attached = index == batch.count - 1
                            c.send(
                                .piece(piece: request.piece, begin: request.begin, block: block),
                                promise: attached ? written : nil)
                            c.uploadedToPeer += Int64(request.length)
                            self.uploaded += Int64(request.length)
                            c.unflushedWrites += 1
                        }
                        if !attached { written.succeed(()) }
                        buffer = ByteBuffer()
                        written.futureResult.assumeIsolated().whenComplete { _ in self.returnReadBuffer(whole) }
                        if c.readsInFlight == 0 || c.unflushedWrites >= 64 { c.flush() }
                        self.pumpUploads(c)
                    case .failure(let error):
                        self.logger.warning("read failed", metadata: ["request": "\(first)", "error": "\(error)"])
                        c.close()
                    }
                }
            }
            if wait > 0 {
                loop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(wait * 1000) + 1)) { read() }
                return
            }
            read()
        }
        // Blocks sent from cached pieces go out now (reads flush when they complete).
        if c.unflushedWrites > 0 && c.readsInFlight == 0 { c.flush() }
    }

    /// A pooled buffer for an upload read of `length` bytes: buffers come in power-of-two sizes from 64 KiB (reads
    /// are batched up to 1 MiB), pooled per size.
    private func takeReadBuffer(_ length: Int) -> ByteBuffer {
        let size = Self.readBufferSize(length)
        if let free = freeReadBuffers[size]?.popLast() {
            host.readBufferTaken(size, by: self)
            return free
        }
        return AlignedAllocator.allocator.buffer(capacity: size)
    }

    private static func readBufferSize(_ length: Int) -> Int {
        var size = 64 << 10
        while size < length { size <<= 1 }
        return size
    }

    /// Gives a buffer back once its blocks are sent; the pool keeps at most `maximumFreeReadBufferBytes`.
    private func returnReadBuffer(_ buffer: ByteBuffer) {
        guard isRunning else { return }
        let size = buffer.capacity
        guard size == Self.readBufferSize(size), host.keepReadBuffer(size, for: self) else { return }
        freeReadBuffers[size, default: []].append(buffer)
    }

    // MARK: - Choking

    private func chokeRound() {
        guard isRunning else { return }
        let t = now()
        let candidates = connections.values.map { c in
            Choker.Candidate(
                id: c.id, interested: c.peerInterested, downloadRate: c.downloadRate, snubbed: c.snubbed,
                isNew: t - c.connectedAt < 30, isSeed: picker.peerIsSeed(c.id), locality: c.record.locality)
        }
        let unchoke = choker.runRound(candidates, seeding: picker.isComplete)
        for c in connections.values {
            let should = unchoke.contains(c.id)
            if should && c.amChoking {
                c.amChoking = false
                c.send(.unchoke)
            } else if !should && !c.amChoking && c.peerInterested {
                c.amChoking = true
                c.send(.choke)
                for request in c.clearUploads() where c.fast { c.send(.rejectRequest(request)) }
            }
        }
        flushAll()
    }

    // MARK: - Timers

    private func tick() {
        guard isRunning else { return }
        let t = now()
        rateSamples.append((t, downloaded, uploaded))
        if rateSamples.count > 20 { rateSamples.removeFirst(rateSamples.count - 20) }
        for c in connections.values {
            c.downloadRate = c.downloadRate * 0.75 + Double(c.rateWindowBytes) * 4 * 0.25
            c.rateWindowBytes = 0
            if !picker.outstanding(c.id).isEmpty && t - c.lastBlockAt > configuration.requestTimeout.seconds {
                // Snubbed: free its blocks for the others, keep asking it for a few.
                logger.debug("peer snubbed", metadata: ["peer": "\(c.record.address)"])
                c.snubbed = true
                picker.cancelRequests(c.id)
                c.lastBlockAt = t
                for other in connections.values where other !== c { requestMore(other) }
            }
            if t - c.lastReceivedAt > configuration.idleTimeout.seconds {
                drop(c, "silent for \(configuration.idleTimeout)")
            } else if t - c.lastSentAt > 60 {
                c.send(.keepAlive)
            }
            requestMore(c)
        }
        flushAll()
        switch state {
        case .seeding(let until?) where t >= until:
            shutdown(.complete)
            return
        case .downloading:
            if let stall = configuration.stallTimeout, t - lastVerifiedAt > stall.seconds {
                logger.error("no piece verified for \(stall); giving up")
                shutdown(.stalled)
                return
            }
        default:
            break
        }
        ticks += 1
        if ticks % 4 == 0 { connectMore() }
    }

    /// The node's bytes in flight to the disk fell below the budget, or a session left: top requests up again.
    func resumeRequests() {
        guard case .downloading = state else { return }
        for c in connections.values { requestMore(c) }
        flushAll()
    }

    /// This session's share of the node-wide rate limits (nil: unlimited), from the host.
    func setHostRateShares(upload: Int?, download: Int?) {
        hostUploadBucket = TokenBucket(bytesPerSecond: upload)
        hostDownloadBucket = TokenBucket(bytesPerSecond: download)
    }

    private func flushAll() {
        for c in connections.values { c.flush() }
    }

    func progress() -> SessionProgress {
        let t = now()
        var downRate = 0.0
        var upRate = 0.0
        if let first = rateSamples.first(where: { t - $0.time <= 5 }), t - first.time > 0.2 {
            downRate = Double(downloaded - first.down) / (t - first.time)
            upRate = Double(uploaded - first.up) / (t - first.time)
        } else if t > 0 {
            downRate = Double(downloaded) / t
            upRate = Double(uploaded) / t
        }
        let verified = picker.verifiedBytes
        let remaining = torrent.totalLength - verified
        return SessionProgress(
            verifiedBytes: verified, totalBytes: torrent.totalLength, piecesVerified: picker.have.setCount,
            pieceCount: torrent.pieceCount, downloadRate: downRate, uploadRate: upRate, downloaded: downloaded,
            uploaded: uploaded, peers: connections.count,
            etaSeconds: remaining == 0 ? 0 : (downRate > 0 ? Double(remaining) / downRate : nil),
            complete: picker.isComplete, hashFailures: hashFailures, bannedPeers: reputation.banned.count)
    }

    // MARK: - Trackers

    private func announce(_ event: AnnounceRequest.Event) {
        announceTask?.cancel()
        sendAnnounce(event, timeout: .seconds(30)).assumeIsolated().whenSuccess { delay in
            guard self.isRunning, let delay else { return }
            self.announceTask = self.loop.assumeIsolated().scheduleTask(in: delay.timeAmount) {
                self.announce(.none)
            }
        }
    }

    /// Announces to the first tracker that answers, tier by tier. The future gives the delay until the next
    /// announce (nil after `stopped`).
    private func sendAnnounce(_ event: AnnounceRequest.Event, timeout: Duration) -> EventLoopFuture<Duration?> {
        let verified = picker.verifiedBytes
        let request = AnnounceRequest(
            infoHash: infoHash, peerID: peerID, port: listenPort, uploaded: uploaded, downloaded: downloaded,
            left: torrent.totalLength - verified, event: event, numWant: event == .stopped ? 0 : 80,
            key: trackerKey, trackerID: trackerID)
        let urls = tiers.ordered
        let parameters = configuration.announceParameters
        let client = HTTPTrackerClient(group: loop, timeout: timeout.timeAmount)
        let logger = self.logger
        return loop.makeFutureWithTask { () -> (String, AnnounceResponse)? in
            for text in urls {
                do {
                    let url = try AnnounceURL(text)
                    var request = request
                    request.extraParameters = parameters?(url, request) ?? []
                    let response = try await client.announce(request, to: url)
                    return (text, response)
                } catch {
                    logger.warning("announce failed", metadata: ["tracker": "\(text)", "error": "\(error)"])
                }
            }
            return nil
        }.assumeIsolated().map { answer -> Duration? in
            guard event != .stopped else { return nil }
            guard let (url, response) = answer else { return self.schedule.failed() }
            self.tiers.promote(url)
            if let warning = response.warning { self.logger.warning("tracker warning: \(warning)") }
            if let id = response.trackerID { self.trackerID = id }
            for address in response.peers { self.addPeer(self.classifier.record(address, source: .tracker)) }
            self.connectMore()
            let starving = !self.picker.isComplete && response.peers.isEmpty && self.connections.isEmpty
            return self.schedule.succeeded(response, starving: starving)
        }.nonisolated()
    }
}

@available(*, unavailable)
extension SessionCore: Sendable {}
