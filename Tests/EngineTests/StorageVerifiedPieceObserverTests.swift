import Engine
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import TestSupport
import Testing

/// The hook the gated leech's streaming SHA-256 hangs on: every piece that joins `have`, once, with its bytes while
/// the storage holds them.
@Suite struct StorageVerifiedPieceObserverTests {
    static let pieceLength = 64 * 1024

    @Test func everyNewlyVerifiedPieceIsReportedOnceWithItsBytesWhenInMemory() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("piece-observer")
        defer { TestFiles.cleanup(directory) }
        let content = randomBytes(4 * Self.pieceLength + 5_000, seed: 3)
        let layout = try makeLayout(
            [(["data.bin"], Int64(content.count), false)], pieceLength: Self.pieceLength, content: content)
        let storage = try await Storage(layout: layout, directory: directory.path, logger: quietLogger)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        func piece(_ index: Int) -> [UInt8] {
            Array(content[index * Self.pieceLength..<min((index + 1) * Self.pieceLength, content.count)])
        }
        func buffer(_ index: Int) -> ByteBuffer {
            var buffer = Storage.alignedBufferAllocator.buffer(capacity: Self.pieceLength)
            buffer.writeBytes(piece(index))
            return buffer
        }
        // Piece 1 is verified before the observer is installed: it comes back in the returned set, not the hook.
        #expect(try await storage.writeVerified(piece: 1, data: buffer(1), on: loop).get())
        let seen = Mutex<[(piece: Int, bytes: [UInt8]?, onDisk: [UInt8])]>([])
        let path = directory.appendingPathComponent("data.bin").path
        let before = storage.observeVerifiedPieces { index, bytes in
            // The piece is on disk when the hook runs.
            let fd = open(path, O_RDONLY)
            var disk = [UInt8](repeating: 0, count: bytes?.readableBytes ?? 0)
            if fd >= 0 {
                _ = disk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(index * Self.pieceLength)) }
                close(fd)
            }
            seen.withLock { $0.append((index, bytes.map { Array($0.readableBytesView) }, disk)) }
        }
        #expect(Array(before.setIndices) == [1])

        // A failing piece is not reported.
        var bad = buffer(2)
        bad.setInteger(UInt8(0xAA), at: bad.readerIndex + 7)
        #expect(try await storage.writeVerified(piece: 2, data: bad, on: loop).get() == false)
        // Whole pieces in memory: reported with their bytes, which are already on disk.
        for index in [4, 2, 0] {
            #expect(try await storage.writeVerified(piece: index, data: buffer(index), on: loop).get())
        }
        // Written block by block, then verified by reading back: reported without bytes, once (a second check of
        // the same piece adds nothing).
        try await storage.write(piece: 3, begin: 0, bytes: ByteBuffer(bytes: piece(3)))
        #expect(try await storage.verify(piece: 3))
        #expect(try await storage.verify(piece: 3))

        let reports = seen.withLock { $0 }
        #expect(reports.map(\.piece) == [4, 2, 0, 3])
        for report in reports.prefix(3) {
            #expect(report.bytes == piece(report.piece))
            #expect(report.onDisk == piece(report.piece))
        }
        #expect(reports[3].bytes == nil)
        #expect(storage.isComplete)
    }

    /// The observer gets the buffer handed to `writeVerified` itself, not a copy, and may keep it (the gated leech's
    /// streaming SHA-256 does, until it has hashed the piece): the buffer that goes back to the owner shares its
    /// storage, and the owner's reuse of it for the next piece (`clear()`, as the session's `takeBuffer` does) takes
    /// fresh storage and leaves the kept piece intact.
    @Test func theObserverGetsTheWrittenBufferItselfAndMayKeepIt() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("piece-observer-shared")
        defer { TestFiles.cleanup(directory) }
        let content = randomBytes(2 * Self.pieceLength, seed: 5)
        let layout = try makeLayout(
            [(["data.bin"], Int64(content.count), false)], pieceLength: Self.pieceLength, content: content)
        let storage = try await Storage(layout: layout, directory: directory.path, logger: quietLogger)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let piece = { (index: Int) in Array(content[index * Self.pieceLength..<(index + 1) * Self.pieceLength]) }
        let kept = Mutex<[Int: ByteBuffer]>([:])
        _ = storage.observeVerifiedPieces { index, bytes in kept.withLock { $0[index] = bytes } }
        func address(_ buffer: ByteBuffer) -> UInt { buffer.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) } }

        var buffer = Storage.alignedBufferAllocator.buffer(capacity: Self.pieceLength)
        buffer.writeBytes(piece(0))
        let written = address(buffer)
        #expect(try await storage.writeVerified(piece: 0, data: buffer, on: loop).get())
        buffer = ByteBuffer()
        let observed = try #require(kept.withLock { $0[0] })
        #expect(address(observed) == written)
        #expect(Array(observed.readableBytesView) == piece(0))
        let returned = storage.takeReturnedBuffers()
        try #require(returned.count == 1)
        #expect(returned[0].written && address(returned[0].data) == written)

        var reused = returned[0].data
        reused.clear()
        reused.writeBytes(piece(1))
        #expect(address(reused) != written)
        #expect(Array(kept.withLock { $0[0] }!.readableBytesView) == piece(0))
        #expect(try await storage.writeVerified(piece: 1, data: reused, on: loop).get())
        #expect(Array(try #require(kept.withLock { $0[1] }).readableBytesView) == piece(1))
    }
}
