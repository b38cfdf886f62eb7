import Foundation
import SystemSupport
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

struct FileFingerprintTests {
    /// A rename keeps the file (same device and inode); a write changes its stamp; a replacement is another file.
    @Test func tellsTheSameFileAndAWriteApart() throws {
        let dir = try TestFiles.makeTemporaryDirectory("sys-fingerprint")
        defer { TestFiles.cleanup(dir) }
        let path = dir.appendingPathComponent("a").path
        try Data(repeating: 1, count: 100).write(to: URL(fileURLWithPath: path))
        let first = try #require(FileFingerprint(path: path))
        #expect(first.isRegularFile && first.size == 100)

        let moved = dir.appendingPathComponent("b").path
        try #require(rename(path, moved) == 0)
        let renamed = try #require(FileFingerprint(path: moved))
        #expect(renamed.isSameFile(as: first) && renamed.hasSameContentStamp(as: first))

        let fd = open(moved, O_WRONLY | O_APPEND | O_CLOEXEC)
        try #require(fd >= 0)
        _ = write(fd, "x", 1)
        let written = try FileFingerprint(descriptor: fd, path: moved)
        close(fd)
        #expect(written.isSameFile(as: first) && !written.hasSameContentStamp(as: first))

        try Data(repeating: 1, count: 100).write(to: URL(fileURLWithPath: path))
        let replacement = try #require(FileFingerprint(path: path))
        #expect(!replacement.isSameFile(as: first))
        #expect(FileFingerprint(path: dir.appendingPathComponent("missing").path) == nil)
    }
}

struct FileFingerprintLinkTests {
    /// A configuration file reached through a symbolic link: followed, the fingerprint is the target's and changes
    /// when the link is pointed at another file; not followed, it is the link's own.
    @Test func followsASymbolicLinkOnlyWhenAsked() throws {
        let dir = try TestFiles.makeTemporaryDirectory("sys-link")
        defer { TestFiles.cleanup(dir) }
        let a = dir.appendingPathComponent("a").path
        let b = dir.appendingPathComponent("b").path
        let link = dir.appendingPathComponent("link").path
        try Data(repeating: 1, count: 10).write(to: URL(fileURLWithPath: a))
        try Data(repeating: 2, count: 20).write(to: URL(fileURLWithPath: b))
        try #require(symlink("a", link) == 0)
        let target = try #require(FileFingerprint(path: a))
        let followed = try #require(FileFingerprint(path: link, followingSymlinks: true))
        let itself = try #require(FileFingerprint(path: link))
        #expect(followed == target)
        #expect(!itself.isRegularFile && !itself.isSameFile(as: target))

        try #require(unlink(link) == 0 && symlink("b", link) == 0)
        let repointed = try #require(FileFingerprint(path: link, followingSymlinks: true))
        #expect(repointed != followed && repointed.size == 20)
    }
}
