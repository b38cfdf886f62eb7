import CryptoPrimitives
import Foundation
import TestSupport
import Testing

@testable import SignatureGate

#if canImport(Glibc)
    import Glibc
#endif

/// Hashing with `O_DIRECT` (what the release gate in `leech` does for the engine's `O_DIRECT`-written files) gives
/// the same digests as ordinary reads, for sizes around the alignment and chunk boundaries, including the unaligned
/// tail, and leaves the descriptor as it found it.
struct FileDigestsDirectTests {
    @Test(arguments: [0, 1, 4095, 4096, 4097, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 17])
    func directReadsGiveTheSameDigests(size: Int) throws {
        let dir = try TestFiles.makeTemporaryDirectory("gate-direct")
        defer { TestFiles.cleanup(dir) }
        let path = dir.appendingPathComponent("staged.bin").path
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let fd = open(path, O_RDONLY | O_CLOEXEC)
        #expect(fd >= 0)
        defer { close(fd) }
        let flagsBefore = fcntl(fd, F_GETFL)
        let direct = try FileDigests.compute(
            fileDescriptor: fd, needs: .all, path: path, bypassingPageCache: true)
        #expect(fcntl(fd, F_GETFL) == flagsBefore, "O_DIRECT is cleared again for the gate's later uses")
        let buffered = try FileDigests.compute(fileDescriptor: fd, needs: .all, path: path)

        #expect(direct.size == Int64(size))
        #expect(direct.sha256 == DigestAlgorithm.sha256.hash(bytes))
        #expect(direct.blake2b512 == BLAKE2b.hash(bytes))
        #expect(direct == buffered)
    }
}
