import Engine
import Logging
import Metainfo
import SwarmPrimitives
import SystemSupport

/// The seed daemon's state, changed only by ``handle(_:)`` on the daemon's one controller task: the watch
/// directory's files and what became of each, the torrents running, the configuration in force.
final class DaemonController {
    enum Event: Sendable {
        /// Time to scan the watch directory and look at the config file.
        case tick
        case reload(ReloadTrigger)
        /// A torrent's task reported.
        case run(Int, SeedRun.Report)
        /// Graceful shutdown asked for (SIGTERM/SIGINT).
        case shutdown
        /// The shutdown timeout passed.
        case deadline
    }

    enum ReloadTrigger: String, Sendable {
        case signal = "SIGHUP"
        case fileChanged = "file changed"
    }

    enum Next {
        case running
        case finished
    }

    /// One `.torrent` file of the watch directory.
    struct Entry {
        enum State {
            /// Not parsed yet; `error` is the last parse error (nil before the first try).
            case parsing(error: String?)
            case unparseable(String)
            case noData(Torrent)
            case duplicate(Torrent, of: String)
            /// Parsed, its data found, waiting for a check slot or for its previous session to stop.
            case queued(Torrent, directory: String)
            case running(SeedRun, seeding: Bool)
            case failed(Torrent, String)
        }

        var fingerprint: FileFingerprint
        /// When the file was first seen or last changed (the parse timeout counts from here).
        var changedAt: ContinuousClock.Instant
        var state: State

        var torrent: Torrent? {
            switch state {
            case .parsing, .unparseable: nil
            case .noData(let t), .duplicate(let t, _), .queued(let t, _), .failed(let t, _): t
            case .running(let run, _): run.torrent
            }
        }
    }

    private let daemon: SeedDaemon
    private let events: AsyncStream<Event>.Continuation
    private let interval: ScanInterval
    private var logger: Logger { daemon.logger }
    private var configuration: DaemonConfiguration
    private var session: SessionConfiguration
    private var configFingerprint: FileFingerprint?
    private var entries: [String: Entry] = [:]
    /// Runs by id, until their task ends (also after their entry is gone).
    private var runs: [Int: SeedRun] = [:]
    /// Runs whose data is being checked.
    private var checking: Set<Int> = []
    private var nextID = 1
    private var shuttingDown = false
    private var lastScanError: String?
    /// The file names on the status board.
    private var published: Set<String> = []
    /// The HTTP mirror's digest cache (`STATE/sha256`) is to be pruned once the torrents settle: set at start, when a
    /// torrent file leaves the watch directory or changes, and after a reload that restarted torrents
    /// (``pruneDigestsIfSettled()``).
    private var digestPrunePending = true
    /// A scan of the watch directory succeeded (before that, no torrent is known and every digest would go).
    private var scanned = false

    init(daemon: SeedDaemon, events: AsyncStream<Event>.Continuation, interval: ScanInterval) {
        self.daemon = daemon
        self.events = events
        self.interval = interval
        self.configuration = daemon.configuration
        self.session = daemon.sessionConfiguration
        self.configFingerprint = FileFingerprint(path: daemon.configuration.path, followingSymlinks: true)
    }

    func handle(_ event: Event) -> Next {
        switch event {
        case .tick:
            guard !shuttingDown else { break }
            let now = FileFingerprint(path: configuration.path, followingSymlinks: true)
            if now != configFingerprint {
                configFingerprint = now
                reload(.fileChanged)
            }
            scan()
        case .reload(let trigger):
            guard !shuttingDown else { break }
            configFingerprint = FileFingerprint(path: configuration.path, followingSymlinks: true)
            reload(trigger)
            scan()
        case .run(let id, let report):
            received(report, from: id)
        case .shutdown:
            guard !shuttingDown else { break }
            shuttingDown = true
            logger.notice("seed daemon shutting down", metadata: ["torrents": "\(runs.count)"])
            for run in runs.values { run.stop() }
            let timeout = configuration.shutdownTimeout
            let events = self.events
            Task {
                try? await Task.sleep(for: timeout)
                events.yield(.deadline)
            }
        case .deadline:
            logger.warning(
                "shutdown timeout reached; exiting without waiting for the rest",
                metadata: [
                    "timeout": "\(configuration.shutdownTimeout)",
                    "unfinished": "\(runs.values.map(\.file).sorted().joined(separator: ", "))",
                ])
            return .finished
        }
        pruneDigestsIfSettled()
        publish()
        return shuttingDown && runs.isEmpty ? .finished : .running
    }

