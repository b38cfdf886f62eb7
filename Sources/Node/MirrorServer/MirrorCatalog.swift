import Engine
import Metainfo
import Synchronization

/// The torrents a ``MirrorServer`` serves, by info-hash: each with its open ``Storage`` (reads go through its
/// thread pool) and its files by the path a BEP 19 web seed asks for under `/t/<info-hash-hex>/`: the torrent's
/// name for a single-file torrent, `name/dir/file` for a multi-file one.
///
/// A request path is only ever looked up in this table: no file-system path is built from it, so `..`, `//`,
/// symlinks or encoded slashes cannot reach anything the torrent does not list. Seeds add a torrent once its data
/// checked complete (``add(torrent:storage:)``) and remove it when they stop; the server still checks each file's
/// pieces against ``Storage/have`` per request.
public final class MirrorCatalog: Sendable {
    /// One torrent served.
    struct Entry: Sendable {
        let infoHash: String
        let name: String
        let isPrivate: Bool
        let storage: Storage
        /// Path components under the torrent's prefix (`[name]` or `[name, a, b]`) to the layout's file index.
        let files: [[String]: Int]
    }

    /// What a request path names.
    enum Lookup: Sendable {
        /// A file of a served torrent.
        case file(Entry, index: Int)
        /// Nothing served under that path; the reason is for the refusal counters and the log, not the client.
        case notFound(reason: String)
    }

    private let entries = Mutex<[String: Entry]>([:])

    public init() {}

    /// Serves `torrent` from `storage` (the torrent's data, already checked) until ``remove(_:storage:)``.
    public func add(torrent: Torrent, storage: Storage) {
        var files: [[String]: Int] = [:]
        // The layout's files are the torrent's, in the same order; pad files and symlinks (BEP 47) are not served.
        for (index, file) in torrent.files.enumerated() where !file.isPadFile && file.symlinkTarget == nil {
            files[file.relativePath] = index
        }
        let entry = Entry(
            infoHash: torrent.infoHash.hex, name: torrent.name, isPrivate: torrent.isPrivate, storage: storage,
            files: files)
        entries.withLock { $0[entry.infoHash] = entry }
    }

    /// Stops serving the torrent, if `storage` is still the one served (a later session's storage is kept).
    public func remove(_ torrent: Torrent, storage: Storage) {
        entries.withLock { entries in
            if let entry = entries[torrent.infoHash.hex], entry.storage === storage {
                entries[torrent.infoHash.hex] = nil
            }
        }
    }

    /// The number of torrents served.
    public var count: Int { entries.withLock { $0.count } }

    /// Looks up `/t/<hex>/<path>` (already percent-decoded, split at `/`).
    ///
    /// - Parameters:
    ///   - infoHash: the prefix's hex digits (any case).
    ///   - path: the components after the prefix.
    func lookup(infoHash: String, path: [String]) -> Lookup {
        guard let entry = entries.withLock({ $0[infoHash.lowercased()] }) else {
            return .notFound(reason: "unknown torrent")
        }
        // Compared component by component: a decoded component that holds a `/` (`%2F`) matches nothing.
        guard let index = entry.files[path] else {
            return .notFound(reason: "no such file in the torrent")
        }
        return .file(entry, index: index)
    }
}
