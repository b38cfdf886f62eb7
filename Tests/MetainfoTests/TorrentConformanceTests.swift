import Bencode
import Foundation
import Metainfo
import TestSupport
import Testing

/// Runs the parser over every `.torrent` in `../shared/conformance/torrents/EXPECTED.tsv` and compares the outcome
/// and every fact the row's note asserts. Rows where we differ on purpose are listed in ``disagreements`` with the
/// reason, and in `Docs/conformance.md`; any other difference fails.
struct TorrentConformanceTests {
    static let disagreements: [String: String] = [
        "valid/libtorrent__empty_path.torrent": "a file whose path is empty after sanitising is refused",
        "valid/libtorrent__empty_path_multi.torrent": "a file whose path is empty after sanitising is refused",
        "valid/libtorrent__invalid_filename.torrent": "a file whose path is empty after sanitising is refused",
        "valid/libtorrent__invalid_filename2.torrent": "a file whose path is empty after sanitising is refused",
        "valid/libtorrent__duplicate_files.torrent": "two files with the same path are refused, not renamed",
        "valid/libtorrent__invalid_directory_name.torrent": "paths that collide after sanitising are refused",
        "valid/libtorrent__long_name.torrent": "a name over 255 bytes is refused, not truncated",
        "valid/libtorrent__large_piece_size.torrent": "piece length must be a power of two",
        "valid/libtorrent__url_seed_multi.torrent": "web seed URLs are reported as written (no '/' appended)",
        "valid/libtorrent__url_seed_multi_space.torrent": "web seed URLs are reported as written (no escaping, no '/')",
        "valid/libtorrent__url_seed_multi_space_nolist.torrent":
            "web seed URLs are reported as written (no escaping, no '/')",
        "valid/libtorrent__symlink2.torrent": "symlink targets are relative to the torrent root (BEP 47)",
        "valid/libtorrent__pad_file_no_path.torrent": "a pad file without a path is placed under the torrent's name",
        "valid/libtorrent__v2_only.torrent": "v2-only torrents are refused (not supported yet)",
        "valid/libtorrent__v2_invalid_filename.torrent": "v2-only torrents are refused (not supported yet)",
        "valid/libtorrent__v2_multiple_files.torrent": "v2-only torrents are refused (not supported yet)",
        "valid/libtorrent__v2_invalid_filename2.torrent": "v2-only torrents are refused (not supported yet)",
        "valid/libtorrent__v2_symlinks.torrent": "v2-only torrents are refused (not supported yet)",
        "valid/libtorrent__v2_no_piece_layers.torrent": "v2-only torrents are refused (not supported yet)",
        "valid/libtorrent__v2_incomplete_piece_layer.torrent": "v2-only torrents are refused (not supported yet)",
        "valid/anacrolix__bittorrent-v2-test.torrent": "v2-only torrents are refused (not supported yet)",
        "valid/transmission__debian-11.2.0-amd64-DVD-1.iso.torrent": "BEP 17 httpseeds are not read as web seeds",
        "valid/transmission__gimp-2.10.32-1-arm64.dmg.torrent": "a torrent without an info dictionary is refused",
    ]

    /// Sanitised paths (joined with `/`, first component the torrent name) that the notes assert, by file index.
    static let assertedPaths: [String: [Int: String]] = [
        "valid/libtorrent__slash_path.torrent": [0: "temp/_/_/bar"],
        "valid/libtorrent__slash_path2.torrent": [0: "temp/abc....def/_/bar"],
        "valid/libtorrent__slash_path3.torrent": [0: "temp....abc"],
        "valid/libtorrent__absolute_filename.torrent": [0: "temp/abcde", 1: "temp/foobar"],
        "valid/libtorrent__symlink_filtered_path.torrent": [0: "temp/a/_/bar"],
        "valid/libtorrent__pad_file_no_path.torrent": [1: ".pad/2124"],
        "valid/libtorrent__duplicate_files.torrent": [0: "temp/foo/bar.txt", 1: "temp/foo/bar.1.txt"],
        "valid/libtorrent__invalid_directory_name.torrent": [0: "test2/_/foo", 1: "test2/_/foo.1"],
        "valid/libtorrent__sample.torrent": [
            0: "sample/text_file2.txt", 1: "sample/.____padding_file/0", 2: "sample/text_file.txt",
        ],
        "valid/libtorrent__v2.torrent": [0: "test64K"],
        "valid/libtorrent__v2_multipiece_file.torrent": [0: "test1MB"],
        "valid/transmission__bad-utf8-path.torrent": [
            0: "bad-utf8-path/\u{03C0}file.\u{1F600}\u{1F600}\u{1F600}", 1: "bad-utf8-path/file\u{FFFD}.foo",
        ],
        "valid/transmission-inline__bucket_00.torrent": [0: "foo/a.txt", 1: "foo/b.txt"],
    ]

