import Bencode
import CryptoPrimitives
import Foundation
import SwarmPrimitives
@testable import Metainfo
import TestSupport
import Testing

/// Piece-length rules and the `--piece-length` parser.
struct CreationPieceLengthTests {
    // libtorrent 2.0.8 `create_torrent(fs).piece_length()` for these total sizes (checked with python3-libtorrent).
    static let libtorrentDefaults: [(Int64, Int)] = [
        (1, 16384),
        (2_684_355, 16384),
        (2_684_356, 32768),
        (10_737_418, 32768),
        (10_737_419, 65536),
        (42_949_674, 131072),
        (2_147_483_648, 512 * 1024),
        (2_748_779_070, 1 << 20),
        (703_687_441_777, 8 << 20),
        (703_687_441_778, 16 << 20),
        (1 << 50, 16 << 20),
    ]

    @Test(arguments: libtorrentDefaults)
    func defaultFollowsLibtorrent(total: Int64, expected: Int) {
        #expect(PieceLength.default(forTotalSize: total) == expected)
    }

    static let suffixes: [(String, Int)] = [
        ("16384", 16384), ("16K", 16384), ("16k", 16384), ("256K", 262144), ("256KiB", 262144), ("512KB", 524288),
        ("1M", 1 << 20), ("1MiB", 1 << 20), ("4m", 4 << 20), ("16M", 16 << 20), ("16mib", 16 << 20),
    ]

    @Test(arguments: suffixes)
    func parsesSuffixes(text: String, expected: Int) throws {
        #expect(try PieceLength.parse(text) == expected)
    }

    @Test(arguments: ["", "K", "12Q", "1.5M", "-16K", "16 K", "1T", "0x4000", "99999999999999M"])
    func rejectsWhatIsNotASize(text: String) {
        #expect(throws: MetainfoError.self) { try PieceLength.parse(text) }
        do {
            _ = try PieceLength.parse(text)
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("'\(text)'"))
        }
    }

    @Test(arguments: ["8K", "32M", "3000", "48K", "0", "1G"])
    func rejectsLengthsOutsideTheRule(text: String) {
        do {
            _ = try PieceLength.parse(text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.code == .invalidPieceLength)
            #expect(error.message.contains("16K"))
        }
    }
}

/// File order, and the refusals that keep content from being skipped silently.
struct CreationContentTests {
    @Test func directoryOrderIsByComponentsAsRawBytes() throws {
        let root = try TestFiles.makeTemporaryDirectory("creation-order")
        defer { TestFiles.cleanup(root) }
        let dir = root.appendingPathComponent("content")
        let paths = ["a.b", "a/z", "B", "a/b/c", ".hidden", "é", "e", "a/B", "Z/empty"]
        for path in paths {
            let url = dir.appendingPathComponent(path)
            try makeDirectory(url.deletingLastPathComponent())
            try Data(path.utf8).write(to: url)
        }
        try Data().write(to: dir.appendingPathComponent("Z/empty"))
        try makeDirectory(dir.appendingPathComponent("emptydir/inner"))

        let content = try TorrentContent.scan(dir.path)
        #expect(content.name == "content")
        #expect(!content.isSingleFile)
        // Component-wise: "a" < "a.b" (so a/... before a.b), uppercase before lowercase, UTF-8 "é" (C3 A9) last.
        #expect(content.files.map { $0.path.joined(separator: "/") } == [
            ".hidden", "B", "Z/empty", "a/B", "a/b/c", "a/z", "a.b", "e", "é",
        ])
        #expect(content.files.first { $0.path == ["Z", "empty"] }?.length == 0)
        #expect(content.totalSize == Int64(paths.filter { $0 != "Z/empty" }.map { $0.utf8.count }.reduce(0, +)))
        #expect(TorrentContent.precedes(["a", "z"], ["a.b"]))
        #expect(!TorrentContent.precedes(["a.b"], ["a", "z"]))
    }

    @Test func singleFileKeepsItsName() throws {
        let root = try TestFiles.makeTemporaryDirectory("creation-single")
        defer { TestFiles.cleanup(root) }
        let file = root.appendingPathComponent("artifact.tar")
        try TestFiles.writeRandomFile(file, size: 1000)
        let content = try TorrentContent.scan(file.path)
        #expect(content.isSingleFile)
        #expect(content.name == "artifact.tar")
        #expect(content.files == [ContentFile(path: ["artifact.tar"], sourcePath: file.path, length: 1000)])
    }

    @Test func refusesMissingPathsEmptyDirectoriesAndDirectoryLinks() throws {
        let root = try TestFiles.makeTemporaryDirectory("creation-refuse")
        defer { TestFiles.cleanup(root) }
        let missing = root.appendingPathComponent("nope").path
        #expect(throws: MetainfoError.self) { try TorrentContent.scan(missing) }
        do {
            _ = try TorrentContent.scan(missing)
        } catch {
            #expect(error.code == .fileSystem)
            #expect(error.description.hasPrefix(missing))
        }

        let empty = root.appendingPathComponent("empty")
        try makeDirectory(empty.appendingPathComponent("sub"))
        do {
            _ = try TorrentContent.scan(empty.path)
            Issue.record("an empty directory was accepted")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.description.contains("no files"))
        }

        let linked = root.appendingPathComponent("linked")
        try makeDirectory(linked)
        try Data("x".utf8).write(to: linked.appendingPathComponent("file"))
        try FileManager.default.createSymbolicLink(
            atPath: linked.appendingPathComponent("to-file").path, withDestinationPath: "file")
        // A link to a file is followed.
        let followed = try TorrentContent.scan(linked.path)
        #expect(followed.files.map(\.path) == [["file"], ["to-file"]])
        try FileManager.default.createSymbolicLink(
            atPath: linked.appendingPathComponent("to-dir").path, withDestinationPath: empty.path)
        do {
            _ = try TorrentContent.scan(linked.path)
            Issue.record("a link to a directory was accepted")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.description.contains("to-dir"))
        }
    }
}

