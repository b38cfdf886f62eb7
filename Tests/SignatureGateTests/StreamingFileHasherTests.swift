import CryptoPrimitives
import Dispatch
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

@testable import SignatureGate

/// The gate's streaming SHA-256: digests taken while pieces arrive must be `sha256sum` of the files released.
struct StreamingFileHasherTests {
    /// 16 KiB pieces (``TorrentSignaturesTests/makeTorrent(in:name:files:)``): file boundaries inside pieces, an
    /// empty file, a file that ends on a piece boundary (b.bin, at 4 pieces), a file shorter than a piece: 9 pieces.
    static let files: [(String, Int)] = [
        ("a.bin", 40_000), ("empty", 0), ("b.bin", 4 * 16_384 - 40_000), ("c.bin", 100), ("d.bin", 70_001),
    ]
    static let pieceLength = 16_384

    enum Arrival: String, CaseIterable, Sendable {
        /// Front to back.
        case inOrder
        /// Back to front: nothing can be hashed until the last report.
        case reversed
        /// A fixed permutation, reported from several threads at once.
        case scattered
    }

    /// `sha256sum FILE`, the reference.
    static func sha256sum(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        return String(try #require(String(decoding: output, as: UTF8.self).split(separator: " ").first))
    }

    /// A torrent staged under `directory`: its files, its content, and a hasher fed every piece in `arrival` order;
    /// pieces whose index is a multiple of 3 are reported without bytes (read back from disk), the others with them.
    static func hash(
        torrent: [UInt8], directory: String, arrival: Arrival, windowBytes: Int
    ) throws -> (StreamingFileHasher, [String: PrecomputedDigest]) {
        let (files, content) = try staged(torrent, in: directory)
        let hasher = StreamingFileHasher(
            directory: directory, files: files, pieceLength: pieceLength, windowBytes: windowBytes)
        let count = hasher.pieceCount
        let order: [Int] =
            switch arrival {
            case .inOrder: Array(0..<count)
            case .reversed: Array((0..<count).reversed())
            case .scattered: (0..<count).map { $0 * 7 % count }
            }
        #expect(Set(order).count == count)
        let report = { @Sendable (piece: Int) in
            let range = piece * pieceLength..<min((piece + 1) * pieceLength, content.count)
            if piece % 3 == 0 {
                hasher.pieceVerified(piece, bytes: nil)
            } else {
                hasher.pieceVerified(piece, bytes: Array(content[range]))
            }
        }
        if arrival == .scattered {
            let next = Mutex(0)
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                while let index = next.withLock({ (i: inout Int) -> Int? in
                    guard i < order.count else { return nil }
                    i += 1
                    return i - 1
                }) {
                    report(order[index])
                }
            }
        } else {
            for piece in order { report(piece) }
        }
        return (hasher, hasher.finish())
    }

