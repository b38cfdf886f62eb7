import Bencode
import CryptoPrimitives
import Engine
import Foundation
import Logging
import Metainfo
import NIOCore
import NIOPosix
import PeerWire
import Synchronization
import TestSupport
import Testing

/// A torrent-like layout over `content`, with SHA-1 piece hashes of it.
func makeLayout(
    _ files: [(path: [String], length: Int64, isPadFile: Bool)],
    pieceLength: Int,
    content: [UInt8],
    infoHash: [UInt8] = Array(repeating: 7, count: 20)
) throws -> StorageLayout {
    var hashes: [UInt8] = []
    var offset = 0
    while offset < content.count {
        let end = min(offset + pieceLength, content.count)
        hashes += DigestAlgorithm.sha1.hash(content[offset..<end])
        offset = end
    }
    return try StorageLayout(files: files, pieceLength: pieceLength, pieceHashes: hashes, infoHash: infoHash)
}

func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
}

let quietLogger = Logger(label: "storage-test", factory: { _ in SwiftLogNoOpLogHandler() })

/// Three files of 5000, 0 and 7000 bytes, then 3 bytes; pieces of 4096 bytes, so pieces span files.
struct MultiFileFixture {
    static let files: [(path: [String], length: Int64, isPadFile: Bool)] = [
        (["t", "a.bin"], 5000, false),
        (["t", "empty"], 0, false),
        (["t", "sub", "b.bin"], 7000, false),
        (["t", "c"], 3, false),
    ]
    static let pieceLength = 4096
    let content = randomBytes(12_003, seed: 1)
    let layout: StorageLayout

    init(infoHash: [UInt8] = Array(repeating: 7, count: 20)) throws {
        layout = try makeLayout(Self.files, pieceLength: Self.pieceLength, content: content, infoHash: infoHash)
    }

    func piece(_ index: Int) -> [UInt8] {
        Array(content[index * Self.pieceLength..<min((index + 1) * Self.pieceLength, content.count)])
    }

    /// Writes the whole content through `storage` in 1000-byte blocks, last piece first.
    func writeAll(_ storage: Storage) async throws {
        for index in (0..<layout.pieceCount).reversed() {
            let data = piece(index)
            var begin = 0
            while begin < data.count {
                let end = min(begin + 1000, data.count)
                try await storage.write(piece: index, begin: begin, bytes: ByteBuffer(bytes: data[begin..<end]))
                begin = end
            }
        }
    }
}

@Suite struct StorageLayoutTests {
    @Test func spansAtFileBoundaries() throws {
        let layout = try MultiFileFixture().layout
        #expect(layout.pieceCount == 3)
        #expect(layout.totalLength == 12_003)
        #expect(layout.pieceSize(2) == 12_003 - 8192)
        // Piece 1 covers bytes 4096..<8192: the end of a.bin, nothing of the empty file, the start of b.bin.
        let spans = layout.spans(piece: 1, begin: 0, length: 4096)
        #expect(spans.map(\.file) == [0, 2])
        #expect(spans.map(\.fileOffset) == [4096, 0])
        #expect(spans.map(\.length) == [904, 3192])
        #expect(spans.map(\.rangeOffset) == [0, 904])
        // A block that ends exactly at a file end stays in that file.
        #expect(layout.spans(piece: 1, begin: 0, length: 904).map(\.file) == [0])
        // A block that starts exactly at a file start.
        let atStart = layout.spans(piece: 1, begin: 904, length: 10)
        #expect(atStart.map(\.file) == [2] && atStart[0].fileOffset == 0)
        // The last piece ends in the 3-byte file.
        let last = layout.spans(piece: 2, begin: 0, length: layout.pieceSize(2))
        #expect(last.map(\.file) == [2, 3])
        #expect(last.map(\.length) == [3808, 3])
        #expect(layout.pieces(ofFile: 0) == 0..<2)
        #expect(layout.pieces(ofFile: 1) == 0..<0)
        #expect(layout.pieces(ofFile: 2) == 1..<3)
        #expect(layout.pieces(ofFile: 3) == 2..<3)
    }

    static let unsafePaths: [[String]] = [
        ["t", "..", "etc", "passwd"],
        ["..", "x"],
        [".."],
        ["t", "."],
        ["t", ""],
        [],
        ["t", "a/../../b"],
        ["/etc/passwd"],
        ["t", "nul\u{0}byte"],
    ]

