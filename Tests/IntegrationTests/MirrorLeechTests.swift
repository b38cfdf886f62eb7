import Foundation
import TestSupport
import Testing

/// `swtorrent leech` from HTTP mirrors only (no peers, no tracker): `--mirror URL`, and the torrent's own web seeds
/// (`make --web-seed`, BEP 19 `url-list`); the file is released through the gate and the audit log credits the
/// mirror by URL.
@Suite struct MirrorLeechTests {
    static let size = (3 << 20) + 777

    /// A torrent of one random file (with `webSeeds` as its url-list) and a mirror serving the file.
    struct Setup {
        let dir: URL
        let server: FaultyHTTPServer

        init(_ label: String, webSeedFromServer: Bool = false) throws {
            dir = try TestFiles.makeTemporaryDirectory(label)
            let served = dir.appendingPathComponent("served")
            try FileManager.default.createDirectory(at: served, withIntermediateDirectories: true)
            try TestFiles.writeRandomFile(served.appendingPathComponent("payload.bin"), size: MirrorLeechTests.size)
            server = try FaultyHTTPServer(root: served, logDirectory: dir)
            var make = [
                "make", served.appendingPathComponent("payload.bin").path, "--no-date", "--piece-length", "64K", "-o",
                dir.appendingPathComponent("t.torrent").path,
            ]
            if webSeedFromServer { make += ["--web-seed", server.url + "payload.bin"] }
            let made = try TestProcess.swtorrent(make, timeout: 60)
            guard made.exitCode == 0 else { throw HarnessError("make: \(made.stderr)") }
        }

        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

        func leech(_ extra: [String]) throws -> ProcessResult {
            try TestProcess.swtorrent(
                ["leech", path("t.torrent"), "--out", path("out"), "--no-tracker", "--allow-unsigned", "--json",
                 "--stall-timeout", "60s"] + extra, timeout: 120)
        }

        /// The file arrived whole and the audit log's record for it names the mirror with every byte.
        func expectReleasedFromMirror(_ result: ProcessResult, url: String) throws {
            #expect(result.exitCode == 0, "\(result.stderr)")
            let released = try Data(contentsOf: dir.appendingPathComponent("out/payload.bin"))
            #expect(released == (try Data(contentsOf: dir.appendingPathComponent("served/payload.bin"))))
            let events = result.stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            let complete = try #require(events.first { $0["event"] as? String == "complete" })
            let mirrors = try #require(complete["mirrors"] as? [[String: Any]])
            #expect(mirrors.count == 1)
            #expect(mirrors.first?["url"] as? String == url)
            #expect(mirrors.first?["locality"] as? String == "lan")
            #expect((mirrors.first?["bytes"] as? NSNumber)?.intValue == MirrorLeechTests.size)
            #expect(complete["peers"] as? Int == 0)
            let audit = try String(contentsOf: dir.appendingPathComponent(".out.swtorrent-gate/audit.jsonl"), encoding: .utf8)
            let record = try #require(
                audit.split(separator: "\n").compactMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                }.last)
            let peers = try #require(record["peers"] as? [[String: Any]], "\(record)")
            #expect(peers.count == 1)
            #expect(peers.first?["peer"] as? String == url)
            #expect((peers.first?["bytes"] as? NSNumber)?.intValue == MirrorLeechTests.size)
        }

        func cleanup() {
            server.stop()
            TestFiles.cleanup(dir)
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func leechCompletesFromOneMirrorAloneAndTheAuditLogNamesIt() throws {
        let setup = try Setup("cli-mirror")
        defer { setup.cleanup() }
        let result = try setup.leech(["--mirror", setup.server.url])
        try setup.expectReleasedFromMirror(result, url: setup.server.url)
    }

    @Test(.timeLimit(.minutes(3)))
    func leechUsesTheTorrentsWebSeedUnlessToldNotTo() throws {
        let setup = try Setup("cli-webseed", webSeedFromServer: true)
        defer { setup.cleanup() }
        let ignored = try setup.leech(["--no-web-seeds", "--stall-timeout", "3s"])
        #expect(ignored.exitCode == 3, "\(ignored.stderr)")
        #expect(setup.server.requests.isEmpty)
        let result = try setup.leech([])
        try setup.expectReleasedFromMirror(result, url: setup.server.url + "payload.bin")
    }

    @Test(arguments: ["ftp://127.0.0.1/x", "127.0.0.1:80/x", "http://127.0.0.1/x?token=1"])
    func aMirrorThatIsNotAnHTTPURLIsRefusedByName(url: String) throws {
        let setup = try Setup("cli-badmirror")
        defer { setup.cleanup() }
        let result = try setup.leech(["--mirror", url])
        #expect(result.exitCode == 2)
        #expect(result.stderr.contains("--mirror: mirror '\(url)': expected an http:// or https:// URL"), "\(result.stderr)")
    }
}