    // MARK: - Watch directory

    private func scan() {
        let found: [String: FileFingerprint]
        do {
            found = try WatchDirectory.scan(configuration.watchDirectory)
            lastScanError = nil
            scanned = true
        } catch {
            if lastScanError != error.message {
                logger.error("watch directory scan failed; keeping the torrents as they are", metadata: ["error": "\(error)"])
                lastScanError = error.message
            }
            return
        }
        let changes = WatchDirectory.changes(from: entries.mapValues(\.fingerprint), to: found)
        let now = ContinuousClock.now
        if !changes.removed.isEmpty || !changes.changed.isEmpty { digestPrunePending = true }
        for name in changes.removed {
            logger.notice("torrent file removed; stopping it", metadata: ["torrent": "\(name)"])
            remove(name)
        }
        for name in changes.changed {
            logger.notice("torrent file changed; reading it again", metadata: ["torrent": "\(name)"])
            remove(name)
            entries[name] = Entry(fingerprint: found[name]!, changedAt: now, state: .parsing(error: nil))
        }
        for name in changes.added {
            entries[name] = Entry(fingerprint: found[name]!, changedAt: now, state: .parsing(error: nil))
        }
        advance()
    }

    /// Forgets a file: stops its run, and lets the files that were its duplicates be read again.
    private func remove(_ name: String) {
        guard let entry = entries.removeValue(forKey: name) else { return }
        if case .running(let run, _) = entry.state { run.stop() }
        for (other, value) in entries {
            if case .duplicate(_, let of) = value.state, of == name {
                entries[other]?.state = .parsing(error: nil)
            }
        }
    }

    /// Moves every file as far as it can go: parse, find its data, start its check.
    private func advance() {
        for name in entries.keys.sorted() {
            guard var entry = entries[name] else { continue }
            switch entry.state {
            case .parsing(let previous):
                entry.state = parse(name, entry: entry, previous: previous)
            case .noData(let torrent):
                if let directory = dataDirectory(of: torrent) {
                    entry.state = .queued(torrent, directory: directory)
                }
            default:
                break
            }
            if case .queued(let torrent, let directory) = entry.state, canStart(torrent) {
                entry.state = .running(start(name, torrent: torrent, directory: directory), seeding: false)
            }
            entries[name] = entry
        }
    }

    private func parse(_ name: String, entry: Entry, previous: String?) -> Entry.State {
        let path = "\(configuration.watchDirectory)/\(name)"
        let torrent: Torrent
        do {
            torrent = try Torrent(contentsOfFile: path)
        } catch {
            let waited = ContinuousClock.now - entry.changedAt
            if waited >= configuration.parseTimeout {
                logger.error(
                    "torrent file does not parse; fix or replace it (it is read again when it changes)",
                    metadata: ["torrent": "\(name)", "error": "\(error)", "waited": "\(waited)"])
                return .unparseable("\(error)")
            }
            if previous == nil {
                logger.info(
                    "torrent file does not parse yet; retrying at each scan (still being written?)",
                    metadata: ["torrent": "\(name)", "error": "\(error)"])
            }
            return .parsing(error: "\(error)")
        }
        if let (other, _) = entries.first(where: { $0.key != name && $0.value.torrent?.infoHash == torrent.infoHash }) {
            logger.error(
                "torrent file has the same info-hash as another; seeding only the other",
                metadata: ["torrent": "\(name)", "other": "\(other)", "info_hash": "\(torrent.infoHash.hex)"])
            return .duplicate(torrent, of: other)
        }
        guard let directory = dataDirectory(of: torrent) else {
            logger.warning(
                "no data directory holds this torrent's content; looking again at each scan",
                metadata: [
                    "torrent": "\(name)", "content": "\(torrent.name)",
                    "data": "\(configuration.dataDirectories.joined(separator: ", "))",
                ])
            return .noData(torrent)
        }
        return .queued(torrent, directory: directory)
    }