    @Test(arguments: unsafePaths)
    func pathsThatCouldLeaveTheSaveDirectoryAreRefused(path: [String]) {
        do {
            _ = try makeLayout([(path, 10, false)], pieceLength: 16384, content: Array(repeating: 0, count: 10))
            Issue.record("accepted \(path)")
        } catch let error as EngineError {
            #expect(error.code == .unsafePath)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func fileInsideAnotherFileOrTwiceIsRefused() {
        for files in [
            [(["t", "a"], Int64(5), false), (["t", "a", "b"], Int64(5), false)],
            [(["t", "a"], Int64(5), false), (["t", "a"], Int64(5), false)],
        ] {
            #expect(throws: EngineError.self) {
                _ = try makeLayout(files, pieceLength: 16384, content: Array(repeating: 0, count: 10))
            }
        }
    }

    @Test func hashCountMustMatch() {
        #expect(throws: EngineError.self) {
            _ = try StorageLayout(
                files: [(["a"], 40000, false)],
                pieceLength: 16384,
                pieceHashes: [UInt8](repeating: 0, count: 40),
                infoHash: [UInt8](repeating: 0, count: 20)
            )
        }
    }
}

@Suite struct StorageTests {
    @Test func writtenBlocksReadBackAndLandInTheRightFiles() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("storage")
        defer { TestFiles.cleanup(directory) }
        let fixture = try MultiFileFixture()
        let storage = try await Storage(layout: fixture.layout, directory: directory.path, logger: quietLogger)
        // Files exist at full length before anything is written.
        let sizeBefore = try FileManager.default.attributesOfItem(atPath: directory.path + "/t/sub/b.bin")[.size]
        #expect(sizeBefore as? Int == 7000)
        try await fixture.writeAll(storage)
        for index in 0..<fixture.layout.pieceCount {
            let back = try await storage.read(piece: index, begin: 0, length: fixture.layout.pieceSize(index))
            #expect(Array(back.readableBytesView) == fixture.piece(index))
        }
        let odd = try await storage.read(piece: 1, begin: 900, length: 10)
        #expect(Array(odd.readableBytesView) == Array(fixture.content[4996..<5006]))
        #expect(try Data(contentsOf: directory.appendingPathComponent("t/a.bin")) == Data(fixture.content[0..<5000]))
        #expect(try Data(contentsOf: directory.appendingPathComponent("t/empty")).isEmpty)
        #expect(
            try Data(contentsOf: directory.appendingPathComponent("t/sub/b.bin"))
                == Data(fixture.content[5000..<12_000])
        )
        #expect(try Data(contentsOf: directory.appendingPathComponent("t/c")) == Data(fixture.content[12_000...]))
    }

    @Test func hashCheckPassesAndFails() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("storage")
        defer { TestFiles.cleanup(directory) }
        let fixture = try MultiFileFixture()
        let storage = try await Storage(layout: fixture.layout, directory: directory.path, logger: quietLogger)
        try await fixture.writeAll(storage)
        // Corrupt one byte of piece 1, in the second file.
        try await storage.write(piece: 1, begin: 2000, bytes: ByteBuffer(bytes: [fixture.piece(1)[2000] ^ 0xFF]))
        #expect(try await storage.verify(piece: 0))
        #expect(try await storage.verify(piece: 1) == false)
        #expect(try await storage.verify(piece: 2))
        #expect(storage.have.setIndices == [0, 2])
        // A verified piece is never written again.
        await #expect(throws: EngineError.self) {
            try await storage.write(piece: 0, begin: 0, bytes: ByteBuffer(bytes: [1, 2, 3]))
        }
        #expect(try await storage.verify(piece: 0))
        // Out of range blocks are refused.
        for (piece, begin, length) in [(3, 0, 1), (2, 3811, 1), (0, -1, 1), (0, 4000, 97)] {
            await #expect(throws: EngineError.self) {
                _ = try await storage.read(piece: piece, begin: begin, length: length)
            }
        }
        // Repair it and it verifies.
        try await storage.write(piece: 1, begin: 2000, bytes: ByteBuffer(bytes: [fixture.piece(1)[2000]]))
        #expect(try await storage.verify(piece: 1))
        #expect(storage.isComplete)
    }

    @Test func existingDataIsCheckedInParallel() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("storage")
        defer { TestFiles.cleanup(directory) }
        let content = randomBytes(40 * 16384 + 5, seed: 2)
        let layout = try makeLayout([(["data.bin"], Int64(content.count), false)], pieceLength: 16384, content: content)
        var damaged = content
        damaged[5 * 16384 + 77] ^= 1
        damaged[40 * 16384 + 4] ^= 1
        try Data(damaged).write(to: directory.appendingPathComponent("data.bin"))
        let storage = try await Storage(
            layout: layout,
            directory: directory.path,
            mode: .readOnly,
            logger: quietLogger
        )
        let calls = ProgressLog()
        let have = try await storage.checkExisting(concurrency: 4) { done, total in calls.record(done, total) }
        #expect(have.setCount == 39)
        #expect(!have[5] && !have[40] && have[0] && have[39])
        #expect(calls.last == [41, 41])
        // Read-only storage refuses writes and did not change the file.
        await #expect(throws: EngineError.self) {
            try await storage.write(piece: 5, begin: 0, bytes: ByteBuffer(bytes: [0]))
        }
        #expect(try Data(contentsOf: directory.appendingPathComponent("data.bin")) == Data(damaged))
    }

    @Test func missingAndFreshFilesAreNotHashed() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("storage")
        defer { TestFiles.cleanup(directory) }
        let fixture = try MultiFileFixture()
        let seed = try await Storage(
            layout: fixture.layout,
            directory: directory.path,
            mode: .readOnly,
            logger: quietLogger
        )
        let calls = ProgressLog()
        let none = try await seed.checkExisting { done, total in calls.record(done, total) }
        #expect(none.isEmpty)
        #expect(calls.last == [0, 0])
        // Read-only mode created nothing.
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/t"))
        await #expect(throws: EngineError.self) { _ = try await seed.read(piece: 0, begin: 0, length: 10) }

        let leech = try await Storage(layout: fixture.layout, directory: directory.path, logger: quietLogger)
        let fresh = try await leech.checkExisting { done, total in calls.record(done, total) }
        #expect(fresh.isEmpty)
        #expect(calls.last == [0, 0])
    }

    @Test func padFilesReadAsZerosAndAreNeverCreated() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("storage")
        defer { TestFiles.cleanup(directory) }
        let head = randomBytes(3000, seed: 3)
        let tail = randomBytes(5000, seed: 4)
        let content = head + [UInt8](repeating: 0, count: 4096 - 3000) + tail
        let files: [(path: [String], length: Int64, isPadFile: Bool)] = [
            (["t", "head"], 3000, false),
            (["t", ".pad", "1096"], 1096, true),
            (["t", "tail"], 5000, false),
        ]
        let layout = try makeLayout(files, pieceLength: 4096, content: content)
        let storage = try await Storage(layout: layout, directory: directory.path, logger: quietLogger)
        try await storage.write(piece: 0, begin: 0, bytes: ByteBuffer(bytes: content[0..<4096]))
        try await storage.write(piece: 1, begin: 0, bytes: ByteBuffer(bytes: content[4096..<8192]))
        try await storage.write(piece: 2, begin: 0, bytes: ByteBuffer(bytes: content[8192...]))
        for piece in 0..<3 { #expect(try await storage.verify(piece: piece)) }
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/t/.pad"))
        #expect(try Data(contentsOf: directory.appendingPathComponent("t/tail")) == Data(tail))
    }

    @Test func symlinksInsideTheSaveDirectoryAreNotFollowed() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("storage")
        let outside = try TestFiles.makeTemporaryDirectory("outside")
        defer {
            TestFiles.cleanup(directory)
            TestFiles.cleanup(outside)
        }
        let fixture = try MultiFileFixture()
        // t -> outside: a planted directory symlink.
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/t", withDestinationPath: outside.path)
        await #expect(throws: EngineError.self) {
            _ = try await Storage(layout: fixture.layout, directory: directory.path, logger: quietLogger)
        }
        // A file symlink in the right place is refused too.
        try FileManager.default.removeItem(atPath: directory.path + "/t")
        try FileManager.default.createDirectory(atPath: directory.path + "/t", withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(
            atPath: directory.path + "/t/a.bin",
            withDestinationPath: outside.path + "/victim"
        )
        do {
            _ = try await Storage(layout: fixture.layout, directory: directory.path, logger: quietLogger)
            Issue.record("followed a symlink")
        } catch let error as EngineError {
            #expect(error.code == .unsafePath)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
    }

    @Test func largePiecesAreHashedInBoundedChunks() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("storage")
        defer { TestFiles.cleanup(directory) }
        let pieceLength = 4 << 20
        let content = randomBytes(pieceLength + 1000, seed: 5)
        let layout = try makeLayout(
            [(["big"], Int64(content.count), false)],
            pieceLength: pieceLength,
            content: content
        )
        var damaged = content
        damaged[pieceLength - 1] ^= 0x80
        try Data(damaged).write(to: directory.appendingPathComponent("big"))
        let storage = try await Storage(
            layout: layout,
            directory: directory.path,
            mode: .readOnly,
            hashChunkLength: 64 * 1024,
            logger: quietLogger
        )
        #expect(storage.hashChunkLength == 64 * 1024)
        #expect(try await storage.verify(piece: 0) == false)
        #expect(try await storage.verify(piece: 1))
        try Data(content).write(to: directory.appendingPathComponent("big"))
        #expect(try await storage.verify(piece: 0))
    }
}

