import Bencode
import Foundation
import Metainfo
import TestSupport
import Testing

/// `swtorrent info` as a user runs it: the real binary, real files.
struct InfoCommandTests {
    static let pieces = [UInt8](repeating: 0x5a, count: 40)

    /// A two-file private torrent with trackers in two tiers and a web seed.
    static func sampleTorrent() -> [UInt8] {
        let info = BencodeValue.dict([
            "files": .list([
                .dict(["length": .integer(20000), "path": .list([.string("bin"), .string("tool")])]),
                .dict(["length": .integer(100), "path": .list([.string("README.md")])]),
            ]),
            "name": .string("release-1.0"),
            "piece length": .integer(16384),
            "pieces": .bytes(pieces),
            "private": .integer(1),
            "source": .string("CI"),
        ])
        return BencodeValue.dict([
            "announce": .string("http://tracker-a.example:6969/announce"),
            "announce-list": .list([
                .list([.string("http://tracker-a.example:6969/announce")]),
                .list([.string("http://tracker-b.example:6969/announce")]),
            ]),
            "comment": .string("nightly \"build\""),
            "created by": .string("swtorrent test"),
            "creation date": .integer(1_700_000_000),
            "info": info,
            "url-list": .list([.string("https://cdn.example/releases/")]),
        ]).encoded()
    }

    static func withFile<T>(_ bytes: [UInt8], _ body: (String) throws -> T) throws -> T {
        let directory = try TestFiles.makeTemporaryDirectory("info")
        defer { TestFiles.cleanup(directory) }
        let url = directory.appendingPathComponent("release-1.0.torrent")
        try Data(bytes).write(to: url)
        return try body(url.path)
    }

    @Test func showsEveryFieldAsText() throws {
        let bytes = Self.sampleTorrent()
        let expectedHash = try Torrent(bytes: bytes).infoHash.hex
        let result = try Self.withFile(bytes) { try TestProcess.swtorrent(["info", $0]) }
        #expect(result.exitCode == 0, "\(result.stderr)")
        let out = result.stdout
        for line in [
            "Name:          release-1.0",
            "Info-hash v1:  \(expectedHash)",
            "Piece length:  16 KiB (16384 bytes)",
            "Pieces:        2",
            "Total size:    19.6 KiB (20100 bytes)",
            "Private:       yes",
            "Source:        CI",
            "Comment:       nightly \"build\"",
            "Created by:    swtorrent test",
            "Created on:    2023-11-14T22:13:20Z (1700000000)",
            "  tier 1: http://tracker-a.example:6969/announce",
            "  tier 2: http://tracker-b.example:6969/announce",
            "  https://cdn.example/releases/",
            "Files (2):",
            "  20000  release-1.0/bin/tool",
            "    100  release-1.0/README.md",
            "Magnet:        magnet:?xt=urn:btih:\(expectedHash)&dn=release-1.0&tr=",
        ] {
            #expect(out.contains(line), "missing '\(line)' in:\n\(out)")
        }
    }