    /// The first data directory that holds the torrent's top-level file or directory.
    private func dataDirectory(of torrent: Torrent) -> String? {
        configuration.dataDirectories.first { FileFingerprint(path: "\($0)/\(torrent.name)") != nil }
    }

    /// A check slot is free and no earlier session of this torrent is still stopping.
    private func canStart(_ torrent: Torrent) -> Bool {
        checking.count < configuration.checksAtOnce && !runs.values.contains { $0.torrent.infoHash == torrent.infoHash }
    }

    private func start(_ name: String, torrent: Torrent, directory: String) -> SeedRun {
        let run = SeedRun(id: nextID, file: name, torrent: torrent, directory: directory)
        nextID += 1
        runs[run.id] = run
        checking.insert(run.id)
        var logger = self.logger
        logger[metadataKey: "torrent"] = "\(name)"
        let resume = "\(SeedDaemon.resumeDirectory(configuration))/\(torrent.infoHash.hex).resume"
        let session = self.session
        let host = daemon.host
        let mirrors = daemon.mirrors
        let events = self.events
        Task {
            await run.run(
                resumePath: resume, configuration: session, host: host, mirrors: mirrors, logger: logger
            ) { report in
                events.yield(.run(run.id, report))
            }
        }
        return run
    }

    private func received(_ report: SeedRun.Report, from id: Int) {
        guard let run = runs[id] else { return }
        let current = entries[run.file].flatMap { entry -> Bool? in
            if case .running(let r, _) = entry.state { return r === run }
            return false
        } ?? false
        switch report {
        case .seeding(let check):
            checking.remove(id)
            guard current else { break }
            entries[run.file]?.state = .running(run, seeding: true)
            var metadata: Logger.Metadata = [
                "torrent": "\(run.file)", "name": "\(run.torrent.name)", "info_hash": "\(run.torrent.infoHash.hex)",
                "data": "\(run.directory)",
            ]
            if let check {
                metadata["check"] = check.usedResume ? "resume data (no data read)" : "hashed"
                metadata["bytes_hashed"] = "\(check.bytesHashed)"
                if let why = check.resumeRejection { metadata["resume_rejected"] = "\(why)" }
            }
            logger.notice("seeding", metadata: metadata)
        case .failed(let message):
            checking.remove(id)
            guard current else { break }
            entries[run.file]?.state = .failed(run.torrent, message)
            logger.error(
                "torrent not served", metadata: ["torrent": "\(run.file)", "error": "\(message)"])
        case .ended:
            checking.remove(id)
            runs[id] = nil
            if current {
                // Ended without a failure and without a stop from us (the session itself gave up).
                entries[run.file]?.state = .failed(run.torrent, "the session ended")
            }
        }
        // A check slot may have come free: the next queued torrent starts now, not at the next scan (with hundreds
        // of torrents on resume data, waiting for the scan made a restart take count / limits.checks intervals).
        if !shuttingDown { advance() }
    }