/// Records progress calls from the hashing tasks.
final class ProgressLog: Sendable {
    private let calls = Mutex<[[Int]]>([])
    func record(_ done: Int, _ total: Int) { calls.withLock { $0.append([done, total]) } }
    var last: [Int]? { calls.withLock { $0.last } }
}

@Suite struct StorageLayoutFromTorrentTests {
    /// A multi-file torrent whose paths try to climb out (`..`) goes through the Metainfo parser's sanitising and
    /// the layout's own check, and every file still lands under the save directory.
    @Test func traversalInATorrentEndsUpInsideTheSaveDirectory() async throws {
        let content = randomBytes(20_000, seed: 6)
        let hashes = stride(from: 0, to: content.count, by: 16384).flatMap {
            DigestAlgorithm.sha1.hash(content[$0..<min($0 + 16384, content.count)])
        }
        let info: BencodeValue = .dict([
            "files": .list([
                .dict(["length": .integer(10_000), "path": .list([.string(".."), .string(".."), .string("evil")])]),
                .dict(["length": .integer(10_000), "path": .list([.string("ok")])]),
            ]),
            "name": .string("t"),
            "piece length": .integer(16384),
            "pieces": .bytes(hashes),
        ])
        let torrent = try Torrent(bytes: BencodeValue.dict(["info": info]).encoded())
        let layout = try StorageLayout(torrent: torrent)
        #expect(layout.files.allSatisfy { !$0.path.contains("..") && $0.path.first == "t" })
        let directory = try TestFiles.makeTemporaryDirectory("storage")
        defer { TestFiles.cleanup(directory.deletingLastPathComponent().appendingPathComponent("evil")) }
        defer { TestFiles.cleanup(directory) }
        let storage = try await Storage(layout: layout, directory: directory.path, logger: quietLogger)
        try await storage.write(piece: 0, begin: 0, bytes: ByteBuffer(bytes: content[0..<16384]))
        try await storage.write(piece: 1, begin: 0, bytes: ByteBuffer(bytes: content[16384...]))
        #expect(try await storage.verify(piece: 0))
        #expect(try await storage.verify(piece: 1))
        #expect(!FileManager.default.fileExists(atPath: directory.deletingLastPathComponent().path + "/evil"))
        #expect(try Data(contentsOf: directory.appendingPathComponent("t/ok")) == Data(content[10_000...]))
    }
}

