import AsyncHTTPClient
import NIOCore
import NIOSSL
import PeerWire

/// An HTTP mirror or BEP 19 web seed as a source of blocks (``BlockSource``): the picker's blocks are grouped into
/// runs of consecutive bytes, and each run is fetched with Range requests over the torrent's file layout
/// (``MirrorFetch``), at most ``MirrorSettings/requestsPerMirror`` at once. Every piece it supplies is hash-checked
/// by the session's write path like a peer's.
///
/// A failed request (connection refused, an HTTP error, a body shorter or longer than asked, no data for
/// ``MirrorSettings/readTimeout``) gives its blocks back to the picker and counts a failure: the mirror backs off
/// 1 s, 2 s, 4 s ... (``MirrorSettings/backoff(afterFailures:)``) and is dropped after
/// ``MirrorSettings/failureLimit`` failures in a row. A piece whose every block came from it and that fails its
/// hash check drops it at once (``SessionCore/pieceFailed(_:)``). Lives on the session's event loop.
final class HTTPMirror: BlockSource {
    enum State {
        case active
        case backingOff(until: Double)
        case dropped
    }

    unowned let core: SessionCore
    let sourceID: Int
    let location: MirrorLocation
    let locality: PeerLocality
    /// The origin: a last resort (``SessionCore/isStandby(_:)``).
    let isOrigin: Bool
    let settings: MirrorSettings
    private(set) var state = State.active
    /// Failures in a row.
    private(set) var failures = 0
    /// Pieces that failed their hash check with blocks from this mirror and from other sources.
    var sharedHashFailures = 0
    /// Why it backs off or was dropped (the last failure while it is active again).
    private(set) var reason: String?
    /// Files (indices in the layout) it answered `404` or `410` for, until they are asked again (``lacks(_:_:)``):
    /// the pieces they touch are not asked of it meanwhile.
    private(set) var lackingFiles: Set<Int> = []
    /// How often it answered `404` or `410` per file, and the timers that end the waits.
    private var lackCounts: [Int: Int] = [:]
    private var lackTimers: [Int: Scheduled<Void>] = [:]
    private var fetches: [Int: MirrorFetch] = [:]
    private var nextFetchID = 1
    /// The TLS settings of its requests when they are not the client's own: the verified ones a keyed node switches
    /// it to (``useVerifiedTLS(after:generation:)``, and back: ``useClientTLS(after:generation:)``).
    private(set) var tlsConfiguration: TLSConfiguration?
    /// How often ``tlsConfiguration`` changed. A request made before the last change failed with settings the mirror
    /// has already left (or left and came back to): its failure switches nothing.
    private(set) var tlsGeneration = 0
    /// The end of the current backoff; cancelled by ``stop()``, so it never fires after the session is gone.
    private var backoffTimer: Scheduled<Void>?

    // Totals and rate (the session's tick updates the rate).
    var bytes: Int64 = 0
    var rateWindowBytes: Int64 = 0
    var rate: Double = 0

    init(
        core: SessionCore, sourceID: Int, location: MirrorLocation, locality: PeerLocality, isOrigin: Bool = false,
        settings: MirrorSettings
    ) {
        self.core = core
        self.sourceID = sourceID
        self.location = location
        self.locality = locality
        self.isOrigin = isOrigin
        self.settings = settings
    }

    var pickerInfo: PickerPeerInfo { PickerPeerInfo(source: .mirror, locality: locality) }

    /// Not dropped and not backing off.
    var isActive: Bool {
        if case .active = state { return true }
        return false
    }

    var isDropped: Bool {
        if case .dropped = state { return true }
        return false
    }

    /// Requests in flight.
    var fetchCount: Int { fetches.count }

    /// How many requests it may have in flight: one while it is slower than ``MirrorSettings/slowFraction`` of the
    /// fastest mirror, ``MirrorSettings/requestsPerMirror`` otherwise.
    func requestSlots(fastestRate: Double) -> Int {
        let slow = fastestRate > 0 && bytes > 0 && rate < fastestRate * settings.slowFraction
        return slow ? 1 : settings.requestsPerMirror
    }

    // MARK: - BlockSource

    /// Groups the blocks into runs of consecutive bytes (at most ``MirrorSettings/bytesPerRequest`` each) and
    /// fetches each run.
    func requestBlocks(_ requests: [BlockRequest]) {
        let layout = core.storage.layout
        let pieceLength = Int64(layout.pieceLength)
        func offset(_ r: BlockRequest) -> Int64 { Int64(r.piece) * pieceLength + Int64(r.begin) }
        let sorted = requests.sorted { offset($0) < offset($1) }
        var run: [BlockRequest] = []
        var runEnd: Int64 = 0
        var runBytes = 0
        for request in sorted {
            if !run.isEmpty && (offset(request) != runEnd || runBytes + request.length > settings.bytesPerRequest) {
                startFetch(run)
                run = []
                runBytes = 0
            }
            run.append(request)
            runEnd = offset(request) + Int64(request.length)
            runBytes += request.length
        }
        if !run.isEmpty { startFetch(run) }
    }

