import Foundation
@testable import Node
import SystemSupport
import TestSupport
import Testing

/// The HTTP mirror's digest cache on disk (`STATE/sha256`): pruning keeps the versions served and deletes the rest,
/// and never a file that is not the cache's.
struct ContentDigestCacheTests {
    static func version(_ inode: UInt64, mtime: Int64 = 1_700_000_000_123_456_789) -> FileFingerprint {
        var version = FileFingerprint(stat())
        version.device = 2049
        version.inode = inode
        version.size = 1000
        version.modificationTime = mtime
        return version
    }

    @Test(arguments: [
        ("2049-131-1000-1700000000123456789", true), ("2049-131-1000--5", true),
        ("2049-131-1000-17.tmp-4242", true), ("2049-131-1000", false), ("2049-131-1000-17-1", false),
        ("2049-131-x-17", false), ("2049-131-1000-17.tmp-", false), ("notes.txt", false), (".", false),
        ("..", false), ("", false),
    ])
    func cacheNamesAreKeysAndTheirTemporaryFiles(name: String, isCache: Bool) {
        #expect(ContentDigestCache.isCacheName(name) == isCache, "\(name)")
    }

    @Test func pruningKeepsTheServedVersionsAndDeletesTheRest() throws {
        let root = try TestFiles.makeTemporaryDirectory("digest-cache")
        defer { TestFiles.cleanup(root) }
        let cache = ContentDigestCache(directory: root.appendingPathComponent("sha256").path)
        #expect(cache.prune(keeping: []) == 0, "a cache directory that does not exist yet")
        let served = Self.version(11)
        let replaced = Self.version(12)
        let changed = Self.version(11, mtime: 1_600_000_000_000_000_000)
        let old = Self.version(13, mtime: -5)
        for version in [served, replaced, changed, old] { cache.record(Array(repeating: 0xab, count: 32), of: version) }
        let directory = cache.directory
        let deadWriter = ContentDigestCache.name(of: replaced) + ".tmp-999999999"
        let ownWriter = ContentDigestCache.name(of: replaced) + ".tmp-\(getpid())"
        for name in [deadWriter, ownWriter, "notes.txt"] {
            try Data("x".utf8).write(to: URL(fileURLWithPath: "\(directory)/\(name)"))
        }
        #expect(cache.prune(keeping: [served]) == 4)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: directory))
        #expect(left == [ContentDigestCache.name(of: served), ownWriter, "notes.txt"])
        #expect(cache.digest(of: served) == Array(repeating: 0xab, count: 32))
        #expect(cache.digest(of: replaced) == nil)
        #expect(cache.prune(keeping: [served]) == 0)
    }
}