@Suite struct StorageConcurrencyTests {
    /// Blocks of many pieces written at once from many tasks (as peers deliver them), across file boundaries.
    @Test func concurrentWritesAcrossFilesVerify() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("storage")
        defer { TestFiles.cleanup(directory) }
        let content = randomBytes(300_001, seed: 8)
        let files: [(path: [String], length: Int64, isPadFile: Bool)] = [
            (["m", "one"], 70_000, false), (["m", "two"], 1, false), (["m", "three"], 130_000, false),
            (["m", "d", "four"], 100_000, false),
        ]
        let layout = try makeLayout(files, pieceLength: 32768, content: content)
        let storage = try await Storage(layout: layout, directory: directory.path, logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for piece in 0..<layout.pieceCount {
                let size = layout.pieceSize(piece)
                for begin in stride(from: 0, to: size, by: 16384) {
                    let start = piece * 32768 + begin
                    let block = ByteBuffer(bytes: content[start..<start + min(16384, size - begin)])
                    group.addTask { try await storage.write(piece: piece, begin: begin, bytes: block) }
                }
            }
            try await group.waitForAll()
        }
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for piece in 0..<layout.pieceCount { group.addTask { try await storage.verify(piece: piece) } }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == layout.pieceCount && results.allSatisfy { $0 })
        #expect(storage.isComplete)
        #expect(try Data(contentsOf: directory.appendingPathComponent("m/d/four")) == Data(content[200_001...]))
    }
}