    @Test func printsJSONThatParses() throws {
        let bytes = Self.sampleTorrent()
        let torrent = try Torrent(bytes: bytes)
        let result = try Self.withFile(bytes) { try TestProcess.swtorrent(["info", "--json", $0]) }
        #expect(result.exitCode == 0, "\(result.stderr)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["type"] as? String == "torrent")
        #expect(object["name"] as? String == "release-1.0")
        #expect(object["infoHash"] as? String == torrent.infoHash.hex)
        #expect(object["infoHashV2"] is NSNull)
        #expect(object["pieceLength"] as? Int == 16384)
        #expect(object["pieceCount"] as? Int == 2)
        #expect(object["totalSize"] as? Int == 20100)
        #expect(object["private"] as? Bool == true)
        #expect(object["source"] as? String == "CI")
        #expect(object["comment"] as? String == "nightly \"build\"")
        #expect(object["createdBy"] as? String == "swtorrent test")
        #expect(object["creationDate"] as? Int == 1_700_000_000)
        #expect(
            object["trackers"] as? [[String]] == [
                ["http://tracker-a.example:6969/announce"], ["http://tracker-b.example:6969/announce"],
            ])
        #expect(object["webSeeds"] as? [String] == ["https://cdn.example/releases/"])
        let files = try #require(object["files"] as? [[String: Any]])
        #expect(files.map { $0["path"] as? String } == ["release-1.0/bin/tool", "release-1.0/README.md"])
        #expect(files.map { $0["length"] as? Int } == [20000, 100])
        #expect(files.map { $0["offset"] as? Int } == [0, 20000])
        #expect((object["magnet"] as? String)?.hasPrefix("magnet:?xt=urn:btih:\(torrent.infoHash.hex)") == true)
    }

    @Test func showsAMagnetLink() throws {
        let hash = "d2354010a3ca4ade5b7427bb093a62a3899ff381"
        let link = "magnet:?xt=urn:btih:\(hash)&dn=Display%20Name&tr=http%3A%2F%2Ft.example%2Fannounce"
        let text = try TestProcess.swtorrent(["info", link])
        #expect(text.exitCode == 0, "\(text.stderr)")
        #expect(text.stdout.contains("Name:          Display Name"))
        #expect(text.stdout.contains("Info-hash v1:  \(hash)"))
        #expect(text.stdout.contains("  tier 1: http://t.example/announce"))
        let json = try TestProcess.swtorrent(["info", "--json", link])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["type"] as? String == "magnet")
        #expect(object["infoHash"] as? String == hash)
    }

    @Test func malformedTorrentExitsTwoNamingTheFileAndTheProblem() throws {
        var bytes = Self.sampleTorrent()
        // Same length, different value: the piece length becomes 30000.
        let from = Array("12:piece lengthi16384e".utf8)
        let to = Array("12:piece lengthi30000e".utf8)
        let index = try #require(bytes.indices.first { bytes[$0...].starts(with: from) })
        bytes.replaceSubrange(index..<(index + from.count), with: to)
        try Self.withFile(bytes) { path in
            let result = try TestProcess.swtorrent(["info", path])
            #expect(result.exitCode == 2)
            #expect(result.stdout.isEmpty)
            #expect(result.stderr == "swtorrent info: \(path): piece length 30000 is not a power of two\n")
        }
        try Self.withFile(Array("d4:infoi1e".utf8)) { path in
            let result = try TestProcess.swtorrent(["info", path])
            #expect(result.exitCode == 2)
            #expect(result.stderr.hasPrefix("swtorrent info: \(path): not valid bencode: unexpected end of input"))
        }
    }

    @Test func missingFileExitsOneAndBadMagnetExitsTwo() throws {
        let missing = try TestProcess.swtorrent(["info", "/nonexistent/x.torrent"])
        #expect(missing.exitCode == 1)
        #expect(missing.stderr.contains("swtorrent info: /nonexistent/x.torrent: cannot open"))
        let magnet = try TestProcess.swtorrent(["info", "magnet:?xt=urn:btih:1234"])
        #expect(magnet.exitCode == 2)
        #expect(magnet.stderr.hasPrefix("swtorrent info: magnet link xt=urn:btih:1234 is not an info-hash"))
    }

    @Test func v2OnlyTorrentExitsThreeAndStillShowsItsV2InfoHash() throws {
        let leaf = BencodeValue.dict(["length": .integer(100), "pieces root": .bytes(Array(repeating: 7, count: 32))])
        let info = BencodeValue.dict([
            "file tree": .dict(["a": .dict(["": leaf])]), "meta version": .integer(2), "name": .string("a"),
            "piece length": .integer(16384),
        ])
        let bytes = BencodeValue.dict(["info": info]).encoded()
        let v2 = InfoHashV2(hashing: info.encoded())
        try Self.withFile(bytes) { path in
            let result = try TestProcess.swtorrent(["info", path])
            #expect(result.exitCode == 3)
            #expect(result.stderr.contains("v2-only torrents are not supported yet (v2 info-hash \(v2.hex))"))
        }
    }

    /// Our info-hash and piece count agree with transmission-show on every v1 torrent of the conformance set that
    /// both load.
    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"))
    func agreesWithTransmissionShow() throws {
        try TestProcess.requireTool("transmission-show")
        let directory = try Conformance.requireDirectory()
        let valid = directory.appendingPathComponent("torrents/valid")
        let names = try FileManager.default.contentsOfDirectory(atPath: valid.path).sorted()
        var compared = 0
        for name in names where name.hasSuffix(".torrent") {
            let path = valid.appendingPathComponent(name).path
            guard let torrent = try? Torrent(contentsOfFile: path), torrent.version == .v1 else { continue }
            let show = try TestProcess.run("transmission-show", [path], timeout: 30)
            guard show.exitCode == 0, let hashLine = show.stdout.split(separator: "\n").first(where: {
                $0.trimmingCharacters(in: .whitespaces).hasPrefix("Hash:")
            }) else { continue }
            let theirs = hashLine.split(separator: " ").last.map(String.init)
            let ours = try TestProcess.swtorrent(["info", "--json", path])
            let object = try JSONSerialization.jsonObject(with: Data(ours.stdout.utf8)) as? [String: Any]
            #expect(object?["infoHash"] as? String == theirs, "\(name)")
            if let countLine = show.stdout.split(separator: "\n").first(where: { $0.contains("Piece Count:") }) {
                #expect(object?["pieceCount"] as? Int == Int(countLine.split(separator: " ").last ?? ""), "\(name)")
            }
            compared += 1
            if compared >= 25 { break }
        }
        #expect(compared >= 10, "only \(compared) torrents could be compared with transmission-show")
    }

    /// Our v1 and v2 info-hashes agree with libtorrent 2.0 (Debian's python3-libtorrent) on every torrent of the
    /// conformance set that both load, hybrids included: both hash the raw info bytes.
    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"))
    func agreesWithLibtorrentOnInfoHashes() throws {
        let directory = try Conformance.requireDirectory()
        let valid = directory.appendingPathComponent("torrents/valid")
        let paths = try FileManager.default.contentsOfDirectory(atPath: valid.path).sorted()
            .filter { $0.hasSuffix(".torrent") }.map { valid.appendingPathComponent($0).path }
        // The system interpreter: Debian installs the bindings for it, not for a pyenv one on PATH.
        let script = """
            import sys
            import libtorrent as lt
            for path in sys.argv[1:]:
                try:
                    hashes = lt.torrent_info(path).info_hashes()
                    v1 = str(hashes.v1) if hashes.has_v1() else "-"
                    v2 = str(hashes.v2) if hashes.has_v2() else "-"
                    print(path + "\t" + v1 + "\t" + v2)
                except Exception as error:
                    print(path + "\tERR\t" + str(error).replace("\t", " "))
            """
        let result = try TestProcess.run("/usr/bin/python3", ["-c", script] + paths, timeout: 60)
        #expect(result.exitCode == 0, "python3-libtorrent failed: \(result.stderr)")
        var theirs: [String: (v1: String, v2: String)] = [:]
        for line in result.stdout.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if fields.count == 3 && fields[1] != "ERR" { theirs[fields[0]] = (fields[1], fields[2]) }
        }
        var compared = 0
        var hybrids = 0
        for path in paths {
            guard let torrent = try? Torrent(contentsOfFile: path), let expected = theirs[path] else { continue }
            let name = (path as NSString).lastPathComponent
            #expect(torrent.infoHash.hex == expected.v1, "\(name): v1")
            #expect((torrent.infoHashV2?.hex ?? "-") == expected.v2, "\(name): v2")
            compared += 1
            if torrent.infoHashV2 != nil { hybrids += 1 }
        }
        #expect(compared >= 50, "only \(compared) torrents could be compared with libtorrent")
        #expect(hybrids >= 5, "only \(hybrids) hybrid torrents could be compared with libtorrent")
    }
}
