import Engine
import Foundation
import Metainfo
import TestSupport

/// A torrent made with `TorrentBuilder` over one file of seeded random bytes, and a directory that holds the data
/// (a seed's `--data`).
struct TorrentFixture {
    let torrent: Torrent
    let content: [UInt8]
    let seedDirectory: URL

    /// - Parameters:
    ///   - name: the torrent's name (its one file).
    ///   - size: the file's length.
    ///   - pieceLength: a power of two of 16 KiB or more.
    ///   - seed: for the random content (different seeds, different info-hashes).
    ///   - directory: a temporary directory the caller cleans up; the data goes in `seed-NAME` below it.
    ///   - isPrivate: the BEP 27 flag.
    init(name: String, size: Int, pieceLength: Int, seed: UInt64, in directory: URL, isPrivate: Bool = false) throws {
        content = randomBytes(size, seed: seed)
        seedDirectory = directory.appendingPathComponent("seed-\(name)")
        try FileManager.default.createDirectory(at: seedDirectory, withIntermediateDirectories: true)
        let file = seedDirectory.appendingPathComponent(name)
        try Data(content).write(to: file)
        var options = TorrentOptions()
        options.pieceLength = pieceLength
        options.isPrivate = isPrivate
        let made = try TorrentBuilder(options: options).make(path: file.path)
        torrent = try Torrent(bytes: made.bytes)
    }

    /// The seed's storage: the complete data, checked.
    func seedStorage() async throws -> Storage {
        let storage = try await Storage(
            layout: try StorageLayout(torrent: torrent), directory: seedDirectory.path, mode: .readOnly,
            logger: quietLogger)
        _ = try await storage.checkExisting()
        return storage
    }

    /// An empty leech storage in `directory`.
    func leechStorage(in directory: URL) async throws -> Storage {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let storage = try await Storage(
            layout: try StorageLayout(torrent: torrent), directory: directory.path, logger: quietLogger)
        _ = try await storage.checkExisting()
        return storage
    }
}

extension SessionHost {
    /// A quiet host that listens on 127.0.0.1 (an ephemeral port, from `start()`), with `configure`'s changes.
    static func loopback(_ configure: (inout HostConfiguration) -> Void = { _ in }) -> SessionHost {
        var configuration = HostConfiguration()
        configuration.listenHost = "127.0.0.1"
        configure(&configuration)
        return SessionHost(configuration: configuration, logger: quietLogger)
    }
}
