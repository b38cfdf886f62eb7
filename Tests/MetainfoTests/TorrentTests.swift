import Bencode
import CryptoPrimitives
import Metainfo
import SwarmPrimitives
import Testing

struct TorrentTests {
    static let hashes = [UInt8](repeating: 0xab, count: 20)

    static func info(_ extra: KeyValuePairs<String, BencodeValue>, length: Int64 = 100) -> BencodeValue {
        var entries: [BencodeEntry] = [
            BencodeEntry("name", .string("release")),
            BencodeEntry("piece length", .integer(16384)),
            BencodeEntry("pieces", .bytes(hashes)),
        ]
        if !extra.contains(where: { $0.key == "files" }) { entries.append(BencodeEntry("length", .integer(length))) }
        for (key, value) in extra {
            entries.removeAll { $0.key == Array(key.utf8) }
            entries.append(BencodeEntry(key, value))
        }
        return .dictionary(entries)
    }

    static func torrent(info: BencodeValue, _ extra: KeyValuePairs<String, BencodeValue> = [:]) -> [UInt8] {
        var entries = [BencodeEntry("info", info)]
        for (key, value) in extra { entries.append(BencodeEntry(key, value)) }
        return BencodeValue.dictionary(entries).encoded()
    }

    static func files(_ paths: [[String]], length: Int64 = 10) -> BencodeValue {
        .list(paths.map { path in .dict(["length": .integer(length), "path": .list(path.map { .string($0) })]) })
    }

    static func fileTree(name: String) -> BencodeValue {
        let leaf = BencodeValue.dict(["length": .integer(100), "pieces root": .bytes(Array(repeating: 1, count: 32))])
        return .dictionary([BencodeEntry(name, .dict(["": leaf]))])
    }