    /// Symlink targets the notes assert (prefixed with the torrent name, as libtorrent reports them), by file index.
    static let assertedSymlinks: [String: [Int: String]] = [
        "valid/libtorrent__symlink1.torrent": [1: "temp/a/b/bar"],
        "valid/libtorrent__symlink_zero_size.torrent": [1: "temp/a/b/bar"],
        "valid/libtorrent__symlink_filtered_path.torrent": [1: "temp/a/_/bar"],
        "valid/libtorrent__symlink2.torrent": [
            0: "Some.framework/Versions/A/SDL2", 4: "Some.framework/Versions/A",
        ],
        "valid/libtorrent__overlapping_symlinks.torrent": [
            0: "SDL2.framework/Versions/Current/Headers", 1: "SDL2.framework/Versions/Current/Resources",
            2: "SDL2.framework/Versions/Current/SDL2",
        ],
    ]

    /// Names the notes assert.
    static let assertedNames: [String: String] = [
        "valid/libtorrent__invalid_name2.torrent": "b61560c2918f463768cd122b6d2fdd47b77bdb35",
        "valid/libtorrent__invalid_name3.torrent": "foobar ",
        "valid/libtorrent__slash_path3.torrent": "temp....abc",
        "valid/anacrolix__bootstrap.dat.torrent": "bootstrap.dat",
    ]

    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"))
    func everyTorrentRowAgreesOrIsAListedDisagreement() throws {
        let directory = try Conformance.requireDirectory()
        let rows = try Conformance.table(directory.appendingPathComponent("torrents/EXPECTED.tsv"))
        #expect(rows.count > 100)
        var seen: Set<String> = []
        for row in rows {
            let file = row["file"] ?? ""
            seen.insert(file)
            let problems = Self.problems(row: row, path: directory.appendingPathComponent("torrents/\(file)").path)
            if let reason = Self.disagreements[file] {
                #expect(!problems.isEmpty, "\(file) is listed as a disagreement (\(reason)) but now agrees")
            } else {
                #expect(problems.isEmpty, "\(file): \(problems.joined(separator: "; "))")
            }
        }
        for file in Self.disagreements.keys {
            #expect(seen.contains(file), "\(file) is listed as a disagreement but is not in EXPECTED.tsv")
        }
        let doc = try Conformance.disagreementsDoc()
        for file in Self.disagreements.keys {
            let name = (file as NSString).lastPathComponent
            #expect(doc.contains(name), "Docs/conformance.md does not list \(name)")
        }
    }