@Suite struct StorageEventLoopAPITests {
    /// The future-returning calls (for channel handlers) write, read and verify like the async ones and deliver on
    /// the given event loop.
    @Test func futuresCompleteOnTheEventLoop() async throws {
        try await withStorage { fixture, storage, loop in
            var writes: [EventLoopFuture<Void>] = []
            for piece in 0..<fixture.layout.pieceCount {
                let data = fixture.piece(piece)
                writes.append(storage.write(piece: piece, begin: 0, bytes: ByteBuffer(bytes: data), on: loop))
            }
            try await EventLoopFuture.andAllSucceed(writes, on: loop).get()
            let verified = try await storage.verify(piece: 1, on: loop).map { ok in
                loop.preconditionInEventLoop()
                return ok
            }.get()
            #expect(verified)
            let block = try await storage.read(piece: 1, begin: 100, length: 1000, on: loop).get()
            #expect(Array(block.readableBytesView) == Array(fixture.piece(1)[100..<1100]))
            // Errors arrive as failed futures, not thrown.
            await #expect(throws: EngineError.self) {
                try await storage.write(piece: 1, begin: 0, bytes: ByteBuffer(bytes: [0]), on: loop).get()
            }
            await #expect(throws: EngineError.self) {
                try await storage.read(piece: 9, begin: 0, length: 1, on: loop).get()
            }
        }
    }

    /// A buffer handed back to ``Storage/read(piece:begin:length:into:on:)`` is filled in place: its storage is the
    /// same one read after read, so an upload's pooled buffer costs no allocation and no page faults. (Before the
    /// fix, the thread pool's last job kept the previous result referenced, and the second read copied the storage
    /// into a new mapping.)
    ///
    /// The future a read returns holds the filled buffer as its value until the event loop has run its callbacks and
    /// let go of it: `.get()` resumes this task from inside those callbacks, so each round first waits for the loop
    /// to finish that turn (a `submit` behind it), as a caller on the loop does by returning. Without the wait the
    /// next read raced the loop thread and, on a loaded machine, often found the buffer shared (CI, stop 18).
    @Test func aReusedReadBufferIsFilledInPlace() async throws {
        try await withStorage { fixture, storage, loop in
            for piece in 0..<fixture.layout.pieceCount {
                let data = ByteBuffer(bytes: fixture.piece(piece))
                try await storage.write(piece: piece, begin: 0, bytes: data, on: loop).get()
            }
            let length = fixture.layout.pieceSize(0)
            var buffer = Storage.alignedBufferAllocator.buffer(capacity: length)
            let address = buffer.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
            for round in 0..<20 {
                let piece = round % fixture.layout.pieceCount
                let part = min(length, fixture.layout.pieceSize(piece))
                buffer = try await storage.read(piece: piece, begin: 0, length: part, into: consume buffer, on: loop)
                    .get()
                try await loop.submit {}.get()
                #expect(Array(buffer.readableBytesView) == Array(fixture.piece(piece)[0..<part]), "round \(round)")
                #expect(buffer.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) } == address, "round \(round)")
            }
        }
    }

    /// Runs `body` with a ``MultiFileFixture``'s empty storage in a temporary directory and an event loop of a group of
    /// its own; cleans up both on every path.
    private func withStorage(
        _ body: (MultiFileFixture, Storage, any EventLoop) async throws -> Void
    ) async throws {
        let directory = try TestFiles.makeTemporaryDirectory("storage")
        defer { TestFiles.cleanup(directory) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let fixture = try MultiFileFixture()
            let storage = try await Storage(layout: fixture.layout, directory: directory.path, logger: quietLogger)
            try await body(fixture, storage, group.next())
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }
}
