import Logging
import Metainfo
import NIOCore
import NIOPosix
import PeerWire

/// What `swtorrent seed` and `swtorrent leech` do, as a library call: open the torrent and its data, run a
/// session, and say how it ended as an exit status.
public enum Transfer {
    public enum Mode: Sendable, Hashable {
        /// Serve complete data from `directory`.
        case seed
        /// Download into `directory`.
        case leech
    }

    /// How a transfer ended (the command turns it into an exit code: `Sources/swtorrent/ExitCodes.swift`).
    public enum Status: Sendable, Hashable {
        /// Leech: every piece on disk and verified (and seeded as long as asked). Seed: stopped cleanly.
        case success
        /// I/O or network failure.
        case failure(String)
        /// Bad arguments or a malformed torrent.
        case badInput(String)
        /// Seed: the data directory does not hold the torrent's complete data. Leech: no piece was verified for
        /// the stall timeout.
        case incomplete(String)
        /// Leech: stopped by a signal before completion.
        case interrupted
    }

    /// Opens the torrent and its storage and checks the data already there.
    ///
    /// - Returns: the parsed torrent and the storage.
    /// - Throws: ``EngineError``: `malformedTorrent` (the torrent cannot be used), `incompleteData` (a seed's
    ///   directory does not hold the complete data), `io` (the torrent file cannot be read), `storage` (the data
    ///   cannot be opened or read). ``Status/init(openFailure:)`` gives the status to exit with.
    public static func open(
        torrentPath: String, directory: String, mode: Mode, logger: Logger,
        checkProgress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws(EngineError) -> (Torrent, Storage) {
        let torrent: Torrent
        do {
            torrent = try Torrent(contentsOfFile: torrentPath)
        } catch {
            throw EngineError(error.code == .fileSystem ? .io : .malformedTorrent, "\(error)")
        }
        let layout: StorageLayout
        do {
            layout = try StorageLayout(torrent: torrent)
        } catch {
            throw EngineError(.malformedTorrent, "\(torrentPath): \(error)")
        }
        let storage: Storage
        let have: Bitfield
        do {
            storage = try await Storage(
                layout: layout, directory: directory, mode: mode == .seed ? .readOnly : .readWrite, logger: logger)
            have = try await storage.checkExisting(progress: checkProgress)
        } catch {
            throw EngineError(.storage, "\(directory): \(error)")
        }
        if mode == .seed && !have.isComplete {
            throw EngineError(
                .incompleteData,
                "\(directory) does not hold \(torrent.name): \(have.setCount) of \(have.count) pieces verified; use "
                    + "the directory that contains '\(torrent.name)'")
        }
        return (torrent, storage)
    }

    /// Maps a session's end to a status.
    public static func status(of outcome: SessionOutcome, mode: Mode) -> Status {
        switch outcome {
        case .complete: return .success
        case .stopped: return mode == .seed ? .success : .interrupted
        case .stalled(let p):
            return .incomplete("no piece verified for too long; \(p.piecesVerified) of \(p.pieceCount) pieces on disk")
        }
    }
}

extension Transfer.Status {
    /// The status of a transfer that ended before its session started because ``Transfer`` could not open it;
    /// the error's context is the message.
    public init(openFailure error: EngineError) {
        switch error.code {
        case .malformedTorrent: self = .badInput(error.context)
        case .incompleteData: self = .incomplete(error.context)
        default: self = .failure(error.context)
        }
    }
}
