import Logging
import Metainfo
import NIOCore
import NIOPosix
import PeerWire
import SwarmPrimitives

/// The state of one torrent: picker, choker, connections, tracker, storage. Every method runs on ``loop``, the
/// host's loop; the channel handlers of all its connections and the host (``HostCore``) live on the same loop, so
/// they call in directly.
///
/// Its parts, by file: this one (state, lifecycle), `+Peers` (peer directory, dialling, admission),
/// `+Dispatch` (peer messages, requests, arriving blocks), `+WritePath` (piece buffers, writes, hash checks),
/// `+Uploads` (serving requests, read buffers), `+Timers` (choking, ticks, progress), `+Trackers` (what to
/// announce; ``TrackerAnnouncer`` sends it).
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
    let infoHash: InfoHash
    let peerID: PeerID
    let ourHandshake: Handshake
    let wireLimits: PeerWireLimits
    private let done: EventLoopPromise<SessionOutcome>
    let progressHandler: @Sendable (SessionProgress) -> Void

    var state: State = .starting
    var picker: PiecePicker
    var choker: Choker
    var reputation = PeerReputation()
    /// Verified bytes per file per peer, for the signature gate's audit log.
    var attribution: PeerAttribution
    var nextID = 1
    var connections: [Int: PeerConnection] = [:]
    /// HTTP mirrors and web seeds, by source id (ids are shared with ``connections``).
    var mirrors: [Int: HTTPMirror] = [:]
    /// Every peer known, from every source; decides whom to dial next.
    var directory = PeerDirectory()
    /// Sets each peer record's locality.
    let classifier: LocalityClassifier
    private(set) var listenPort = 0
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant

    // Disk: writes in flight per piece, pieces waiting for their writes before the hash check.
    var writesInFlight: [Int: Int] = [:]
    var awaitingVerification: Set<Int> = []
    // The budgets of piece buffers, bytes handed to the disk and free read buffers are the host's, shared with
    // the other sessions (``HostConfiguration``): when the disk falls behind, requests stop until it catches up,
    // so memory stays bounded.
    var pieceBuffers: PieceBufferPool
    var readBuffers = ReadBufferPool()

    // Totals and rates.
    var downloaded: Int64 = 0
    var uploaded: Int64 = 0
    var hashFailures = 0
    var rateSamples: [(time: Double, down: Int64, up: Int64)] = []
    var lastVerifiedAt: Double
    var downloadBucket: TokenBucket
    var uploadBucket: TokenBucket
    /// This session's share of the node-wide rate limits.
    var hostDownloadBucket = TokenBucket(bytesPerSecond: nil)
    var hostUploadBucket = TokenBucket(bytesPerSecond: nil)
    var refillScheduled = false
    var ticks = 0

    let announcer: TrackerAnnouncer

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
        self.infoHash = torrent.infoHash
        self.peerID = PeerID.generate()
        self.ourHandshake = Handshake(infoHash: torrent.infoHash, peerID: peerID)
        self.wireLimits = PeerWireLimits(pieceLength: torrent.pieceLength, totalLength: Int(torrent.totalLength))
        self.picker = PiecePicker(
            pieceCount: torrent.pieceCount, pieceLength: torrent.pieceLength, totalLength: torrent.totalLength,
            have: storage.have)
        self.attribution = PeerAttribution(layout: storage.layout)
        self.choker = Choker(regularSlots: configuration.uploadSlots, favourLAN: configuration.lanFirst)
        self.start = clock.now
        self.lastVerifiedAt = 0
        self.downloadBucket = TokenBucket(bytesPerSecond: configuration.downloadRateLimit)
        self.uploadBucket = TokenBucket(bytesPerSecond: configuration.uploadRateLimit)
        self.pieceBuffers = PieceBufferPool(bufferCapacity: torrent.pieceLength)
        self.announcer = TrackerAnnouncer(
            loop: host.loop, torrent: torrent, parameters: configuration.announceParameters, logger: logger)
        self.classifier = LocalityClassifier.forThisHost(
            siteNetworks: configuration.lanNetworks, wanNetworks: configuration.wanNetworks)
        if configuration.lanFirst {
            let site = SiteShare(pieceCount: torrent.pieceCount, ours: SiteShare.key(peerID), others: [])
            picker.policy = LANFirstPolicy(site: site)
        }
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
        if configuration.useTrackers && announcer.hasTrackers {
            announce(picker.isComplete ? .completed : .started)
        }
        connectMore()
        if !picker.isComplete { startMirrors() }
        if picker.isComplete { logger.info("seeding: every piece is verified") }
    }

    /// Runs `body` every `interval` while the session runs, on the host's shared timer (``HostTimers``).
    private func every(_ interval: TimeAmount, _ body: @escaping () -> Void) {
        host.timers.every(interval, while: { self.isRunning }, body)
    }

    func fail(_ error: EngineError) {
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
        progress.supplierIdentities = attribution.identities
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
        if configuration.useTrackers && announcer.hasTrackers {
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
        pieceBuffers.removeIdle()
        readBuffers.removeAll()
        announcer.cancel()
        // Its info-hash is unknown to the listener from now on; its shares of the node-wide budgets go back.
        host.remove(self)
        for connection in connections.values { connection.close() }
        stopMirrors()
    }

    var isRunning: Bool {
        switch state {
        case .downloading, .seeding: true
        default: false
        }
    }
}

@available(*, unavailable)
extension SessionCore: Sendable {}