/// Piece hashing: the parallel, chunked path must equal hashing the concatenated stream in one go.
struct CreationHashingTests {
    /// Files whose sizes straddle piece and read boundaries, including empty ones at the start, middle and end.
    static let layouts: [[Int]] = [
        [0, 100_000, 0, 1, 65_535, 0, 300_000, 16_384, 0],
        [1_234_567],
        [16_384, 16_384, 16_384],
        [5_000_000, 3, 2_000_001],
    ]

    /// (piece length, threads, read size or 0 for automatic): pieces smaller and larger than a read, one and
    /// several threads.
    static let configurations: [(Int, Int, Int)] = [
        (16_384, 1, 65_536), (32_768, 3, 65_536), (1 << 20, 2, 256 << 10), (65_536, 4, 2 << 20), (262_144, 2, 0),
        (16_384, 2, 3 * 16_384), (16_384, 1, 7 * 16_384), (16_384, 8, 65_536),
    ]

    @Test(arguments: layouts, configurations)
    func matchesOneConcatenatedHash(sizes: [Int], config: (pieceLength: Int, threads: Int, readSize: Int)) throws {
        let root = try TestFiles.makeTemporaryDirectory("creation-hash")
        defer { TestFiles.cleanup(root) }
        var files: [ContentFile] = []
        var stream = Data()
        for (index, size) in sizes.enumerated() {
            let url = root.appendingPathComponent("f\(index)")
            try TestFiles.writeRandomFile(url, size: size, seed: UInt64(index + 1) * 7919)
            let data = try Data(contentsOf: url)
            stream.append(data)
            files.append(ContentFile(path: ["f\(index)"], sourcePath: url.path, length: Int64(size)))
        }
        let bytes = [UInt8](stream)
        var expected: [UInt8] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + config.pieceLength, bytes.count)
            expected += DigestAlgorithm.sha1.hash(bytes[offset..<end])
            offset = end
        }
        let readSize = config.readSize == 0 ? nil : config.readSize
        var hasher = PieceHasher(pieceLength: config.pieceLength, threads: config.threads, readSize: readSize)
        var lastProgress: Int64 = -1
        let plain = try hasher.hashFiles(files) { lastProgress = $0 }
        #expect(plain.pieces == expected)
        #expect(plain.fileSHA256 == nil)
        #expect(lastProgress == Int64(bytes.count))

        let withDigests = try hasher.hashFiles(files, fileDigests: .sha256)
        #expect(withDigests.pieces == expected)
        var start = 0
        let expectedDigests = sizes.map { size in
            defer { start += size }
            return DigestAlgorithm.sha256.hash(bytes[start..<(start + size)])
        }
        #expect(withDigests.fileSHA256 == expectedDigests)
        #expect(withDigests.fileBLAKE2b512 == nil)
        // The files' SHA-256 split over several lanes (threads) give the same digests and pieces; BLAKE2b-512 (for
        // minisign) comes from the same pass.
        start = 0
        let expectedBLAKE2b = sizes.map { size in
            defer { start += size }
            return BLAKE2b.hash(bytes[start..<(start + size)])
        }
        for lanes in [1, 2, 3, 5] {
            hasher.digestLanes = lanes
            let split = try hasher.hashFiles(files, fileDigests: .sha256)
            #expect(split.pieces == expected, "\(lanes) lanes")
            #expect(split.fileSHA256 == expectedDigests, "\(lanes) lanes")
            let both = try hasher.hashFiles(files, fileDigests: .sha256AndBLAKE2b512)
            #expect(both.fileSHA256 == expectedDigests, "\(lanes) lanes")
            #expect(both.fileBLAKE2b512 == expectedBLAKE2b, "\(lanes) lanes")
        }
        hasher.digestLanes = nil

        // OpenSSL for every piece (what a CPU without SHA extensions gets) gives the same digests.
        hasher.interleavedSHA1 = false
        #expect(try hasher.hashFiles(files).pieces == expected)
    }

    /// Digest lanes: whole files only, about equal bytes, every unit once, each lane's units in stream order.
    @Test(arguments: [([100, 100, 100, 100], 2, [0, 2]), ([300, 0, 100, 100], 2, [0, 2]), ([400], 4, [0]),
        ([0, 0, 50, 50, 50, 50], 3, [0, 4, 5]), ([100, 100], 8, [0, 1])])
    func digestLanesSplitAtFileBoundaries(sizesKiB: [Int], lanes: Int, fileStarts: [Int]) {
        let files = sizesKiB.enumerated().map { index, size in
            ContentFile(path: ["f\(index)"], sourcePath: "/nonexistent/f\(index)", length: Int64(size) << 10)
        }
        let layout = StreamLayout(files: files, pieceLength: 16_384)
        let plan = DigestPlan(layout: layout, lanes: lanes)
        #expect(plan.fileStarts == fileStarts)
        #expect(plan.offsets.first == 0 && plan.offsets.last == layout.totalSize)
        #expect(plan.unitOrder.sorted() == Array(0..<layout.unitCount))
        let unitBytes = Int64(layout.piecesPerUnit * layout.pieceLength)
        for lane in 0..<plan.laneCount {
            let units = plan.unitOrder.filter {
                plan.lane(containing: min(Int64($0 + 1) * unitBytes, layout.totalSize) - 1) == lane
            }
            #expect(units == units.sorted(), "lane \(lane) is read front to back")
        }
    }

    @Test func readSizeHoldsFourPiecesWithinTheBudget() {
        #expect(PieceHasher(pieceLength: 16_384, threads: 2).effectiveReadSize(buffersPerWorker: 1) == 2 << 20)
        #expect(PieceHasher(pieceLength: 1 << 20, threads: 2).effectiveReadSize(buffersPerWorker: 1) == 4 << 20)
        #expect(PieceHasher(pieceLength: 2 << 20, threads: 2).effectiveReadSize(buffersPerWorker: 1) == 8 << 20)
        #expect(PieceHasher(pieceLength: 16 << 20, threads: 2).effectiveReadSize(buffersPerWorker: 1) == 8 << 20)
        for threads in [1, 2, 8, 64, 256] {
            for buffers in [1, 3] {
                let hasher = PieceHasher(pieceLength: 1 << 20, threads: threads)
                let size = hasher.effectiveReadSize(buffersPerWorker: buffers)
                #expect(size * threads * buffers <= PieceHasher.bufferBudget || size == 64 << 10)
            }
        }
        print("CreationHashingTests: SHA extensions on this CPU: \(MultiLaneSHA1.hasSHAExtensions)")
    }

    @Test func aFileThatShrankIsReportedByName() throws {
        let root = try TestFiles.makeTemporaryDirectory("creation-shrunk")
        defer { TestFiles.cleanup(root) }
        let url = root.appendingPathComponent("shrunk")
        try TestFiles.writeRandomFile(url, size: 10_000)
        let files = [ContentFile(path: ["shrunk"], sourcePath: url.path, length: 50_000)]
        for digests in [WholeFileDigests.none, .sha256] {
            do {
                _ = try PieceHasher(pieceLength: 16_384, threads: 2).hashFiles(files, fileDigests: digests)
                Issue.record("a short file was hashed")
            } catch {
                #expect(error.code == .fileSystem)
                #expect(error.description.hasPrefix(url.path))
                #expect(error.message.contains("shorter"))
            }
        }
    }
}