    /// Prunes the HTTP mirror's digest cache (``MirrorCatalog/pruneCache()``, on the thread pool) when one is due and
    /// every torrent has settled: none parsing, queued or being checked, and no stopped run still ending (a run leaves
    /// the mirror before it ends). So the digests of torrents about to be served are kept, and those of files that
    /// were replaced, changed or removed since they were hashed go.
    private func pruneDigestsIfSettled() {
        guard digestPrunePending, scanned, !shuttingDown, let mirrors = daemon.mirrors, checking.isEmpty else { return }
        var seeding = 0
        for entry in entries.values {
            switch entry.state {
            case .parsing, .queued, .running(_, seeding: false): return
            case .running(_, seeding: true): seeding += 1
            case .unparseable, .noData, .duplicate, .failed: break
            }
        }
        guard runs.count == seeding else { return }
        digestPrunePending = false
        Task { await mirrors.pruneCache() }
    }

    // MARK: - Reload

    private func reload(_ trigger: ReloadTrigger) {
        var loaded: DaemonConfiguration
        let newSession: SessionConfiguration
        do {
            loaded = try DaemonConfiguration.load(path: configuration.path)
            daemon.overrides.apply(to: &loaded)
            // Sessions are made with the restart-only settings still running (the node key among them: the TLS
            // certificate private torrents present was made from it at start, so announces must keep signing
            // with it too).
            newSession = try SeedDaemon.prepare(loaded.keepingRestartOnlySettings(of: configuration))
        } catch {
            logger.error(
                "config reload failed; keeping the running configuration",
                metadata: ["trigger": "\(trigger.rawValue)", "error": "\(error)"])
            return
        }
        let before = configuration.restartOnlySettings
        for (key, value) in loaded.restartOnlySettings.sorted(by: { $0.key < $1.key }) where before[key] != value {
            logger.warning(
                "setting changed; it takes effect at the next start",
                metadata: ["key": "\(key)", "running": "\(before[key] ?? "")", "file": "\(value)"])
        }
        let applied = loaded.keepingRestartOnlySettings(of: configuration)
        let restart = applied.sessionSettings != configuration.sessionSettings
        configuration = applied
        session = newSession
        interval.value = applied.scanInterval
        var restarted = 0
        for name in entries.keys.sorted() {
            guard let entry = entries[name] else { continue }
            switch entry.state {
            case .running(let run, _) where restart:
                run.stop()
                entries[name]?.state = .parsing(error: nil)
                restarted += 1
            case .unparseable, .failed, .duplicate, .noData:
                entries[name]?.state = .parsing(error: nil)
                entries[name]?.changedAt = .now
            case .queued where restart:
                entries[name]?.state = .parsing(error: nil)
            default:
                break
            }
        }
        // Restarted torrents may serve other files (`data` changed): once they settle, the digests of files no longer
        // served go, as at start.
        if restarted > 0 { digestPrunePending = true }
        logger.notice(
            "config reloaded",
            metadata: ["trigger": "\(trigger.rawValue)", "file": "\(configuration.path)", "restarted": "\(restarted)"])
    }

    // MARK: - Status

    /// Writes every file's state, and the latest progress of each running session, to the daemon's status board
    /// (after every event, so at least once a scan interval); files gone from the directory leave the board.
    private func publish() {
        let board = daemon.board
        for name in published where entries[name] == nil { board.remove(name) }
        published = Set(entries.keys)
        for (name, entry) in entries {
            let torrent = entry.torrent
            func set(_ state: TorrentState, _ message: String? = nil) {
                board.set(
                    name, file: name, name: torrent?.name, infoHash: torrent?.infoHash.hex, state: state,
                    message: message)
            }
            switch entry.state {
            case .parsing(let error): set(.parsing, error)
            case .unparseable(let error): set(.unparseable, error)
            case .noData(let torrent): set(.noData, "no data directory holds \(torrent.name)")
            case .duplicate(_, let of): set(.duplicate, "same info-hash as \(of)")
            case .queued: set(.queued)
            case .failed(_, let error): set(.failed, error)
            case .running(let run, let seeding):
                if seeding, let progress = run.progress {
                    board.update(name, progress)
                } else {
                    set(seeding ? .seeding : .checking)
                }
            }
        }
    }
}
