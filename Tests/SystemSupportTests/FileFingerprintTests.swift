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
