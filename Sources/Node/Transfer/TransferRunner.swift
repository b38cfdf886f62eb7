import Engine
import Logging
import Metainfo
import ServiceLifecycle

/// Runs one torrent's transfer, as `swtorrent seed`, a leech's download and its seed-after phase do: opens the
/// torrent and its data, runs a ``TorrentSession`` until it completes, stalls or is stopped, and returns how it
/// ended. A graceful shutdown (SIGTERM/SIGINT through the ``ServiceGroup`` the caller runs in) stops the session,
/// which then announces `stopped` and returns ``SessionOutcome/stopped(_:)``.
public struct TransferRunner: Sendable {
    public var torrentPath: String
    /// Where the data is (seed) or goes (leech): the directory that holds the torrent's top-level name.
    public var directory: String
    public var mode: Transfer.Mode
    public var configuration: SessionConfiguration
    /// The node's host, shared with its other torrents (one listener, node-wide limits); nil runs the session on a
    /// host of its own, listening on ``SessionConfiguration/port``.
    public var host: SessionHost?
    /// Where the transfer reports its state and progress for the status endpoints (``StatusService``); nil for
    /// none.
    public var board: StatusBoard?
    /// Where a seed's torrent is offered to the HTTP mirror (``MirrorServer``) once its data checked; nil for none.
    public var mirrors: MirrorCatalog?
    let logger: Logger

    public init(
        torrentPath: String, directory: String, mode: Transfer.Mode, configuration: SessionConfiguration,
        logger: Logger, host: SessionHost? = nil, board: StatusBoard? = nil, mirrors: MirrorCatalog? = nil
    ) {
        self.board = board
        self.mirrors = mirrors
        self.torrentPath = torrentPath
        self.directory = directory
        self.mode = mode
        self.configuration = configuration
        self.logger = logger
        self.host = host
    }

    /// Opens, runs and returns the outcome.
    ///
    /// - Parameters:
    ///   - progress: called every ``SessionConfiguration/progressInterval`` and once at the end.
    ///   - storageOpened: called with the torrent's storage once it is open and checked, before the session starts
    ///     (the gated leech hooks its streaming SHA-256 on it).
    /// - Throws: ``NodeError`` `.malformedInput` (bad torrent), `.incompleteData` (a seed's directory does not hold
    ///   the data), `.io` (cannot open the data, cannot listen, disk failure).
    public func run(
        progress: @escaping @Sendable (SessionProgress) -> Void = { _ in },
        storageOpened: (Storage) -> Void = { _ in }
    ) async throws(NodeError) -> SessionOutcome {
        let torrent: Torrent
        let storage: Storage
        do {
            (torrent, storage) = try await Transfer.open(
                torrentPath: torrentPath, directory: directory, mode: mode, logger: logger)
        } catch {
            let failure = Self.error(Transfer.Status(openFailure: error))
            board?.set(torrentPath, file: torrentPath, state: .failed, message: failure.message)
            throw failure
        }
        storageOpened(storage)
        // A seed's data is complete here (``Transfer/open`` refuses anything else in seed mode).
        let mirrors = mode == .seed && storage.isComplete ? self.mirrors : nil
        mirrors?.add(torrent: torrent, storage: storage)
        defer { mirrors?.remove(torrent, storage: storage) }
        let board = self.board
        let id = torrent.infoHash.hex
        board?.set(id, file: torrentPath, name: torrent.name, infoHash: id, state: .checking)
        defer { board?.stopped(id) }
        let report: @Sendable (SessionProgress) -> Void =
            if let board {
                { board.update(id, $0); progress($0) }
            } else {
                progress
            }
        let session =
            if let host {
                TorrentSession(
                    torrent: torrent, storage: storage, configuration: configuration, logger: logger, host: host)
            } else {
                TorrentSession(torrent: torrent, storage: storage, configuration: configuration, logger: logger)
            }
        do {
            return try await withGracefulShutdownHandler {
                try await session.run(progress: report)
            } onGracefulShutdown: {
                session.stop()
            }
        } catch {
            throw NodeError(.io, "\(error)")
        }
    }

    /// The error for a transfer that ended before its session started.
    static func error(_ status: Transfer.Status) -> NodeError {
        switch status {
        case .badInput(let message): NodeError(.malformedInput, message)
        case .incomplete(let message): NodeError(.incompleteData, message)
        case .failure(let message): NodeError(.io, message)
        case .success, .interrupted: NodeError(.io, "the transfer ended before it started")
        }
    }
}