    /// The torrent's files as the hasher sees them, and their content (the files concatenated) as staged.
    static func staged(_ torrent: [UInt8], in directory: String) throws -> ([StreamingFileHasher.File], [UInt8]) {
        let files = try TorrentSignatures.files(of: torrent, subject: "t").map {
            StreamingFileHasher.File(path: $0.path.joined(separator: "/"), length: $0.length)
        }
        var content: [UInt8] = []
        for file in files { content += [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file.path))) }
        return (files, content)
    }

    /// ``files`` as a torrent "rel" made in `directory`: ``staged(_:in:)``.
    static func stagedTorrent(in directory: URL) throws -> ([StreamingFileHasher.File], [UInt8]) {
        try staged(TorrentSignaturesTests.makeTorrent(in: directory, name: "rel", files: files), in: directory.path)
    }

    @Test(arguments: Arrival.allCases, [0, 32_768, 1 << 20])
    func digestsAreSha256sumOfEachFile(arrival: Arrival, windowBytes: Int) throws {
        let dir = try TestFiles.makeTemporaryDirectory("stream-sha256")
        defer { TestFiles.cleanup(dir) }
        let torrent = try TorrentSignaturesTests.makeTorrent(in: dir, name: "rel", files: Self.files)
        let (hasher, digests) = try Self.hash(
            torrent: torrent, directory: dir.path, arrival: arrival, windowBytes: windowBytes)
        #expect(hasher.pieceCount == 9)
        #expect(digests.count == Self.files.count)
        for (name, size) in Self.files {
            let digest = try #require(digests["rel/" + name])
            #expect(digest.digests.size == Int64(size))
            #expect(Hex.encode(try #require(digest.digests.sha256)) == (try Self.sha256sum(dir.path + "/rel/" + name)))
        }
        let statistics = hasher.statistics
        #expect(statistics.piecesFromMemory + statistics.piecesReadBack == 9)
        // Pieces 0, 3 and 6 had no bytes; the others were kept when the window (or being the front) allowed.
        #expect(statistics.piecesReadBack >= 3)
        #expect(statistics.peakHeldBytes <= windowBytes + Self.pieceLength)
        if windowBytes >= 9 * Self.pieceLength { #expect(statistics.piecesFromMemory == 6) }
    }

    /// Through the gate, signed: the released files are the bytes hashed, and the decisions say so.
    @Test func gateReleasesWithStreamedDigestsAndTheyMatchTheReleasedFiles() throws {
        let s = try ReleaseGateTests.Setup()
        defer { TestFiles.cleanup(s.root) }
        let staging = s.gate.stagingDirectory
        let unsigned = try TorrentSignaturesTests.makeTorrent(
            in: URL(fileURLWithPath: staging), name: "rel", files: Self.files)
        let (torrent, _) = try TorrentSignatures.sign(
            torrent: unsigned, subject: "t", dataDirectory: staging, key: .cosign(s.key))
        let (_, digests) = try Self.hash(torrent: torrent, directory: staging, arrival: .scattered, windowBytes: 32_768)
        let decisions = try s.gate.releaseTorrent(torrent, subject: "t", policy: s.policy, precomputed: digests)
        #expect(decisions.count == Self.files.count)
        for decision in decisions {
            let released = try #require(Self.released(decision.decision), "\(decision.path): \(decision.decision)")
            #expect(released.signers.count == 1)
            #expect(released.sha256 == (try Self.sha256sum(released.path)))
            let streamed = digests[decision.path.joined(separator: "/")]?.digests.sha256.map { Hex.encode($0) }
            #expect(streamed == released.sha256)
        }
        #expect(try s.gate.auditLog.records().map(\.result) == Array(repeating: "released", count: Self.files.count))
    }

    static func released(_ decision: ReleaseDecision) -> (path: String, signers: [Signer], sha256: String)? {
        if case .released(let path, let signers, let sha256) = decision { (path, signers, sha256) } else { nil }
    }

    enum Change: String, CaseIterable, Sendable {
        /// One byte rewritten in place (same inode, same size).
        case rewritten
        /// Replaced by a new file with the same bytes (another inode).
        case replaced
        /// Cut short.
        case truncated
    }

    /// A staged file touched after it was hashed is never released, even without a trust policy (where only the
    /// piece hashes vouch for the bytes): the digest no longer describes it.
    @Test(arguments: Change.allCases)
    func stagedFileChangedAfterHashingIsNotReleased(change: Change) throws {
        let s = try ReleaseGateTests.Setup()
        defer { TestFiles.cleanup(s.root) }
        let staging = s.gate.stagingDirectory
        let torrent = try TorrentSignaturesTests.makeTorrent(
            in: URL(fileURLWithPath: staging), name: "rel", files: Self.files)
        let (_, digests) = try Self.hash(torrent: torrent, directory: staging, arrival: .inOrder, windowBytes: 1 << 20)
        // Past the file-time granularity, so that an in-place write shows in the modification time.
        Thread.sleep(forTimeInterval: 0.05)
        let path = staging + "/rel/d.bin"
        switch change {
        case .rewritten:
            let handle = try #require(FileHandle(forUpdatingAtPath: path))
            try handle.seek(toOffset: 5)
            try handle.write(contentsOf: Data([0x42]))
            try handle.close()
        case .replaced:
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            try #require(unlink(path) == 0)
            try bytes.write(to: URL(fileURLWithPath: path))
        case .truncated:
            try #require(truncate(path, 1000) == 0)
        }
        let decisions = try s.gate.releaseTorrent(
            torrent, subject: "t", policy: TrustPolicy(keys: [], requiredSigners: 0), precomputed: digests)
        let outcome = Dictionary(uniqueKeysWithValues: decisions.map { ($0.path.last!, $0.decision) })
        let refused = try #require(outcome["d.bin"])
        #expect(
            { if case .quarantined(_, .changedAfterVerification) = refused { true } else { false } }(),
            "d.bin after \(change): \(refused)")
        #expect(!FileManager.default.fileExists(atPath: s.gate.destinationDirectory + "/rel/d.bin"))
        // The untouched files are released as hashed.
        for name in ["a.bin", "empty", "b.bin", "c.bin"] { #expect(outcome[name]?.isReleased == true) }
    }

    /// A file that cannot be read back has no digest (the gate then hashes it itself); the others still do.
    @Test func unreadableFileGetsNoDigest() throws {
        let dir = try TestFiles.makeTemporaryDirectory("stream-sha256-missing")
        defer { TestFiles.cleanup(dir) }
        let (files, _) = try Self.stagedTorrent(in: dir)
        try #require(unlink(dir.path + "/rel/c.bin") == 0)
        let hasher = StreamingFileHasher(directory: dir.path, files: files, pieceLength: Self.pieceLength)
        for piece in 0..<hasher.pieceCount { hasher.pieceVerified(piece, bytes: nil) }
        let digests = hasher.finish()
        #expect(digests["rel/c.bin"] == nil)
        #expect(Set(digests.keys) == ["rel/a.bin", "rel/empty", "rel/b.bin", "rel/d.bin"])
        let streamed = Hex.encode(try #require(digests["rel/d.bin"]?.digests.sha256))
        #expect(streamed == (try Self.sha256sum(dir.path + "/rel/d.bin")))
    }

    /// A download that ends early: finish returns what was hashed, cancel stops at once; neither hangs.
    @Test func finishAndCancelReturnWhenPiecesAreMissing() throws {
        let dir = try TestFiles.makeTemporaryDirectory("stream-sha256-partial")
        defer { TestFiles.cleanup(dir) }
        let (files, _) = try Self.stagedTorrent(in: dir)
        let partial = StreamingFileHasher(directory: dir.path, files: files, pieceLength: Self.pieceLength)
        for piece in [0, 1, 2, 5] { partial.pieceVerified(piece, bytes: nil) }
        // Pieces 0-2 hold a.bin and the empty file after it; b.bin ends in piece 3, which never came.
        #expect(Set(partial.finish().keys) == ["rel/a.bin", "rel/empty"])
        let cancelled = StreamingFileHasher(directory: dir.path, files: files, pieceLength: Self.pieceLength)
        cancelled.pieceVerified(1, bytes: nil)
        cancelled.cancel()
        #expect(cancelled.statistics.piecesReadBack == 0)
    }

    /// A hasher 24 MiB behind the download (1 MiB pieces 1...24 verified before piece 0) still hashes every piece from
    /// memory with the default window: with 16 MiB, pieces past the window were read back one by one, slower than
    /// the download, and a 1 GiB leech finished hashing up to 0.6 s after its last piece (Docs/benchmarks.md).
    @Test func defaultWindowCoversAHasherThatFellBehind() throws {
        let dir = try TestFiles.makeTemporaryDirectory("stream-sha256-behind")
        defer { TestFiles.cleanup(dir) }
        let pieceLength = 1 << 20
        let pieces = 25
        // Each piece its own byte: a digest of the pieces in the wrong order differs.
        let content = (0..<pieces).flatMap {
            [UInt8](repeating: UInt8(truncatingIfNeeded: $0 * 37 + 1), count: pieceLength)
        }
        try Data(content).write(to: URL(fileURLWithPath: dir.path + "/big.bin"))
        let file = StreamingFileHasher.File(path: "big.bin", length: Int64(content.count))
        let hasher = StreamingFileHasher(directory: dir.path, files: [file], pieceLength: pieceLength)
        #expect(hasher.windowBytes >= 24 << 20)
        for piece in Array(1..<pieces) + [0] {
            hasher.pieceVerified(piece, bytes: Array(content[piece * pieceLength..<(piece + 1) * pieceLength]))
        }
        let digest = try #require(hasher.finish()["big.bin"])
        let streamed = Hex.encode(try #require(digest.digests.sha256))
        #expect(streamed == (try Self.sha256sum(dir.path + "/big.bin")))
        #expect(hasher.statistics.piecesFromMemory == pieces)
        #expect(hasher.statistics.piecesReadBack == 0)
        #expect(hasher.statistics.peakHeldBytes >= 24 << 20)
    }

    /// The bytes a piece is reported with are hashed where they lie, not copied: the engine hands over its piece
    /// buffer (a leech copied every verified piece, ≈ 0.16 CPU-s and up to 8K page faults per GiB, Docs/benchmarks.md),
    /// and the hasher lets go of each one once hashed, so the engine can reuse it without a copy.
    @Test func reportedBytesAreHashedWhereTheyLieAndLetGoOnceHashed() throws {
        let dir = try TestFiles.makeTemporaryDirectory("stream-sha256-shared")
        defer { TestFiles.cleanup(dir) }
        let (files, content) = try Self.stagedTorrent(in: dir)
        let hasher = StreamingFileHasher(directory: dir.path, files: files, pieceLength: Self.pieceLength)
        var pieces: [RecordingBytes] = []
        var released: [() -> Bool] = []
        // Back to front: every piece is held until the front reaches it.
        for piece in (0..<hasher.pieceCount).reversed() {
            let range = piece * Self.pieceLength..<min((piece + 1) * Self.pieceLength, content.count)
            let bytes = RecordingBytes(Array(content[range]))
            hasher.pieceVerified(piece, bytes: bytes)
            pieces.append(bytes)
            released.append { [weak bytes] in bytes == nil }
        }
        let digests = hasher.finish()
        for (name, _) in Self.files {
            let digest = try #require(digests["rel/" + name]?.digests.sha256)
            #expect(Hex.encode(digest) == (try Self.sha256sum(dir.path + "/rel/" + name)))
        }
        #expect(hasher.statistics.piecesFromMemory == hasher.pieceCount)
        for bytes in pieces {
            // Read once, through its own storage.
            #expect(bytes.addressesRead == [bytes.address])
        }
        pieces.removeAll()
        #expect(released.allSatisfy { $0() }, "the hasher still holds reported bytes after hashing them")
    }

    /// Bytes that record where they were read from.
    final class RecordingBytes: SharedBytes {
        let bytes: [UInt8]
        private let reads = Mutex<[UInt]>([])

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var count: Int { bytes.count }
        var address: UInt { bytes.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) } }
        var addressesRead: [UInt] { reads.withLock { $0 } }

        func withBytes(_ body: (UnsafeRawBufferPointer) -> Void) {
            bytes.withUnsafeBytes { raw in
                reads.withLock { $0.append(UInt(bitPattern: raw.baseAddress)) }
                body(raw)
            }
        }
    }
}
