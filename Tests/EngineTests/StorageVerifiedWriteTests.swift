import Engine
import Foundation
import NIOCore
import NIOPosix
import TestSupport
import Testing

@Suite struct StorageVerifiedWriteTests {
    static let pieceLength = 64 * 1024

    /// A whole piece in a buffer, 4 KiB-aligned (so the O_DIRECT path runs) or not.
    func buffer(_ bytes: [UInt8], aligned: Bool) -> ByteBuffer {
        if aligned {
            var buffer = Storage.alignedBufferAllocator.buffer(capacity: Self.pieceLength)
            buffer.writeBytes(bytes)
            return buffer
        }
        // One byte in, so the start is not aligned: the data goes through the page cache.
        var buffer = ByteBuffer(bytes: [0] + bytes)
        buffer.moveReaderIndex(forwardBy: 1)
        return buffer
    }

    @Test(arguments: [(true, true), (true, false), (false, true), (false, false)])
    func matchingPiecesAreWrittenAndFailingOnesAreNot(directWrites: Bool, aligned: Bool) async throws {
        let directory = try TestFiles.makeTemporaryDirectory("verified-write")
        defer { TestFiles.cleanup(directory) }
        // Five whole pieces and a short last one.
        let content = randomBytes(5 * Self.pieceLength + 10_000, seed: 11)
        let layout = try makeLayout(
            [(["data.bin"], Int64(content.count), false)], pieceLength: Self.pieceLength, content: content)
        let storage = try await Storage(
            layout: layout, directory: directory.path, directWrites: directWrites, logger: quietLogger)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        func piece(_ index: Int) -> [UInt8] {
            Array(content[index * Self.pieceLength..<min((index + 1) * Self.pieceLength, content.count)])
        }

        // A corrupted piece 2 is refused and leaves the file as it was.
        var bad = piece(2)
        bad[100] ^= 0xFF
        #expect(try await storage.writeVerified(piece: 2, data: buffer(bad, aligned: aligned), on: loop).get() == false)
        #expect(!storage.have[2])
        let onDisk = try Data(contentsOf: directory.appendingPathComponent("data.bin"))
        #expect(onDisk[2 * Self.pieceLength..<3 * Self.pieceLength].allSatisfy { $0 == 0 })

        // Every piece, out of order, several in flight at once (so some are hashed in pairs).
        let order = [5, 2, 0, 4, 1, 3]
        let futures = order.map { storage.writeVerified(piece: $0, data: buffer(piece($0), aligned: aligned), on: loop) }
        for future in futures { #expect(try await future.get()) }
        #expect(storage.isComplete)
        try await storage.sync()
        #expect(try Data(contentsOf: directory.appendingPathComponent("data.bin")) == Data(content))
        // Every buffer handed in came back.
        #expect(storage.takeReturnedBuffers().count == 7)

        // A verified piece is not written again.
        await #expect(throws: EngineError.self) {
            _ = try await storage.writeVerified(piece: 0, data: buffer(piece(0), aligned: aligned), on: loop).get()
        }
        // A buffer of the wrong size is refused.
        await #expect(throws: EngineError.self) {
            _ = try await storage.writeVerified(piece: 5, data: buffer([1, 2, 3], aligned: aligned), on: loop).get()
        }
        // The data is read back as written (a seed reading what O_DIRECT wrote).
        let read = try await storage.read(piece: 4, begin: 0, length: Self.pieceLength)
        #expect(Array(read.readableBytesView) == piece(4))
    }

    @Test func piecesSpanningFilesAreWrittenToEachFile() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("verified-write")
        defer { TestFiles.cleanup(directory) }
        let fixture = try MultiFileFixture()
        let storage = try await Storage(layout: fixture.layout, directory: directory.path, logger: quietLogger)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        for index in 0..<fixture.layout.pieceCount {
            var data = Storage.alignedBufferAllocator.buffer(capacity: MultiFileFixture.pieceLength)
            data.writeBytes(fixture.piece(index))
            #expect(try await storage.writeVerified(piece: index, data: data, on: loop).get())
        }
        #expect(storage.isComplete)
        var offset = 0
        for file in MultiFileFixture.files {
            let path = directory.appendingPathComponent(file.path.joined(separator: "/"))
            let expected = Array(fixture.content[offset..<offset + Int(file.length)])
            #expect(try [UInt8](Data(contentsOf: path)) == expected, "\(file.path)")
            offset += Int(file.length)
        }
    }

    @Test func readOnlyStorageRefusesWrites() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("verified-write")
        defer { TestFiles.cleanup(directory) }
        let fixture = try MultiFileFixture()
        let storage = try await Storage(
            layout: fixture.layout, directory: directory.path, mode: .readOnly, logger: quietLogger)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        await #expect(throws: EngineError.self) {
            _ = try await storage.writeVerified(piece: 0, data: ByteBuffer(bytes: fixture.piece(0)), on: loop).get()
        }
        #expect(storage.takeReturnedBuffers().count == 1)
    }
}
