import Engine
import Foundation
import Logging
import Metainfo
@testable import Node
import SystemSupport
import TestSupport
import Testing

/// The HTTP mirror's catalog: which copy `/sha256/<hex>` answers with, and that a digest is only answered while the
/// file still holds the bytes it was computed from (real files, real storages, background hashing).
@Suite(.timeLimit(.minutes(1)))
struct MirrorCatalogTests {
    static let logger = Logger(label: "mirror-catalog-test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A one-file torrent over `content` in `directory/name-of-dir`, and its checked, complete storage.
    static func served(
        _ content: Data, dir: String, private isPrivate: Bool, pieceLength: Int = 32 << 10, in root: URL
    ) async throws -> (Torrent, Storage, URL) {
        let directory = root.appendingPathComponent(dir)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("app.bin")
        try content.write(to: file)
        var options = TorrentOptions()
        options.pieceLength = pieceLength
        options.isPrivate = isPrivate
        let torrent = try Torrent(bytes: try TorrentBuilder(options: options).make(path: file.path).bytes)
        let storage = try await Storage(
            layout: try StorageLayout(torrent: torrent), directory: directory.path, mode: .readOnly, logger: logger)
        _ = try await storage.checkExisting()
        return (torrent, storage, file)
    }

    static func content(_ count: Int, _ byte: UInt8) -> Data {
        Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) ^ byte })
    }

    static func sha256Hex(_ data: Data) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-\(UUID().uuidString)")
        try data.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let result = try TestProcess.run("sha256sum", [url.path], timeout: 30)
        return String(result.stdout.prefix(64))
    }

    @Test func aPublicCopyAnswersTheDigestBeforeAPrivateOneWithTheSameBytes() async throws {
        let root = try TestFiles.makeTemporaryDirectory("mirror-catalog")
        defer { TestFiles.cleanup(root) }
        let bytes = Self.content(100_000, 7)
        let digest = try Self.sha256Hex(bytes)
        let (privateTorrent, privateStorage, _) = try await Self.served(bytes, dir: "private", private: true, in: root)
        let (publicTorrent, publicStorage, _) = try await Self.served(bytes, dir: "public", private: false, in: root)
        #expect(privateTorrent.infoHash != publicTorrent.infoHash)
        let catalog = MirrorCatalog(logger: Self.logger)
        // The private copy is hashed first and holds the digest until a public copy is known.
        catalog.add(torrent: privateTorrent, storage: privateStorage)
        #expect(await TestFiles.waitUntilAsync(timeout: 20) { catalog.knownDigests.count == 1 })
        let first = try #require(catalog.lookup(sha256: digest).served, "\(catalog.knownDigests)")
        #expect(first.entry.isPrivate)
        catalog.add(torrent: publicTorrent, storage: publicStorage)
        #expect(await TestFiles.waitUntilAsync(timeout: 20) { catalog.knownDigests.count == 2 })
        let answer = try #require(catalog.lookup(sha256: digest).served, "unknown once both copies are hashed")
        #expect(!answer.entry.isPrivate && answer.entry.infoHash == publicTorrent.infoHash.hex)
        #expect(answer.sha256 == digest)
    }

    @Test func aFileChangedInPlaceNoLongerAnswersItsOldDigest() async throws {
        let root = try TestFiles.makeTemporaryDirectory("mirror-catalog")
        defer { TestFiles.cleanup(root) }
        let bytes = Self.content(70_000, 3)
        let digest = try Self.sha256Hex(bytes)
        let (torrent, storage, file) = try await Self.served(bytes, dir: "data", private: false, in: root)
        let catalog = MirrorCatalog(logger: Self.logger)
        catalog.add(torrent: torrent, storage: storage)
        #expect(await TestFiles.waitUntilAsync(timeout: 20) { catalog.knownDigests.count == 1 })
        let byPath = try #require(catalog.lookup(infoHash: torrent.infoHash.hex, path: ["app.bin"]).served)
        #expect(byPath.sha256 == digest)
        #expect(catalog.lookup(sha256: digest).served != nil, "the digest is not answered before the change")

        // Rewritten in place (same inode, same size, other bytes, a later modification time).
        let handle = try FileHandle(forWritingTo: file)
        try handle.write(contentsOf: Self.content(70_000, 99))
        try handle.close()
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: file.path)

        #expect(catalog.lookup(sha256: digest).refusal == "file changed since hashed")
        let changed = try #require(catalog.lookup(infoHash: torrent.infoHash.hex, path: ["app.bin"]).served)
        #expect(changed.sha256 == nil, "the old digest still names the changed file (its ETag)")
    }
}

