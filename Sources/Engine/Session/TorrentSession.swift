import Logging
import Metainfo
import NIOCore
import NIOPosix

/// Downloads and/or seeds one torrent until it is complete (leech) or stopped (seed).
///
/// All of the session's state and connections live on one event loop; disk reads, writes and hash checks run on
/// the storage's thread pool.
public final class TorrentSession: Sendable {
    public let torrent: Torrent
    public let storage: Storage
    public let configuration: SessionConfiguration
    private let logger: Logger
    private let loop: any EventLoop
    private let stopPromise: EventLoopPromise<Void>

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
        self.loop = eventLoop
        self.stopPromise = eventLoop.makePromise()
    }

    /// Runs the session.
    ///
    /// - Parameter progress: called every ``SessionConfiguration/progressInterval`` and once at the end.
    /// - Returns: how it ended: complete, stopped (``stop()``), or stalled.
    /// - Throws: ``EngineError`` when it cannot listen or the disk fails.
    public func run(progress: @escaping @Sendable (SessionProgress) -> Void = { _ in }) async throws -> SessionOutcome {
        let done = loop.makePromise(of: SessionOutcome.self)
        let torrent = self.torrent
        let storage = self.storage
        let configuration = self.configuration
        let logger = self.logger
        let stop = stopPromise.futureResult
        loop.execute { [loop] in
            let core = SessionCore(
                loop: loop, torrent: torrent, storage: storage, configuration: configuration, logger: logger,
                done: done, progress: progress)
            core.begin(stopRequested: stop)
        }
        return try await done.futureResult.get()
    }

    /// Asks the session to stop: connections close, trackers hear `stopped`, ``run(progress:)`` returns.
    public func stop() {
        stopPromise.succeed()
    }
}
