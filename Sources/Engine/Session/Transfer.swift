import Logging
import Metainfo
import NIOCore
import NIOPosix

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
    /// - Returns: the parsed torrent and the storage, or the status to exit with.
    public static func open(
        torrentPath: String, directory: String, mode: Mode, logger: Logger,
        checkProgress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) async -> Result<(Torrent, Storage), TransferFailure> {
        let torrent: Torrent
        do {
            torrent = try Torrent(contentsOfFile: torrentPath)
        } catch {
            if error.code == .fileSystem { return .failure(TransferFailure(.failure("\(error)"))) }
            return .failure(TransferFailure(.badInput("\(error)")))
        }
        let layout: StorageLayout
        do {
            layout = try StorageLayout(torrent: torrent)
        } catch {
            return .failure(TransferFailure(.badInput("\(torrentPath): \(error)")))
        }
        let storage: Storage
        do {
            storage = try await Storage(
                layout: layout, directory: directory, mode: mode == .seed ? .readOnly : .readWrite, logger: logger)
            let have = try await storage.checkExisting(progress: checkProgress)
            if mode == .seed && !have.isComplete {
                return .failure(
                    TransferFailure(
                        .incomplete(
                            "\(directory) does not hold \(torrent.name): \(have.setCount) of \(have.count) pieces "
                                + "verified; use the directory that contains '\(torrent.name)'")))
            }
        } catch {
            return .failure(TransferFailure(.failure("\(directory): \(error)")))
        }
        return .success((torrent, storage))
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

/// A ``Transfer/Status`` that ends a transfer before its session starts.
public struct TransferFailure: Error, Sendable, Hashable {
    public var status: Transfer.Status
    public init(_ status: Transfer.Status) { self.status = status }
}
