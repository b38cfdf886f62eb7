import Foundation
import SystemSupport
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

struct FileCopyTests {
    /// Copies across buffer boundaries byte for byte, and every chunk handed to the observer is what was written.
    @Test(arguments: [0, 1, FileCopy.bufferSize - 1, FileCopy.bufferSize, 2 * FileCopy.bufferSize + 17])
    func copiesEveryByteAndShowsEveryChunk(size: Int) throws {
        let dir = try TestFiles.makeTemporaryDirectory("sys-copy")
        defer { TestFiles.cleanup(dir) }
        let source = dir.appendingPathComponent("in")
        let target = dir.appendingPathComponent("out")
        try TestFiles.writeRandomFile(source, size: size, seed: UInt64(size) + 3)
        let input = open(source.path, O_RDONLY | O_CLOEXEC)
        let output = open(target.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        try #require(input >= 0 && output >= 0)
        var seen = Data()
        let copied = try FileCopy.copy(from: input, source.path, to: output, target.path) {
            seen.append(contentsOf: $0)
        }
        close(input)
        close(output)
        let original = try Data(contentsOf: source)
        #expect(copied == Int64(size))
        #expect(try Data(contentsOf: target) == original)
        #expect(seen == original)
    }

    /// Asking for more bytes than the source holds is an error that names the source, not a silent short copy.
    @Test func sourceShorterThanTheLengthIsAnError() throws {
        let dir = try TestFiles.makeTemporaryDirectory("sys-short")
        defer { TestFiles.cleanup(dir) }
        let source = dir.appendingPathComponent("in")
        try TestFiles.writeRandomFile(source, size: 1000)
        let input = open(source.path, O_RDONLY | O_CLOEXEC)
        let output = open(dir.appendingPathComponent("out").path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        defer {
            close(input)
            close(output)
        }
        #expect {
            try FileCopy.copy(from: input, source.path, to: output, "out", length: 1001)
        } throws: { error in
            let error = error as? SystemSupportError
            return error?.code == .shortInput && error?.path == source.path
        }
    }

    @Test func unreadableSourceNamesTheErrno() throws {
        let output = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(output) }
        #expect {
            try FileCopy.copy(from: -1, "nowhere", to: output, "/dev/null")
        } throws: { error in
            (error as? SystemSupportError)?.description == "nowhere: read failed: \(ErrnoText.of(EBADF))"
        }
    }
}