/// The torrent the builder writes.
struct CreationBuilderTests {
    @Test func writesMktorrentsKeysAndAnnounceTiers() throws {
        let root = try TestFiles.makeTemporaryDirectory("creation-builder")
        defer { TestFiles.cleanup(root) }
        let url = root.appendingPathComponent("a.bin")
        try TestFiles.writeRandomFile(url, size: 100_000)
        var options = TorrentOptions()
        options.announceTiers = TorrentOptions.announceTiers(fromArguments: ["http://t1/a,http://t2/a", "udp://t3:80"])
        options.isPrivate = true
        options.pieceLength = 32_768
        options.webSeeds = TorrentOptions.webSeeds(fromArguments: ["http://w1/,http://w2/"])
        options.source = "CI"
        options.comment = "release 1"
        options.creationDate = 1_700_000_000
        let made = try TorrentBuilder(options: options).make(path: url.path)

        let value = try BencodeDecoder().decode(made.bytes)  // strict: canonical key order
        #expect(value.encoded() == made.bytes)
        #expect(value["announce"]?.utf8String == "http://t1/a")
        #expect(value["announce-list"] == .list([
            .list([.string("http://t1/a"), .string("http://t2/a")]), .list([.string("udp://t3:80")]),
        ]))
        #expect(value["url-list"] == .list([.string("http://w1/"), .string("http://w2/")]))
        #expect(value["comment"]?.utf8String == "release 1")
        #expect(value["created by"]?.utf8String == "swtorrent/0.1.0")
        #expect(value["creation date"]?.integer == 1_700_000_000)
        let info = try #require(value["info"])
        #expect(info.entries?.map { String(decoding: $0.key, as: UTF8.self) } == [
            "length", "name", "piece length", "pieces", "private", "source",
        ])
        #expect(info["pieces"]?.bytes?.count == 4 * 20)
        #expect(made.infoHash == InfoHash(hashing: info.encoded()))
        #expect(made.magnetLink.uri.contains("xt=urn:btih:\(made.infoHash.hex)"))
        #expect(made.pieceCount == 4)
    }

    @Test func leavesOutPrivateAndDateWhenNotAsked() throws {
        let root = try TestFiles.makeTemporaryDirectory("creation-minimal")
        defer { TestFiles.cleanup(root) }
        let url = root.appendingPathComponent("a.bin")
        try TestFiles.writeRandomFile(url, size: 20_000)
        let made = try TorrentBuilder(options: TorrentOptions()).make(path: url.path)
        let value = try BencodeDecoder().decode(made.bytes)
        #expect(value.entries?.map { String(decoding: $0.key, as: UTF8.self) } == ["created by", "info"])
        #expect(value["info"]?["private"] == nil)
        #expect(made.pieceLength == 16_384)
    }

    static let badURLs: [([String], [String])] = [
        (["ftp://x/"], []), (["http:/x"], []), (["tracker"], []), ([], ["udp://ws/"]), ([], ["http://a b/"]),
    ]

    @Test(arguments: badURLs)
    func refusesBadURLs(announce: [String], webSeeds: [String]) throws {
        let root = try TestFiles.makeTemporaryDirectory("creation-url")
        defer { TestFiles.cleanup(root) }
        let url = root.appendingPathComponent("a.bin")
        try TestFiles.writeRandomFile(url, size: 100)
        var options = TorrentOptions()
        options.announceTiers = TorrentOptions.announceTiers(fromArguments: announce)
        options.webSeeds = webSeeds
        do {
            _ = try TorrentBuilder(options: options).make(path: url.path)
            Issue.record("accepted \(announce) \(webSeeds)")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains((announce + webSeeds)[0]))
        }
    }

    @Test func refusesContentWithoutBytes() throws {
        let root = try TestFiles.makeTemporaryDirectory("creation-empty")
        defer { TestFiles.cleanup(root) }
        let dir = root.appendingPathComponent("d")
        try makeDirectory(dir)
        try Data().write(to: dir.appendingPathComponent("zero"))
        do {
            _ = try TorrentBuilder(options: TorrentOptions()).make(path: dir.path)
            Issue.record("an all-empty directory was accepted")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("empty"))
        }
    }
}

/// Creates a directory and any missing parents.
private func makeDirectory(_ url: URL) throws {
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
}