    /// Everything about one row that differs from what its source expects.
    static func problems(row: [String: String], path: String) -> [String] {
        let file = row["file"] ?? ""
        let note = row["note"] ?? ""
        let expectOK = row["expect"] == "ok"
        var problems: [String] = []
        let torrent: Torrent
        do {
            torrent = try Torrent(contentsOfFile: path)
        } catch {
            if expectOK { problems.append("refused: \(error)") }
            // A refused v2-only torrent still reports its v2 info-hash.
            if error.code == .unsupported {
                for hash in v2Hashes(in: note) where error.infoHashV2?.hex != hash {
                    problems.append("v2 info-hash \(error.infoHashV2?.hex ?? "none") in the error, note says \(hash)")
                }
            }
            return problems
        }
        if !expectOK { problems.append("loaded, but the source rejects it") }

        for match in note.matches(of: /\b([0-9a-f]{40})\b/) where String(match.1) != torrent.infoHash.hex {
            problems.append("v1 info-hash \(torrent.infoHash.hex), note says \(match.1)")
        }
        for hash in v2Hashes(in: note) where torrent.infoHashV2?.hex != hash {
            problems.append("v2 info-hash \(torrent.infoHashV2?.hex ?? "none"), note says \(hash)")
        }
        if let match = note.firstMatch(of: /(?:^|[^>\d])(\d+) files?\b/), let count = Int(match.1),
            count != torrent.files.count
        {
            problems.append("\(torrent.files.count) files, note says \(count)")
        }
        if let match = note.firstMatch(of: /piece length = (\d+)/), Int(match.1) != torrent.pieceLength {
            problems.append("piece length \(torrent.pieceLength), note says \(match.1)")
        }
        if let match = note.firstMatch(of: /creation date = (\d+)/), Int64(match.1) != torrent.creationDate {
            problems.append("creation date \(String(describing: torrent.creationDate)), note says \(match.1)")
        }
        if note.contains("no creation date") && torrent.creationDate != nil {
            problems.append("has a creation date, note says none")
        }
        if let match = note.firstMatch(of: /(\d+) web ?seeds?/) ?? note.firstMatch(of: /url-list is a list of (\d+)/),
            Int(match.1) != torrent.webSeeds.count
        {
            problems.append("\(torrent.webSeeds.count) web seeds \(torrent.webSeeds), note says \(match.1)")
        }
        if note.contains("url-list is a single string") && torrent.webSeeds.count != 1 {
            problems.append("\(torrent.webSeeds.count) web seeds, note says one")
        }
        if let match = note.firstMatch(of: /1 web ?seed:? (\S+?)[;( ]/) ?? note.firstMatch(of: /1 web ?seed:? (\S+)$/),
            torrent.webSeeds.first != String(match.1)
        {
            problems.append("web seed \(torrent.webSeeds), note says \(match.1)")
        }
        if let match = note.firstMatch(of: /first tracker trimmed to (\S+)/),
            torrent.trackerTiers.first?.first != String(match.1)
        {
            problems.append("first tracker \(String(describing: torrent.trackerTiers.first)), note says \(match.1)")
        }
        if note.contains("hybrid") && torrent.infoHashV2 == nil {
            problems.append("no v2 info-hash, note says hybrid")
        }
        if note.contains("file1 is a pad file") && !(torrent.files.count > 1 && torrent.files[1].isPadFile) {
            problems.append("file1 is not a pad file")
        }
        if let name = assertedNames[file], torrent.name != name {
            problems.append("name '\(torrent.name)', note says '\(name)'")
        }
        for (index, expected) in assertedPaths[file] ?? [:] {
            let actual = index < torrent.files.count ? torrent.files[index].path : "(none)"
            if actual != expected { problems.append("file\(index) path '\(actual)', note says '\(expected)'") }
        }
        for (index, expected) in assertedSymlinks[file] ?? [:] {
            let target = index < torrent.files.count ? torrent.files[index].symlinkTarget : nil
            let actual = target.map { ([torrent.name] + $0).joined(separator: "/") } ?? "(none)"
            if actual != expected { problems.append("file\(index) symlink '\(actual)', note says '\(expected)'") }
        }
        if let match = note.firstMatch(of: /info dict at byte offset (\d+), size (\d+)/) {
            let range = torrentInfoRange(path)
            if range != Int(match.1)!..<(Int(match.1)! + Int(match.2)!) || torrent.infoBytes.count != Int(match.2)! {
                problems.append("info dict at \(String(describing: range)), note says \(match.1) size \(match.2)")
            }
        }
        return problems
    }

    /// 64-digit hex values in a note that are v2 info-hashes (not pieces roots).
    static func v2Hashes(in note: String) -> [String] {
        note.matches(of: /(pieces root )?\b([0-9a-f]{64})\b/).filter { $0.1 == nil }.map { String($0.2) }
    }

    static var lenientWithTrailingBytes: BencodeDecoder.Options {
        var options = BencodeDecoder.Options.lenient
        options.allowTrailingBytes = true
        return options
    }

    static func torrentInfoRange(_ path: String) -> Range<Int>? {
        guard let data = FileManager.default.contents(atPath: path),
            let document = try? BencodeDecoder(options: lenientWithTrailingBytes).decodeDocument(Array(data))
        else { return nil }
        return document.range(atPath: ["info"])
    }
}
