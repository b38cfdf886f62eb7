import Foundation
import Metainfo
import TestSupport
import Testing

/// `swtorrent make` against the reference tools: mktorrent must produce the same info-hash for a single file;
/// libtorrent and transmission-show must load a directory torrent and agree on its info-hash and files; a libtorrent
/// recheck of the original data must find it complete (and find a corrupted copy incomplete).
@Suite(.serialized)
struct MakeInteropTests {
    /// Debian's python3-libtorrent is installed for the system interpreter, not for a pyenv/venv one on PATH.
    static let python = "/usr/bin/python3"
    static let announce = "http://127.0.0.1:6969/announce"

    /// Runs `swtorrent make` and returns the info-hash it printed.
    static func make(_ arguments: [String]) throws -> String {
        let result = try TestProcess.swtorrent(["make"] + arguments, timeout: 60)
        #expect(result.exitCode == 0, "swtorrent make failed: \(result.stderr)")
        let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("info-hash: ") }
        let hash = try #require(
            line.map { String($0.dropFirst("info-hash: ".count)) }, "no info-hash in: \(result.stdout)"
        )
        #expect(result.stdout.contains("magnet:?xt=urn:btih:\(hash)"))
        // Progress goes to stderr only on a terminal; here stderr is a file.
        #expect(result.stderr.isEmpty)
        return hash
    }

    /// Runs a Python script with libtorrent; returns its stdout.
    static func python(_ script: String, _ arguments: [String], timeout: TimeInterval = 45) throws -> String {
        let result = try TestProcess.run(python, ["-c", script] + arguments, timeout: timeout)
        #expect(result.exitCode == 0 && !result.timedOut, "python failed: \(result.stderr)")
        return result.stdout
    }

    static let infoScript = """
        import json, sys, libtorrent as lt
        ti = lt.torrent_info(sys.argv[1])
        fs = ti.files()
        print(json.dumps({
            "hash": str(ti.info_hash()),
            "private": ti.priv(),
            "piece_length": ti.piece_length(),
            "files": [[fs.file_path(i), fs.file_size(i)] for i in range(fs.num_files())],
        }))
        """

    @Test(arguments: [false, true])
    func singleFileHasMktorrentsInfoHash(isPrivate: Bool) throws {
        try TestProcess.requireTool("mktorrent")
        let dir = try TestFiles.makeTemporaryDirectory("make-mktorrent")
        defer { TestFiles.cleanup(dir) }
        let file = dir.appendingPathComponent("release-1.2.3.tar")
        try TestFiles.writeRandomFile(file, size: 3 * 1024 * 1024 + 12_345, seed: 42)
        let ours = dir.appendingPathComponent("ours.torrent").path
        let theirs = dir.appendingPathComponent("theirs.torrent").path

        // 32 KiB pieces: mktorrent's -l takes the log2 (15).
        let privateFlag = isPrivate ? ["--private"] : []
        let hash = try Self.make(
            [file.path, "--announce", Self.announce, "--piece-length", "32K", "--output", ours] + privateFlag
        )
        let mk = try TestProcess.run(
            "mktorrent",
            ["-a", Self.announce, "-l", "15", "-o", theirs] + (isPrivate ? ["-p"] : []) + [file.path],
            timeout: 60
        )
        #expect(mk.exitCode == 0, "mktorrent failed: \(mk.stderr)")

        let info = try Self.python(Self.infoScript, [theirs])
        #expect(info.contains("\"hash\": \"\(hash)\""), "mktorrent: \(info), swtorrent: \(hash)")
        let ourInfo = try Self.python(Self.infoScript, [ours])
        #expect(ourInfo == info)
    }

    @Test func defaultPieceLengthIsLibtorrents() throws {
        let sizes: [Int64] = [1, 2_684_356, 50_000_000, 700_000_000, 3_000_000_000, 50_000_000_000, 800_000_000_000]
        let script = """
            import sys, libtorrent as lt
            for s in sys.argv[1:]:
                fs = lt.file_storage()
                fs.add_file("a", int(s))
                print(lt.create_torrent(fs).piece_length())
            """
        let lengths = try Self.python(script, sizes.map(String.init)).split(separator: "\n").compactMap { Int($0) }
        #expect(lengths == sizes.map { PieceLength.default(forTotalSize: $0) }, "libtorrent chose \(lengths)")

        // And the binary uses that rule when no --piece-length is given (3,000,000 bytes: 32 KiB).
        let dir = try TestFiles.makeTemporaryDirectory("make-default")
        defer { TestFiles.cleanup(dir) }
        let file = dir.appendingPathComponent("small.bin")
        try TestFiles.writeRandomFile(file, size: 3_000_000)
        let output = dir.appendingPathComponent("s.torrent").path
        let result = try TestProcess.swtorrent(["make", file.path, "--output", output])
        #expect(result.stdout.contains("92 pieces of 32768 bytes"), "\(result.stdout)")
    }

    @Test func directoryLoadsInLibtorrentAndTransmissionAndRechecksComplete() throws {
        try TestProcess.requireTool("transmission-show")
        let base = try TestFiles.makeTemporaryDirectory("make-dir")
        defer { TestFiles.cleanup(base) }
        let content = base.appendingPathComponent("artifacts")
        // Nested directories, an empty file, sizes that are not multiples of the 32 KiB piece length, a hidden file.
        let layout: [(String, Int)] = [
            ("bin/swtorrent", 1_500_001),
            ("bin/tools/helper", 70_000),
            ("docs/README", 1234),
            ("docs/empty.txt", 0),
            ("lib/libcore.so", 2_222_222),
            (".manifest", 99),
            ("z", 32_768),
        ]
        for (index, (path, size)) in layout.enumerated() {
            let url = content.appendingPathComponent(path)
            try makeDirectory(url.deletingLastPathComponent())
            try TestFiles.writeRandomFile(url, size: size, seed: UInt64(index + 100))
        }
        try makeDirectory(content.appendingPathComponent("empty-dir"))
        let torrent = base.appendingPathComponent("artifacts.torrent").path
        let hash = try Self.make(
            [content.path, "-a", Self.announce, "--private", "--piece-length", "32K", "-o", torrent]
        )

        // libtorrent: same info-hash, the files in our documented order (component-wise raw bytes), sizes.
        let info = try Self.python(Self.infoScript, [torrent])
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any])
        #expect(decoded["hash"] as? String == hash)
        #expect(decoded["private"] as? Bool == true)
        let files = try #require(decoded["files"] as? [[Any]])
        let expectedOrder = [".manifest", "bin/swtorrent", "bin/tools/helper", "docs/README", "docs/empty.txt",
                             "lib/libcore.so", "z"]
        #expect(files.compactMap { $0.first as? String } == expectedOrder.map { "artifacts/" + $0 })
        let sizes = Dictionary(uniqueKeysWithValues: layout)
        #expect(files.compactMap { $0.last as? Int } == expectedOrder.map { sizes[$0]! })

        // transmission-show: same hash, same files, private.
        let show = try TestProcess.run("transmission-show", [torrent], timeout: 30)
        #expect(show.exitCode == 0, "transmission-show failed: \(show.stderr)")
        #expect(show.stdout.contains("Hash: \(hash)"), "transmission-show: \(show.stdout)")
        #expect(show.stdout.contains("Private torrent"))
        for path in expectedOrder { #expect(show.stdout.contains("  artifacts/\(path) ("), "missing \(path)") }

        // A libtorrent recheck of the original data finds every piece.
        let recheck = """
            import sys, time, libtorrent as lt
            mask = lt.alert.category_t.status_notification | lt.alert.category_t.error_notification
            ses = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                              "enable_upnp": False, "enable_natpmp": False, "alert_mask": mask})
            atp = lt.add_torrent_params()
            atp.ti = lt.torrent_info(sys.argv[1])
            atp.save_path = sys.argv[2]
            atp.flags &= ~(lt.torrent_flags.seed_mode | lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
            h = ses.add_torrent(atp)
            checked = False
            deadline = time.time() + 30
            while not checked and time.time() < deadline:
                ses.wait_for_alert(200)
                checked = any(isinstance(a, lt.torrent_checked_alert) for a in ses.pop_alerts())
            s = h.status()
            print("checked=%s seeding=%s progress=%.4f pieces=%d/%d" % (checked, s.is_seeding, s.progress,
                  s.num_pieces, atp.ti.num_pieces()))
            """
        let complete = try Self.python(recheck, [torrent, base.path])
        #expect(complete.contains("checked=True seeding=True progress=1.0000"), "recheck: \(complete)")

        // Control: corrupt one byte and the same check must report missing data.
        let victim = content.appendingPathComponent("lib/libcore.so")
        let handle = try FileHandle(forUpdating: victim)
        try handle.seek(toOffset: 1_000_000)
        let original = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: 1_000_000)
        try handle.write(contentsOf: [original ^ 0xFF])
        try handle.close()
        let corrupted = try Self.python(recheck, [torrent, base.path])
        #expect(corrupted.contains("checked=True seeding=False"), "recheck: \(corrupted)")
        #expect(!corrupted.contains("progress=1.0000"))
    }

    @Test func refusesToOverwriteAndNamesMissingPaths() throws {
        let dir = try TestFiles.makeTemporaryDirectory("make-errors")
        defer { TestFiles.cleanup(dir) }
        let file = dir.appendingPathComponent("a.bin")
        try TestFiles.writeRandomFile(file, size: 50_000)
        let out = dir.appendingPathComponent("a.torrent").path
        _ = try Self.make([file.path, "-o", out])
        let again = try TestProcess.swtorrent(["make", file.path, "-o", out])
        #expect(again.exitCode == 3)
        #expect(again.stderr.contains("swtorrent make: \(out): already exists; use --force"))
        _ = try Self.make([file.path, "-o", out, "--force"])

        let missing = dir.appendingPathComponent("missing").path
        let result = try TestProcess.swtorrent(["make", missing])
        #expect(result.exitCode == 1)
        #expect(result.stderr.contains("swtorrent make: \(missing): cannot read: No such file or directory"))

        let emptyDir = dir.appendingPathComponent("empty")
        try makeDirectory(emptyDir)
        let empty = try TestProcess.swtorrent(["make", emptyDir.path])
        #expect(empty.exitCode == 2)
        #expect(empty.stderr.contains("\(emptyDir.path): directory has no files"))

        let badLength = try TestProcess.swtorrent(["make", file.path, "--piece-length", "48K"])
        #expect(badLength.exitCode == 2)
        #expect(badLength.stderr.contains("piece length 49152 is not a power of two"))
    }
}

/// Creates a directory and any missing parents.
private func makeDirectory(_ url: URL) throws {
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
}