extension MirrorCatalogTests {
    /// Removing the torrent that answers a digest passes it to another served copy of the same bytes (a public one
    /// before a private one), and removing the last copy makes it unknown.
    @Test func removingTheAnsweringCopyPassesTheDigestToAnother() async throws {
        let root = try TestFiles.makeTemporaryDirectory("mirror-catalog")
        defer { TestFiles.cleanup(root) }
        let bytes = Self.content(60_000, 11)
        let digest = try Self.sha256Hex(bytes)
        let (privateTorrent, privateStorage, _) = try await Self.served(bytes, dir: "private", private: true, in: root)
        let (publicTorrent, publicStorage, _) = try await Self.served(bytes, dir: "public", private: false, in: root)
        // The same bytes in another public torrent (another piece length, so another info-hash).
        let (otherTorrent, otherStorage, _) = try await Self.served(
            bytes, dir: "other", private: false, pieceLength: 16 << 10, in: root)
        let catalog = MirrorCatalog(logger: Self.logger)
        catalog.add(torrent: publicTorrent, storage: publicStorage)
        catalog.add(torrent: privateTorrent, storage: privateStorage)
        catalog.add(torrent: otherTorrent, storage: otherStorage)
        #expect(await TestFiles.waitUntilAsync(timeout: 40) { catalog.knownDigests.count == 3 })
        let first = try #require(catalog.lookup(sha256: digest).served)
        #expect(!first.entry.isPrivate)
        let copies = [
            publicTorrent.infoHash.hex: (publicTorrent, publicStorage),
            otherTorrent.infoHash.hex: (otherTorrent, otherStorage),
        ]
        let firstCopy = try #require(copies[first.entry.infoHash])
        catalog.remove(firstCopy.0, storage: firstCopy.1)
        let second = try #require(catalog.lookup(sha256: digest).served, "the digest went with its first copy")
        #expect(!second.entry.isPrivate && second.entry.infoHash != first.entry.infoHash)
        let secondCopy = try #require(copies[second.entry.infoHash])
        catalog.remove(secondCopy.0, storage: secondCopy.1)
        let third = try #require(catalog.lookup(sha256: digest).served, "the private copy does not answer")
        #expect(third.entry.infoHash == privateTorrent.infoHash.hex)
        catalog.remove(privateTorrent, storage: privateStorage)
        #expect(catalog.lookup(sha256: digest).refusal == "unknown digest")
    }

    /// ``MirrorCatalog/pruneCache()`` keeps the digests of the files served now and deletes the others: one of a
    /// file replaced since (another inode), and every one of a torrent no longer served.
    @Test func pruningTheCacheKeepsOnlyTheFilesServedNow() async throws {
        let root = try TestFiles.makeTemporaryDirectory("mirror-catalog")
        defer { TestFiles.cleanup(root) }
        let cache = ContentDigestCache(directory: root.appendingPathComponent("state/sha256").path)
        let (kept, keptStorage, keptFile) = try await Self.served(
            Self.content(50_000, 1), dir: "kept", private: false, in: root)
        let (gone, goneStorage, _) = try await Self.served(
            Self.content(40_000, 2), dir: "gone", private: false, in: root)
        let catalog = MirrorCatalog(cache: cache, logger: Self.logger)
        catalog.add(torrent: kept, storage: keptStorage)
        catalog.add(torrent: gone, storage: goneStorage)
        #expect(await TestFiles.waitUntilAsync(timeout: 40) { catalog.knownDigests.count == 2 })
        let entries = { Set((try? FileManager.default.contentsOfDirectory(atPath: cache.directory)) ?? []) }
        #expect(await TestFiles.waitUntilAsync(timeout: 10) { entries().count == 2 })
        let keptName = ContentDigestCache.name(of: try #require(keptStorage.fingerprint(ofFile: 0)))
        // An earlier version of the kept file (replaced by another inode), as a restart after the swap finds it.
        var earlier = try #require(FileFingerprint(path: keptFile.path))
        earlier.inode &+= 1
        cache.record(Array(repeating: 1, count: 32), of: earlier)
        #expect(await catalog.pruneCache() == 1)
        #expect(entries().count == 2 && entries().contains(keptName))
        catalog.remove(gone, storage: goneStorage)
        #expect(await catalog.pruneCache() == 1)
        #expect(entries() == [keptName])
        #expect(await MirrorCatalog(logger: Self.logger).pruneCache() == 0, "a catalog without a cache")
    }
}

extension MirrorCatalog.Lookup {
    /// The entry and digest of a file answer; nil for a refusal.
    var served: (entry: MirrorCatalog.Entry, sha256: String?)? {
        if case .file(let entry, _, let sha256) = self { return (entry, sha256) }
        return nil
    }

    /// The reason of a refusal; nil for a file answer.
    var refusal: String? {
        if case .notFound(let reason) = self { return reason }
        return nil
    }
}
