import Logging
import Metainfo
import NIOCore
import NIOPosix

/// Downloads and/or seeds one torrent until it is complete (leech) or stopped (seed).
///
/// A session runs in a ``SessionHost``: the node's one peer listener and its node-wide limits. A session made
/// without one owns a private host, listening where its ``SessionConfiguration`` says. All of the session's state
/// and connections live on the host's event loop; disk reads, writes and hash checks run on the storage's thread
/// pool.
public final class TorrentSession: Sendable {
    public let torrent: Torrent
    public let storage: Storage
    public let configuration: SessionConfiguration
    private let logger: Logger
    private let host: SessionHost
    /// The host was made for this session alone: it is started by ``run(progress:)`` and shut down after it.
    private let ownsHost: Bool
    private let stopPromise: EventLoopPromise<Void>

    /// A session with a private host (listener and connection limits from `configuration`).
    ///
    /// - Parameters:
    ///   - torrent: the torrent.
    ///   - storage: its data, opened and checked (``Storage/checkExisting(resume:concurrency:progress:)``).
    ///   - configuration: ports, peers, limits.
    ///   - logger: where the session logs.
    ///   - eventLoop: the loop the session and its connections run on.
    public init(
        torrent: Torrent, storage: Storage, configuration: SessionConfiguration, logger: Logger,
        eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()
    ) {
        self.torrent = torrent
        self.storage = storage
        self.configuration = configuration
        self.logger = logger
        self.host = SessionHost(
            configuration: HostConfiguration(session: configuration), logger: logger, eventLoop: eventLoop)
        self.ownsHost = true
        self.stopPromise = eventLoop.makePromise()
    }

    /// A session in a shared host: it uses the host's listener (``SessionConfiguration/port`` and
    /// ``SessionConfiguration/listenHost`` are not used) and draws on the host's node-wide limits; its own limits
    /// in `configuration` still apply to it.
    ///
    /// - Parameters:
    ///   - torrent: the torrent; the host must not run another session for it.
    ///   - storage: its data, opened and checked.
    ///   - configuration: peers and the session's own limits.
    ///   - logger: where the session logs.
    ///   - host: the node's host; ``run(progress:)`` starts it if it is not listening yet.
    public init(
        torrent: Torrent, storage: Storage, configuration: SessionConfiguration, logger: Logger, host: SessionHost
    ) {
        self.torrent = torrent
        self.storage = storage
        self.configuration = configuration
        self.logger = logger
        self.host = host
        self.ownsHost = false
        self.stopPromise = host.eventLoop.makePromise()
    }

    /// Runs the session.
    ///
    /// - Parameter progress: called every ``SessionConfiguration/progressInterval`` and once at the end.
    /// - Returns: how it ended: complete, stopped (``stop()``), or stalled.
    /// - Throws: ``EngineError`` when it cannot listen, the host already runs this torrent, or the disk fails.
    public func run(progress: @escaping @Sendable (SessionProgress) -> Void = { _ in }) async throws -> SessionOutcome {
        let loop = host.eventLoop
        let torrent = self.torrent
        let storage = self.storage
        let configuration = self.configuration
        let logger = self.logger
        let stop = stopPromise.futureResult
        let host = self.host
        do {
            try await host.start()
        } catch {
            if ownsHost { await host.shutdown() }
            stopPromise.succeed()  // nothing will wait on it: the session never started
            throw error
        }
        // Made once the host runs: a promise left uncompleted by a failed start would be reported as leaked.
        let done = loop.makePromise(of: SessionOutcome.self)
        loop.execute {
            let core = SessionCore(
                host: host.loopCore, torrent: torrent, storage: storage, configuration: configuration, logger: logger,
                done: done, progress: progress)
            core.begin(stopRequested: stop)
        }
        let outcome: Result<SessionOutcome, any Error>
        do {
            outcome = .success(try await done.futureResult.get())
        } catch {
            outcome = .failure(error)
        }
        if ownsHost { await host.shutdown() }
        return try outcome.get()
    }

    /// Asks the session to stop: connections close, trackers hear `stopped`, ``run(progress:)`` returns. In a
    /// shared host, the session leaves it; the host and its other sessions go on.
    public func stop() {
        stopPromise.succeed()
    }

    /// A session made and dropped without ``run(progress:)`` or ``stop()`` (a caller that failed between the two)
    /// completes its stop promise here: NIO reports an uncompleted promise as leaked and stops the process.
    deinit {
        stopPromise.succeed()
    }
}