    static func code(_ bytes: [UInt8]) -> MetainfoError.Code? {
        do {
            _ = try Torrent(bytes: bytes)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func parsesASingleFileTorrentWithAllOptionalFields() throws {
        let info = Self.info(["private": .integer(1), "source": .string("CI")])
        let bytes = Self.torrent(
            info: info,
            [
                "announce": .string(" http://t.example/announce\n"),
                "announce-list": .list([
                    .list([.string("http://a.example/announce"), .string("http://b.example/announce")]),
                    .list([.string("udp://c.example:6969"), .string("http://a.example/announce")]), .list([]),
                ]),
                "url-list": .string("https://cdn.example/release"),
                "comment": .string("nightly"), "created by": .string("swtorrent"),
                "creation date": .integer(1_700_000_000),
            ])
        let torrent = try Torrent(bytes: bytes)
        #expect(torrent.infoHash == InfoHash(hashing: info.encoded()))
        #expect(torrent.infoHash.bytes == DigestAlgorithm.sha1.hash(info.encoded()))
        #expect(torrent.infoHashV2 == nil)
        #expect(torrent.version == .v1)
        #expect(torrent.name == "release")
        #expect(torrent.isSingleFile)
        #expect(torrent.files == [Torrent.File(relativePath: ["release"], length: 100, offset: 0)])
        #expect(torrent.totalLength == 100 && torrent.pieceCount == 1 && torrent.pieceSize(0) == 100)
        #expect(torrent.pieceHash(0).elementsEqual(Self.hashes))
        #expect(torrent.isPrivate)
        #expect(torrent.source == "CI")
        #expect(torrent.announce == "http://t.example/announce")
        #expect(torrent.announceList == [
            ["http://a.example/announce", "http://b.example/announce"], ["udp://c.example:6969"],
        ])
        #expect(torrent.trackerTiers == torrent.announceList)
        #expect(torrent.webSeeds == ["https://cdn.example/release"])
        #expect(torrent.comment == "nightly" && torrent.createdBy == "swtorrent")
        #expect(torrent.creationDate == 1_700_000_000)
        let magnet = torrent.magnetLink()
        #expect(magnet.infoHash == torrent.infoHash)
        #expect(magnet.displayName == "release")
        #expect(magnet.trackers == [
            "http://a.example/announce", "http://b.example/announce", "udp://c.example:6969",
        ])
        #expect(try MagnetLink(parsing: magnet.uri) == magnet)
    }

    @Test func parsesAMultiFileTorrentWithOffsets() throws {
        let info = Self.info([
            "files": .list([
                .dict(["length": .integer(16384), "path": .list([.string("bin"), .string("tool")])]),
                .dict(["attr": .string("x"), "length": .integer(5), "path": .list([.string("README")])]),
            ]),
            "pieces": .bytes([UInt8](repeating: 1, count: 40)),
        ])
        let torrent = try Torrent(bytes: Self.torrent(info: info))
        #expect(!torrent.isSingleFile)
        #expect(torrent.files.map(\.path) == ["release/bin/tool", "release/README"])
        #expect(torrent.files.map(\.offset) == [0, 16384])
        #expect(torrent.files[1].isExecutable)
        #expect(torrent.totalLength == 16389 && torrent.pieceCount == 2 && torrent.pieceSize(1) == 5)
        #expect(torrent.trackerTiers.isEmpty)
    }

    @Test func infoHashIsTakenOverTheRawUnsortedBytes() throws {
        // Keys out of order: the canonical re-encoding differs, the info-hash must not follow it.
        let sortedInfo = Array("d6:lengthi100e4:name7:release12:piece lengthi16384e6:pieces20:".utf8) + Self.hashes
            + Array("e".utf8)
        let info = Array("d4:name7:release6:lengthi100e12:piece lengthi16384e6:pieces20:".utf8) + Self.hashes
            + Array("e".utf8)
        let unsorted = Array("d4:info".utf8) + info + Array("e".utf8)
        let raw = Array("d4:info".utf8) + sortedInfo + Array("e".utf8)
        let torrent = try Torrent(bytes: unsorted)
        #expect(torrent.infoHash == InfoHash(hashing: info))
        #expect(torrent.infoHash != (try Torrent(bytes: raw)).infoHash)
        #expect(torrent.infoBytes == info)
    }

    @Test func trailingNewlineIsToleratedButOtherTrailingBytesAreNot() throws {
        let bytes = Self.torrent(info: Self.info([:]))
        #expect(throws: Never.self) { try Torrent(bytes: bytes + [0x0a]) }
        #expect(Self.code(bytes + Array("x".utf8)) == .malformedBencode)
        #expect(Self.code(Array("d4:infod".utf8)) == .malformedBencode)
    }

    @Test(arguments: [
        (["a", "", ".", "b"], "release/a/b", true),
        (["..", "..", "etc", "passwd"], "release/etc/passwd", true),
        (["/", "x"], "release/_/x", true),
        (["a/../../b"], "release/a....b", true),
        (["C:\\Windows"], "release/C:Windows", true),
        (["abc\u{202E}gpj.exe"], "release/abcgpj.exe", true),
        (["plain", "file.txt"], "release/plain/file.txt", false),
    ])
    func sanitisesPathsSoTheyStayInsideTheTarget(components: [String], expected: String, changed: Bool) throws {
        let info = Self.info(["files": Self.files([components])])
        let torrent = try Torrent(bytes: Self.torrent(info: info))
        #expect(torrent.files[0].path == expected)
        #expect(torrent.files[0].wasSanitised == changed)
        for component in torrent.files[0].relativePath {
            #expect(!component.isEmpty && component != "." && component != ".." && !component.contains("/"))
        }
    }

    @Test func sanitisesTheNameAndFallsBackToTheInfoHash() throws {
        let dots = try Torrent(bytes: Self.torrent(info: Self.info(["name": .string("..")])))
        #expect(dots.name == dots.infoHash.hex)
        let slashed = try Torrent(bytes: Self.torrent(info: Self.info(["name": .string("/etc/passwd")])))
        #expect(slashed.name == "etcpasswd")
    }

    @Test(arguments: [
        ([["", "."]], MetainfoError.Code.unsafePath),
        ([["a\u{0}b"]], .unsafePath),
        ([["a\nb"]], .unsafePath),
        ([[String(repeating: "x", count: 256)]], .unsafePath),
        ([["a", "b"], ["a", "b"]], .unsafePath),
        ([["a"], ["a", "b"]], .unsafePath),
        ([["x", "y"], ["..", "x", "y"]], .unsafePath),
    ])
    func refusesPathsThatCannotBeMadeSafe(paths: [[String]], code: MetainfoError.Code) {
        let info = Self.info(["files": Self.files(paths)])
        #expect(Self.code(Self.torrent(info: info)) == code)
    }

    @Test(arguments: [
        (BencodeValue.integer(3000), MetainfoError.Code.invalidPieceLength),
        (.integer(0), .invalidPieceLength),
        (.integer(-16384), .invalidPieceLength),
        (.integer(8192), .invalidPieceLength),
        (.integer(1 << 30), .invalidPieceLength),
        (.string("16384"), .invalidPieceLength),
    ])
    func refusesBadPieceLengths(pieceLength: BencodeValue, code: MetainfoError.Code) throws {
        #expect(Self.code(Self.torrent(info: Self.info(["piece length": pieceLength]))) == code)
        if case .integer(3000) = pieceLength {
            do {
                _ = try Torrent(bytes: Self.torrent(info: Self.info(["piece length": pieceLength])))
            } catch {
                #expect(error.message == "piece length 3000 is not a power of two")
            }
        }
    }

    @Test func refusesPiecesThatDoNotMatchTheSize() {
        #expect(Self.code(Self.torrent(info: Self.info([:], length: 16385))) == .piecesMismatch)
        let oddPieces = Self.info(["pieces": .bytes(Array(repeating: 0, count: 21))])
        #expect(Self.code(Self.torrent(info: oddPieces)) == .piecesMismatch)
        #expect(Self.code(Self.torrent(info: Self.info(["pieces": .bytes([])]))) == .piecesMismatch)
        #expect(Self.code(Self.torrent(info: Self.info([:], length: 0))) == .invalidValue)
        #expect(Self.code(Self.torrent(info: Self.info([:], length: -1))) == .invalidValue)
    }

    @Test func refusesStructuralProblemsWithANamedField() throws {
        #expect(Self.code(BencodeValue.string("torrent").encoded()) == .invalidStructure)
        #expect(Self.code(BencodeValue.dict(["announce": .string("x")]).encoded()) == .missingField)
        #expect(Self.code(BencodeValue.dict(["info": .integer(1)]).encoded()) == .invalidStructure)
        #expect(Self.code(Self.torrent(info: Self.info(["files": .list([])]))) == .invalidValue)
        #expect(Self.code(Self.torrent(info: Self.info(["name": .string("")]))) == .invalidValue)
        #expect(Self.code(Self.torrent(info: Self.info(["meta version": .integer(3)]))) == .unsupported)
        do {
            let pathless = Self.info(["files": .list([.dict(["length": .integer(1)])])])
            _ = try Torrent(bytes: Self.torrent(info: pathless))
            Issue.record("a file without a path loaded")
        } catch {
            #expect(error.field == "info.files[0].path")
            #expect(error.in("x.torrent").description == "x.torrent: info.files[0].path is missing")
        }
    }

    @Test func refusesV2OnlyTorrentsButReportsTheirV2InfoHash() throws {
        let info = BencodeValue.dict([
            "file tree": Self.fileTree(name: "release"),
            "meta version": .integer(2), "name": .string("release"), "piece length": .integer(16384),
        ])
        do {
            _ = try Torrent(bytes: Self.torrent(info: info))
            Issue.record("a v2-only torrent loaded")
        } catch {
            #expect(error.code == .unsupported)
            #expect(error.infoHashV2 == InfoHashV2(hashing: info.encoded()))
            #expect(error.message.hasPrefix("v2-only torrents are not supported yet (v2 info-hash "))
        }
    }

    @Test func loadsAHybridAsV1AndReportsTheV2InfoHash() throws {
        let info = Self.info(["file tree": Self.fileTree(name: "release"), "meta version": .integer(2)])
        let torrent = try Torrent(bytes: Self.torrent(info: info))
        #expect(torrent.version == .hybrid)
        #expect(torrent.infoHashV2 == InfoHashV2(hashing: info.encoded()))
        #expect(torrent.magnetLink().infoHashV2 == torrent.infoHashV2)
        let mismatch = Self.info(["file tree": Self.fileTree(name: "other"), "meta version": .integer(2)])
        #expect(Self.code(Self.torrent(info: mismatch)) == .invalidStructure)
    }

    @Test func readsFilesAndNamesThemInErrors() throws {
        let directory = try TestFilesLite.temporaryDirectory()
        defer { TestFilesLite.remove(directory) }
        let good = directory + "/good.torrent"
        let bad = directory + "/bad.torrent"
        try TestFilesLite.write(Self.torrent(info: Self.info([:])), to: good)
        try TestFilesLite.write(Self.torrent(info: Self.info(["piece length": .integer(3000)])), to: bad)
        #expect(try Torrent(contentsOfFile: good).name == "release")
        do {
            _ = try Torrent(contentsOfFile: bad)
            Issue.record("loaded")
        } catch {
            #expect(error.description == "\(bad): piece length 3000 is not a power of two")
        }
        do {
            _ = try Torrent(contentsOfFile: directory + "/missing.torrent")
            Issue.record("loaded")
        } catch {
            #expect(error.code == .fileSystem)
            #expect(error.description.hasPrefix(directory + "/missing.torrent: cannot open"))
        }
    }

    /// Hostile shapes that would be quadratic with naive de-duplication or prefix checks: a file path of 50,000
    /// components, 100,000 web seeds, 20,000 files in one directory. They must load (or be refused) promptly.
    @Test func handlesHostileShapesInLinearTime() throws {
        let deep = Self.info(["files": Self.files([Array(repeating: "d", count: 50_000) + ["f"]])])
        let deepTorrent = try Torrent(bytes: Self.torrent(info: deep))
        #expect(deepTorrent.files[0].relativePath.count == 50_002)

        let seeds = BencodeValue.list((0..<100_000).map { .string("http://seed\($0).example/") })
        let seeded = try Torrent(bytes: Self.torrent(info: Self.info([:]), ["url-list": seeds]))
        #expect(seeded.webSeeds.count == 100_000)

        let wide = (0..<20_000).map { ["dir", "file\($0)"] }
        let pieces = BencodeValue.bytes(Array(repeating: 0, count: 20 * 13))  // 200,000 bytes in 16 KiB pieces
        let wideInfo = Self.info(["files": Self.files(wide), "pieces": pieces])
        #expect(try Torrent(bytes: Self.torrent(info: wideInfo)).files.count == 20_000)
        let clashing = Self.info(["files": Self.files(wide + [["dir"]]), "pieces": pieces])
        #expect(Self.code(Self.torrent(info: clashing)) == .unsafePath)
    }
}
