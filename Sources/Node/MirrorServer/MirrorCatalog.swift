import CryptoPrimitives
import Engine
import Logging
import Metainfo
import NIOPosix
import Synchronization
import SystemSupport

/// The torrents a ``MirrorServer`` serves, by info-hash: each with its open ``Storage`` (reads go through its
/// thread pool) and its files by the path a BEP 19 web seed asks for under `/t/<info-hash-hex>/`: the torrent's
/// name for a single-file torrent, `name/dir/file` for a multi-file one; and, once known, each file's SHA-256 for
/// `/sha256/<hex>`.
///
/// A request path is only ever looked up in these tables: no file-system path is built from it, so `..`, `//`,
/// symlinks or encoded slashes cannot reach anything the torrent does not list. Seeds add a torrent once its data
/// checked complete (``add(torrent:storage:)``) and remove it when they stop; the server still checks each file's
/// pieces against ``Storage/have`` per request.
///
/// SHA-256 digests are computed in the background when a torrent is added, one file after another through the
/// storage's thread pool (the bytes the torrent's pieces were verified from), or taken from the
/// ``ContentDigestCache`` when this version of the file (device, inode, size, mtime) was hashed before.
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
        /// A file of a served torrent, with its SHA-256 (hex) when known.
        case file(Entry, index: Int, sha256: String?)
        /// Nothing served under that path; the reason is for the refusal counters and the log, not the client.
        case notFound(reason: String)
    }

    /// A file of a served torrent.
    private struct Holder: Hashable {
        let infoHash: String
        let index: Int
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// SHA-256 hex to the file that answers `/sha256/<hex>` (``holders`` has every file with those bytes).
        var byDigest: [String: Holder] = [:]
        /// SHA-256 hex to every served file with that digest: what ``remove(_:storage:)`` picks the next answer from
        /// without searching every torrent.
        var holders: [String: Set<Holder>] = [:]
        /// Info-hash to its files' SHA-256 hex, by file index.
        var digests: [String: [Int: String]] = [:]
        /// The version of each file (device, inode, size, mtime) its digest was computed from, by info-hash and
        /// file index: a digest is only answered while the file is still that version (``isCurrent(_:of:file:)``).
        var hashedVersions: [String: [Int: FileFingerprint]] = [:]
        /// The background hashing of each torrent.
        var hashing: [String: Task<Void, Never>] = [:]

        /// Drops the torrent's digests: each passes to another holder of the same bytes, a public one first.
        /// O(files of the torrent).
        mutating func forgetDigests(of infoHash: String) {
            hashedVersions[infoHash] = nil
            for (index, digest) in digests.removeValue(forKey: infoHash) ?? [:] {
                holders[digest]?.remove(Holder(infoHash: infoHash, index: index))
                let others = holders[digest] ?? []
                if others.isEmpty { holders[digest] = nil }
                guard byDigest[digest]?.infoHash == infoHash else { continue }
                byDigest[digest] = others.first { entries[$0.infoHash]?.isPrivate == false } ?? others.first
            }
        }
    }

    private let state = Mutex(State())
    private let cache: ContentDigestCache?
    private let logger: Logger

    /// - Parameters:
    ///   - cache: where digests are kept across restarts (the daemon: `STATE/sha256`); nil: in memory only.
    ///   - logger: where the background hashing logs what it could not do.
    public init(cache: ContentDigestCache? = nil, logger: Logger = Logger(label: "swtorrent.mirror")) {
        self.cache = cache
        self.logger = logger
    }

    /// Serves `torrent` from `storage` (the torrent's data, already checked) until ``remove(_:storage:)``, and
    /// starts hashing its files for `/sha256/`.
    public func add(torrent: Torrent, storage: Storage) {
        var files: [[String]: Int] = [:]
        // The layout's files are the torrent's, in the same order; pad files and symlinks (BEP 47) are not served.
        for (index, file) in torrent.files.enumerated() where !file.isPadFile && file.symlinkTarget == nil {
            files[file.relativePath] = index
        }
        let entry = Entry(
            infoHash: torrent.infoHash.hex, name: torrent.name, isPrivate: torrent.isPrivate, storage: storage,
            files: files)
        // The entry is in the table before its hashing starts: a digest found in the cache is published at once,
        // and only for the entry it was computed for.
        let previous = state.withLock { state -> Task<Void, Never>? in
            state.forgetDigests(of: entry.infoHash)
            state.entries[entry.infoHash] = entry
            let previous = state.hashing[entry.infoHash]
            state.hashing[entry.infoHash] = Task { await self.hashFiles(of: entry) }
            return previous
        }
        previous?.cancel()
    }

    /// Stops serving the torrent, if `storage` is still the one served (a later session's storage is kept).
    /// O(files of the torrent): each of its digests passes to another holder of the same bytes, a public one first.
    public func remove(_ torrent: Torrent, storage: Storage) {
        let infoHash = torrent.infoHash.hex
        let task = state.withLock { state -> Task<Void, Never>? in
            guard let entry = state.entries[infoHash], entry.storage === storage else { return nil }
            state.entries[infoHash] = nil
            state.forgetDigests(of: infoHash)
            return state.hashing.removeValue(forKey: infoHash)
        }
        task?.cancel()
    }

    /// Deletes the digests in the cache of file versions not served now (``ContentDigestCache/prune(keeping:)``): a
    /// file replaced or changed since it was hashed, a torrent no longer served. On the thread pool; O(files served
    /// + cache entries). Digests of torrents added while it runs may be deleted too (they are computed again at the
    /// next start), so call it when no torrent is about to be added.
    ///
    /// - Returns: the number of entries deleted; 0 without a cache.
    @discardableResult
    public func pruneCache() async -> Int {
        guard let cache else { return 0 }
        let served = state.withLock { state in
            state.entries.values.map { entry in (entry.storage, Array(entry.files.values)) }
        }
        let removed =
            (try? await NIOThreadPool.singleton.runIfActive {
                var kept: Set<FileFingerprint> = []
                for (storage, files) in served {
                    for index in files { if let version = storage.fingerprint(ofFile: index) { kept.insert(version) } }
                }
                return cache.prune(keeping: kept)
            }) ?? 0
        if removed > 0 {
            logger.info(
                "HTTP mirror: digests of files no longer served deleted from the cache",
                metadata: ["deleted": "\(removed)", "directory": "\(cache.directory)"])
        }
        return removed
    }

    /// The number of torrents served.
    public var count: Int { state.withLock { $0.entries.count } }

    /// The SHA-256 digests known, as `(info-hash, file path, hex)` (for logs and tests).
    public var knownDigests: [(infoHash: String, path: String, sha256: String)] {
        state.withLock { state in
            state.digests.flatMap { infoHash, files in
                files.map { index, hex in
                    (infoHash, state.entries[infoHash]?.storage.layout.files[index].displayPath ?? "?", hex)
                }
            }
        }
    }

    /// Looks up `/t/<hex>/<path>` (already percent-decoded, split at `/`).
    ///
    /// - Parameters:
    ///   - infoHash: the prefix's hex digits (any case).
    ///   - path: the components after the prefix.
    func lookup(infoHash: String, path: [String]) -> Lookup {
        state.withLock { state in
            let infoHash = infoHash.lowercased()
            guard let entry = state.entries[infoHash] else { return .notFound(reason: "unknown torrent") }
            // Compared component by component: a decoded component that holds a `/` (`%2F`) matches nothing.
            guard let index = entry.files[path] else { return .notFound(reason: "no such file in the torrent") }
            let digest = state.digests[infoHash]?[index]
            return .file(entry, index: index, sha256: digest.flatMap { isCurrent(state, of: entry, file: index) ? $0 : nil })
        }
    }

    /// Looks up `/sha256/<hex>`.
    func lookup(sha256: String) -> Lookup {
        state.withLock { state in
            let digest = sha256.lowercased()
            guard let held = state.byDigest[digest], let entry = state.entries[held.infoHash] else {
                return .notFound(reason: "unknown digest")
            }
            let index = held.index
            // A file changed in place since it was hashed no longer has these bytes.
            guard isCurrent(state, of: entry, file: index) else { return .notFound(reason: "file changed since hashed") }
            return .file(entry, index: index, sha256: digest)
        }
    }

    /// Whether file `index` of `entry` is still the version its digest was computed from (one `fstat`; size and
    /// modification time, on the same device and inode).
    private func isCurrent(_ state: State, of entry: Entry, file index: Int) -> Bool {
        guard let hashed = state.hashedVersions[entry.infoHash]?[index],
            let now = entry.storage.fingerprint(ofFile: index)
        else { return false }
        return now.device == hashed.device && now.inode == hashed.inode && now.size == hashed.size
            && now.modificationTime == hashed.modificationTime
    }

    /// Hashes the torrent's files one after another (from the cache when it knows this version of a file).
    private func hashFiles(of entry: Entry) async {
        for index in entry.files.values.sorted() {
            guard !Task.isCancelled else { return }
            let fingerprint = entry.storage.fingerprint(ofFile: index)
            var digest = await cachedDigest(of: fingerprint)
            let cached = digest != nil
            if !cached {
                do {
                    digest = try await entry.storage.sha256(ofFile: index)
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning(
                        "HTTP mirror: cannot hash a file for /sha256/; it is served by path only",
                        metadata: [
                            "file": "\(entry.storage.layout.files[index].displayPath)", "error": "\(error)",
                        ])
                    continue
                }
            }
            // Used (and cached) only if the file is still the version it was before the read: bytes changed under
            // the read hash to a digest of no version of the file.
            guard let digest, let fingerprint, fingerprint == entry.storage.fingerprint(ofFile: index) else {
                if digest != nil {
                    logger.warning(
                        "HTTP mirror: a file changed while it was hashed; it is served by path only",
                        metadata: ["file": "\(entry.storage.layout.files[index].displayPath)"])
                }
                continue
            }
            if !cached, let cache {
                _ = try? await NIOThreadPool.singleton.runIfActive { cache.record(digest, of: fingerprint) }
            }
            let hex = Hex.encode(digest)
            state.withLock { state in
                guard state.entries[entry.infoHash]?.storage === entry.storage else { return }
                state.digests[entry.infoHash, default: [:]][index] = hex
                state.hashedVersions[entry.infoHash, default: [:]][index] = fingerprint
                // A public torrent's copy answers /sha256/ before a private one's: a private copy would be a 404
                // to every client without a credential.
                state.holders[hex, default: []].insert(Holder(infoHash: entry.infoHash, index: index))
                if let held = state.byDigest[hex], let holder = state.entries[held.infoHash],
                    !(holder.isPrivate && !entry.isPrivate)
                {
                    return
                }
                state.byDigest[hex] = Holder(infoHash: entry.infoHash, index: index)
            }
        }
    }

    /// The cache's digest of this version of a file, read on the thread pool (file I/O stays off the cooperative
    /// pool and the event loops).
    private func cachedDigest(of version: FileFingerprint?) async -> [UInt8]? {
        guard let cache, let version else { return nil }
        return (try? await NIOThreadPool.singleton.runIfActive { cache.digest(of: version) }) ?? nil
    }
}
