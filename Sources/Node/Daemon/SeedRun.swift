import Engine
import Logging
import Metainfo
import Synchronization

/// One torrent of the seed daemon from its data check to its stop, run as a task of its own: opens the data
/// read-only, checks it (trusting the resume file when the files' sizes and mtimes match, hashing otherwise),
/// writes resume data once the data passed, and seeds it on the daemon's host until ``stop()``.
///
/// Resume data is written once, right after the check passed, and not again at stop: the data of a read-only seed
/// does not change through us, and writing at stop would record files changed underneath while we ran as if they
/// had been checked.
final class SeedRun: Sendable {
    /// What the task tells the daemon.
    enum Report: Sendable {
        /// The data passed its check; the torrent is being seeded.
        case seeding(ExistingDataCheck?)
        /// The data did not pass (or could not be opened): not served.
        case failed(String)
        /// The task is over (after `seeding` or `failed`, or after a stop before either).
        case ended
    }

    private struct State {
        var stopRequested = false
        var session: TorrentSession?
        var progress: SessionProgress?
    }

    let id: Int
    /// The `.torrent` file's name in the watch directory.
    let file: String
    let torrent: Torrent
    /// Where its data is (the data directory that holds `torrent.name`).
    let directory: String
    private let state = Mutex(State())

    init(id: Int, file: String, torrent: Torrent, directory: String) {
        self.id = id
        self.file = file
        self.torrent = torrent
        self.directory = directory
    }

    /// Stops the session (connections close, trackers hear `stopped`), or keeps it from starting.
    func stop() {
        let session = state.withLock { state -> TorrentSession? in
            state.stopRequested = true
            return state.session
        }
        session?.stop()
    }

    /// The last progress the session reported (uploaded bytes, peers).
    var progress: SessionProgress? { state.withLock { $0.progress } }

    /// Checks and seeds until stopped; tells `report` how it went, `.ended` last.
    func run(
        resumePath: String, configuration: SessionConfiguration, host: SessionHost, mirrors: MirrorCatalog?,
        logger: Logger,
        report: @escaping @Sendable (Report) -> Void
    ) async {
        defer { report(.ended) }
        let storage: Storage
        do {
            let layout = try StorageLayout(torrent: torrent)
            storage = try await Storage(layout: layout, directory: directory, mode: .readOnly, logger: logger)
            _ = try await storage.checkExisting(resume: resumePath)
        } catch {
            report(.failed("\(directory): \(error)"))
            return
        }
        let have = storage.have
        let check = storage.lastCheck
        guard have.isComplete else {
            var message =
                "\(directory)/\(torrent.name): \(have.setCount) of \(have.count) pieces verified; not served until "
                + "the data is complete (fix it, then send SIGHUP or touch the .torrent file)"
            if let why = check?.resumeRejection { message += "; changed since the last run: \(why)" }
            report(.failed(message))
            return
        }
        if check?.usedResume != true {
            do {
                try await storage.saveResume(to: resumePath)
            } catch {
                logger.warning(
                    "resume data not written; the next start hashes this torrent again",
                    metadata: ["resume": "\(resumePath)", "error": "\(error)"])
            }
        }
        let session = TorrentSession(
            torrent: torrent, storage: storage, configuration: configuration, logger: logger, host: host)
        let attached = state.withLock { state -> Bool in
            guard !state.stopRequested else { return false }
            state.session = session
            return true
        }
        guard attached else { return }
        // Served over HTTP only now that every piece checked, and no longer once the session stops.
        mirrors?.add(torrent: torrent, storage: storage)
        defer { mirrors?.remove(torrent, storage: storage) }
        report(.seeding(check))
        do {
            _ = try await session.run { progress in self.state.withLock { $0.progress = progress } }
        } catch {
            report(.failed("seeding stopped: \(error)"))
        }
    }
}