    /// Another source delivered the block first (end game). The request for it is not withdrawn: the bytes are on
    /// their way in a larger run, and the picker ignores the late copy.
    func cancelBlock(_ request: BlockRequest) {}

    private func startFetch(_ blocks: [BlockRequest]) {
        let fetch = MirrorFetch(mirror: self, id: nextFetchID, blocks: blocks)
        nextFetchID += 1
        fetches[fetch.id] = fetch
        fetch.start()
    }

    // MARK: - Outcomes

    /// A block of a fetch is complete.
    func delivered(_ request: BlockRequest, _ block: ByteBuffer) {
        core.mirrorBlockArrived(request, block, from: self)
    }

    /// A fetch ended: `failure` is nil when every block arrived.
    func fetchEnded(_ fetch: MirrorFetch, failure: String?) {
        guard fetches.removeValue(forKey: fetch.id) != nil else { return }
        if let failure {
            let undelivered = Array(fetch.undelivered)
            if !undelivered.isEmpty { core.picker.cancelRequests(sourceID, undelivered) }
            if fetch.switchedTLS {
                // Asked again at once with the verified settings; a failure then counts. While it backs off, the
                // reason stays the backoff's, and a request older than a switch back says nothing of the settings.
                if isActive, tlsConfiguration != nil { reason = failure }
            } else if fetch.staleTLS {
                // Made with verified settings the mirror has left since: changes nothing.
            } else if let file = fetch.lackingFile {
                lacks(file, failure)
            } else {
                let switchedBack = fetch.switchedBack ? "the next requests present the node's certificate again" : nil
                failed(failure, then: switchedBack)
            }
            core.requestMoreEverywhere()
        } else {
            if failures > 0 {
                core.logger.info("mirror recovered", metadata: ["mirror": "\(location.url)"])
            }
            failures = 0
            core.requestMore(self)
        }
    }

    /// Counts a failure (once per backoff: requests that were in flight when the first failed do not count again)
    /// and backs off, or drops the mirror at the limit. `then` says what the requests after the backoff do
    /// differently (the backoff's reason ends with it).
    private func failed(_ why: String, then: String? = nil) {
        guard case .active = state else { return }
        failures += 1
        if failures >= settings.failureLimit {
            return drop("\(failures) failures in a row (last: \(why))")
        }
        let wait = settings.backoff(afterFailures: failures)
        state = .backingOff(until: core.now() + wait.seconds)
        reason = "\(failures) failure\(failures == 1 ? "" : "s"), backing off \(Self.text(wait)) (\(why))"
            + (then.map { "; \($0)" } ?? "")
        core.logger.warning("mirror \(location.url): \(reason!)")
        backoffTimer?.cancel()
        backoffTimer = core.loop.assumeIsolated().scheduleTask(in: wait.timeAmount) { [weak self] in
            guard let self, case .backingOff = self.state, self.core.isRunning else { return }
            self.backoffTimer = nil
            self.state = .active
            self.core.requestMore(self)
        }
    }

    /// The mirror does not have `file` (it answered `404` or `410`): that is no failure of the mirror, which keeps
    /// serving the other files without a backoff, but the pieces the file touches are not asked of it for a while
    /// (``MirrorSettings/backoff(afterFailures:)`` of how often it answered so for the file: 1 s, 2 s, 4 s ... at most
    /// ``MirrorSettings/maxBackoff``), so other sources (WAN ones too, under LAN-first) take them; then it is asked
    /// again (a mirror still syncing, an appliance still checking its data). A mirror that lacks every file counts
    /// a failure: backoff, and dropped at the limit as for any other failure.
    private func lacks(_ file: Int, _ why: String) {
        guard !isDropped, lackingFiles.insert(file).inserted else { return }
        core.picker.peerLacks(sourceID, pieces: pieces(of: file))
        let answers = (lackCounts[file] ?? 0) + 1
        lackCounts[file] = answers
        lackTimers[file] = core.loop.assumeIsolated().scheduleTask(
            in: settings.backoff(afterFailures: answers).timeAmount
        ) { [weak self] in
            guard let self, self.core.isRunning else { return }
            self.askAgain(file)
        }
        let layout = core.storage.layout
        let fetched = layout.files.indices.filter { !layout.files[$0].isPadFile && layout.files[$0].length > 0 }
        if fetched.allSatisfy(lackingFiles.contains) {
            return failed("lacks every file (\(why))")
        }
        let count = lackingFiles.count
        reason = "lacks \(count) file\(count == 1 ? "" : "s"), serving the others (last: \(why))"
        core.logger.warning("mirror \(location.url): \(reason!)")
    }

    /// The wait for a file it lacked is over: the pieces of the file that no other lacking file touches are its
    /// again, and it is asked for them.
    private func askAgain(_ file: Int) {
        lackTimers[file] = nil
        guard !isDropped, lackingFiles.remove(file) != nil else { return }
        let stillLacking = lackingFiles.map(pieces(of:))
        for piece in pieces(of: file) where !stillLacking.contains(where: { $0.contains(piece) }) {
            core.picker.peerHas(sourceID, piece: piece)
        }
        core.requestMoreEverywhere()
    }

    /// The pieces `file` touches (none for an empty file).
    private func pieces(of file: Int) -> Range<Int> {
        let layout = core.storage.layout
        let entry = layout.files[file]
        guard entry.length > 0 else { return 0..<0 }
        let pieceLength = Int64(layout.pieceLength)
        return Int(entry.offset / pieceLength)..<Int((entry.offset + entry.length - 1) / pieceLength + 1)
    }

    /// A keyed node's client settings (the node certificate, TLS 1.3 and Ed25519 only, no server verification:
    /// what appliances' mirrors need) cannot complete a handshake with a third-party server (TLS 1.2 only, an ECDSA or
    /// RSA certificate). After such a failure the mirror's further requests use the host's verified settings
    /// (``HostConfiguration/mirrorVerifiedTLS``: the system's roots and `--mirror-ca`'s) until one of them fails
    /// the same way (``useClientTLS(after:generation:)``); this failure does not count
    /// (no backoff: the mirror is asked again at once), nor do those of the other requests made with the client's
    /// settings.
    ///
    /// - Parameters:
    ///   - error: the failure, for the log.
    ///   - generation: the ``tlsGeneration`` the failed request was made with.
    /// - Returns: true when the failure does not count: the mirror uses the verified settings from now on, or the
    ///   request was made before the last switch; false when the host has no verified settings (a key-less node).
    func useVerifiedTLS(after error: String, generation: Int) -> Bool {
        guard let verified = core.host.configuration.mirrorVerifiedTLS else { return false }
        guard generation == tlsGeneration, tlsConfiguration == nil else { return true }
        switchTLS(
            to: verified, "handshake with the node certificate's TLS settings failed; verifying the server from now on",
            error: error)
        return true
    }

    /// A request with the verified settings failed at the handshake as incompatible (an appliance takes TLS 1.3 with
    /// Ed25519 only and refuses them before any certificate check). The switch to them may have come from one
    /// injected TLS alert or a flaky middlebox rather than a third-party server, so the mirror's further requests use
    /// the client's own settings again. The failure counts as any other (backoff, dropped at
    /// ``MirrorSettings/failureLimit``): a third-party server that takes neither is dropped at the limit, each round a
    /// backoff longer, and once an injection stops, an appliance's next request succeeds. A certificate that does not
    /// verify (untrusted, expired, another host) never switches back: the node's settings verify nothing, so an
    /// on-path attacker showing such a certificate would get the node certificate and the requests; the mirror stays
    /// on verified settings and is dropped at the limit.
    ///
    /// - Parameters:
    ///   - error: the failure, for the log.
    ///   - generation: the ``tlsGeneration`` the failed request was made with.
    /// - Returns: true when the mirror switched back (false: the request was made before the last switch).
    func useClientTLS(after error: String, generation: Int) -> Bool {
        guard generation == tlsGeneration, tlsConfiguration != nil else { return false }
        switchTLS(
            to: nil, "handshake with verified TLS settings failed; presenting the node's certificate again", error: error)
        return true
    }

    private func switchTLS(to settings: TLSConfiguration?, _ message: String, error: String) {
        tlsConfiguration = settings
        tlsGeneration += 1
        core.logger.info("mirror: \(message)", metadata: ["mirror": "\(location.url)", "error": "\(error)"])
    }

    /// Stops using the mirror for the rest of the session: its requests are cancelled and their blocks go back to
    /// the picker.
    func drop(_ why: String) {
        guard !isDropped else { return }
        state = .dropped
        reason = why
        core.logger.warning("mirror \(location.url) dropped: \(why)")
        stop()
        core.picker.removePeer(sourceID)
    }

    /// Cancels every request in flight and the timers (the session ends, or the download is complete).
    func stop() {
        backoffTimer?.cancel()
        backoffTimer = nil
        for timer in lackTimers.values { timer.cancel() }
        lackTimers = [:]
        let running = fetches.values
        fetches = [:]
        for fetch in running { fetch.cancel() }
    }

    /// What progress reports about it.
    func progress(standby: Bool) -> MirrorProgress {
        let shown: MirrorProgress.State
        switch state {
        case .active: shown = standby ? .standby : .active
        case .backingOff: shown = .backingOff
        case .dropped: shown = .dropped
        }
        return MirrorProgress(
            url: location.url, isOrigin: isOrigin, locality: locality, state: shown, bytes: bytes, rate: rate, failures: failures,
            reason: reason)
    }

    /// `4 s`, `1.5 s`.
    static func text(_ duration: Duration) -> String {
        let seconds = duration.seconds
        return seconds == seconds.rounded() ? "\(Int64(seconds)) s" : "\(ProgressFormat.format1(seconds)) s"
    }
}

@available(*, unavailable)
extension HTTPMirror: Sendable {}
