import Foundation
import Metainfo
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `swtorrent seed` and `swtorrent leech` against each other and against real clients (libtorrent through
/// Debian's python3-libtorrent, aria2c), on loopback, with the downloaded bytes checked by SHA-256.
@Suite(.serialized) struct EngineInteropTests {
    /// A content file, a torrent for it and a directory for everything else.
    final class Swarm {
        let dir: URL
        let content: URL
        let torrent: URL
        let trackerPort: Int
        let name = "payload.bin"

        /// - Parameter isPrivate: the BEP 27 private flag (`mktorrent -p`).
        init(size: Int = 6 << 20, pieceLengthExponent: Int = 16, isPrivate: Bool = false) throws {
            dir = try TestFiles.makeTemporaryDirectory("swt-engine")
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("seed"), withIntermediateDirectories: true)
            content = dir.appendingPathComponent("seed/\(name)")
            try TestFiles.writeRandomFile(content, size: size, seed: UInt64(size))
            torrent = dir.appendingPathComponent("t.torrent")
            trackerPort = try TestFiles.freePort()
            try TestProcess.requireTool("mktorrent")
            let made = try TestProcess.run(
                "mktorrent",
                ["-l", "\(pieceLengthExponent)", "-a", "http://127.0.0.1:\(trackerPort)/announce", "-o", torrent.path]
                    + (isPrivate ? ["-p"] : []) + [content.path])
            guard made.exitCode == 0 else { throw HarnessError("mktorrent failed: \(made.stderr)") }
        }

        deinit { TestFiles.cleanup(dir) }

        func path(_ relative: String) -> String { dir.appendingPathComponent(relative).path }

        func sha256(_ path: String) throws -> String {
            let result = try TestProcess.run("sha256sum", [path], timeout: 30)
            return String(result.stdout.prefix(64))
        }

        /// Expects `directory/payload.bin` to hold exactly the seed's bytes.
        func expectDownloaded(into directory: String, _ comment: Comment? = nil) throws {
            let got = directory + "/" + name
            #expect(FileManager.default.fileExists(atPath: got), comment)
            #expect(try sha256(got) == sha256(content.path), comment)
        }

        func background(_ executable: String, _ arguments: [String], name: String) throws -> BackgroundProcess {
            try BackgroundProcess(executable, arguments, name: name, logDirectory: dir)
        }

        /// opentracker, which tracks only whitelisted info-hashes.
        func startTracker() throws -> BackgroundProcess {
            try TestProcess.requireTool("opentracker")
            let infoHash = try Torrent(contentsOfFile: torrent.path).infoHash.hex
            try Data((infoHash + "\n").utf8).write(to: dir.appendingPathComponent("whitelist"))
            let config = "listen.tcp_udp 127.0.0.1:\(trackerPort)\naccess.whitelist \(path("whitelist"))\n"
            try Data(config.utf8).write(to: dir.appendingPathComponent("opentracker.conf"))
            let tracker = try background("opentracker", ["-f", path("opentracker.conf")], name: "opentracker")
            #expect(waitForPort(trackerPort), "opentracker did not start: \(tracker.stderr)")
            return tracker
        }

        func seed(port: Int, tracker: Bool = false, extra: [String] = []) throws -> BackgroundProcess {
            let process = try background(
                try TestProcess.swtorrentBinary(),
                ["seed", torrent.path, "--data", path("seed"), "--port", "\(port)"] + (tracker ? [] : ["--no-tracker"])
                    + extra,
                name: "swtorrent-seed")
            #expect(waitForPort(port), "swtorrent seed did not listen: \(process.stderr)")
            return process
        }

        func leech(into out: String, peers: [Int], tracker: Bool = false, timeout: TimeInterval = 45) throws
            -> ProcessResult
        {
            try TestProcess.swtorrent(
                ["leech", torrent.path, "--out", out, "--json", "--stall-timeout", "30s", "--allow-unsigned"]
                    + peers.flatMap { ["--peer", "127.0.0.1:\($0)"] } + (tracker ? [] : ["--no-tracker"]),
                timeout: timeout)
        }

        func libtorrent(_ mode: String, save: String, port: Int, peers: [Int], timeout: Int) throws
            -> BackgroundProcess
        {
            try Data(Self.libtorrentScript.utf8).write(to: dir.appendingPathComponent("lt.py"))
            return try background(
                "/usr/bin/python3",
                [path("lt.py"), mode, torrent.path, save, "\(port)", peers.map { "127.0.0.1:\($0)" }.joined(separator: ","),
                 "\(timeout)"],
                name: "libtorrent-\(mode)")
        }

        func aria2c(save: String, port: Int, seed: Bool) throws -> BackgroundProcess {
            try TestProcess.requireTool("aria2c")
            return try background(
                "aria2c",
                ["--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
                 "--listen-port=\(port)", "--dir=\(save)", "--summary-interval=0", "--console-log-level=warn",
                 "--bt-tracker-connect-timeout=2", "--bt-tracker-timeout=5"]
                    + (seed ? ["--seed-ratio=0.0", "--check-integrity=true"] : ["--seed-time=0"]) + [torrent.path],
                name: "aria2c-\(seed ? "seed" : "leech")")
        }

        static let libtorrentScript = """
            import sys, time, libtorrent as lt
            mode, torrent, save, port, peers, timeout = sys.argv[1:7]
            s = lt.session(dict(\(Libtorrent.sessionSettings), listen_interfaces='127.0.0.1:' + port, alert_mask=0))
            p = lt.add_torrent_params()
            p.ti = lt.torrent_info(torrent)
            p.save_path = save
            if mode == 'seed':
                p.flags |= lt.torrent_flags.seed_mode
            h = s.add_torrent(p)
            def dial():
                for peer in filter(None, peers.split(',')):
                    host, pp = peer.rsplit(':', 1)
                    h.connect_peer((host, int(pp)))
            dial()
            print('ready', s.listen_port(), flush=True)
            deadline = time.time() + float(timeout)
            while time.time() < deadline:
                st = h.status()
                if mode == 'leech' and st.is_seeding:
                    print('done', st.total_wanted_done, flush=True)
                    sys.exit(0)
                if st.num_peers == 0:
                    dial()
                time.sleep(0.1)
            sys.exit(0 if mode == 'seed' else 3)
            """
    }

    static func lastJSON(_ stdout: String) -> [String: Any]? {
        guard let line = stdout.split(separator: "\n").last(where: { !$0.contains("\"event\":\"gate\"") }) else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }

    @Test func swtorrentSeedToSwtorrentLeech() throws {
        let swarm = try Swarm()
        let port = try TestFiles.freePort()
        let seed = try swarm.seed(port: port)
        defer { seed.stop() }
        let result = try swarm.leech(into: swarm.path("out"), peers: [port])
        #expect(result.exitCode == 0, "leech: \(result.stderr)")
        try swarm.expectDownloaded(into: swarm.path("out"))
        let last = Self.lastJSON(result.stdout)
        #expect(last?["event"] as? String == "complete")
        #expect(last?["piecesVerified"] as? Int == 96)

        // Run again into the same directory: everything is already there and verified, nothing is fetched.
        let again = try swarm.leech(into: swarm.path("out"), peers: [port])
        #expect(again.exitCode == 0)
        #expect(Self.lastJSON(again.stdout)?["downloaded"] as? Int == 0)
    }

    @Test func swtorrentSeedToLibtorrentLeech() throws {
        let swarm = try Swarm()
        let port = try TestFiles.freePort()
        let seed = try swarm.seed(port: port)
        defer { seed.stop() }
        let leech = try swarm.libtorrent("leech", save: swarm.path("lt"), port: try TestFiles.freePort(), peers: [port], timeout: 40)
        defer { leech.stop() }
        #expect(leech.wait(timeout: 45) == 0, "libtorrent leech: \(leech.stdout) \(leech.stderr)")
        try swarm.expectDownloaded(into: swarm.path("lt"))
    }

    @Test func libtorrentSeedToSwtorrentLeech() throws {
        let swarm = try Swarm()
        let port = try TestFiles.freePort()
        let seed = try swarm.libtorrent("seed", save: swarm.path("seed"), port: port, peers: [], timeout: 60)
        defer { seed.stop() }
        #expect(waitForPort(port), "libtorrent seed did not listen: \(seed.stderr)")
        let result = try swarm.leech(into: swarm.path("out"), peers: [port])
        #expect(result.exitCode == 0, "leech: \(result.stderr)")
        try swarm.expectDownloaded(into: swarm.path("out"))
    }

    @Test func aria2cSeedToSwtorrentLeech() throws {
        let swarm = try Swarm()
        let port = try TestFiles.freePort()
        let seed = try swarm.aria2c(save: swarm.path("seed"), port: port, seed: true)
        defer { seed.stop() }
        #expect(waitForPort(port, timeout: 20), "aria2c seed did not listen: \(seed.stdout)")
        let result = try swarm.leech(into: swarm.path("out"), peers: [port])
        #expect(result.exitCode == 0, "leech: \(result.stderr)")
        try swarm.expectDownloaded(into: swarm.path("out"))
    }

    /// aria2c cannot be told a peer: it learns of the seed from a tracker (opentracker), which the seed announces to.
    @Test func swtorrentSeedToAria2cLeechThroughATracker() throws {
        let swarm = try Swarm()
        let tracker = try swarm.startTracker()
        defer { tracker.stop() }
        let port = try TestFiles.freePort()
        let seed = try swarm.seed(port: port, tracker: true)
        defer { seed.stop() }
        // The seed announces when it starts; give it a moment before aria2c asks the tracker.
        usleep(500_000)
        let leech = try swarm.aria2c(save: swarm.path("aria"), port: try TestFiles.freePort(), seed: false)
        defer { leech.stop() }
        #expect(leech.wait(timeout: 45) == 0, "aria2c: \(leech.stdout) \(leech.stderr)\nseed: \(seed.stderr)")
        try swarm.expectDownloaded(into: swarm.path("aria"))
    }

    /// The leech learns of the seed from the tracker only (no --peer).
    @Test func swtorrentLeechFindsSeedThroughATracker() throws {
        let swarm = try Swarm()
        let tracker = try swarm.startTracker()
        defer { tracker.stop() }
        let port = try TestFiles.freePort()
        let seed = try swarm.seed(port: port, tracker: true)
        defer { seed.stop() }
        usleep(500_000)
        let result = try swarm.leech(into: swarm.path("out"), peers: [], tracker: true)
        #expect(result.exitCode == 0, "leech: \(result.stderr)")
        try swarm.expectDownloaded(into: swarm.path("out"))
    }

    /// A multi-file torrent goes to OUT/NAME/...; a leech that keeps seeding (--seed-after) serves a second leech
    /// after the original seed is gone.
    @Test func multiFileTorrentAndSeedAfter() throws {
        let dir = try TestFiles.makeTemporaryDirectory("swt-engine-multi")
        defer { TestFiles.cleanup(dir) }
        let content = dir.appendingPathComponent("seed/release")
        try FileManager.default.createDirectory(
            at: content.appendingPathComponent("bin"), withIntermediateDirectories: true)
        let files = ["bin/tool": 1_000_003, "README": 777, "data.tar": 3 << 20]
        for (index, (name, size)) in files.sorted(by: { $0.key < $1.key }).enumerated() {
            try TestFiles.writeRandomFile(content.appendingPathComponent(name), size: size, seed: UInt64(index + 11))
        }
        let torrent = dir.appendingPathComponent("multi.torrent").path
        let made = try TestProcess.run(
            "mktorrent", ["-l", "16", "-a", "http://127.0.0.1:1/announce", "-o", torrent, content.path])
        #expect(made.exitCode == 0, "\(made.stderr)")
        let seedPort = try TestFiles.freePort()
        let seed = try BackgroundProcess(
            try TestProcess.swtorrentBinary(),
            ["seed", torrent, "--data", dir.appendingPathComponent("seed").path, "--port", "\(seedPort)",
             "--no-tracker"], name: "seed", logDirectory: dir)
        defer { seed.stop() }
        #expect(waitForPort(seedPort), "seed: \(seed.stderr)")
        let firstPort = try TestFiles.freePort()
        let first = try BackgroundProcess(
            try TestProcess.swtorrentBinary(),
            ["leech", torrent, "--out", dir.appendingPathComponent("a").path, "--port", "\(firstPort)", "--peer",
             "127.0.0.1:\(seedPort)", "--no-tracker", "--json", "--seed-after", "40s", "--allow-unsigned"], name: "leech-a",
            logDirectory: dir)
        defer { first.stop() }
        let firstDone = TestFiles.waitUntil(timeout: 30) { first.stdout.contains("\"complete\":true") }
        #expect(firstDone, "first leech: \(first.stderr)")
        seed.stop()
        let second = try TestProcess.swtorrent(
            ["leech", torrent, "--out", dir.appendingPathComponent("b").path, "--peer", "127.0.0.1:\(firstPort)",
             "--no-tracker", "--json", "--stall-timeout", "20s", "--allow-unsigned"], timeout: 40)
        #expect(second.exitCode == 0, "second leech: \(second.stderr)")
        for name in files.keys {
            let original = try TestProcess.run("sha256sum", [content.appendingPathComponent(name).path]).stdout.prefix(64)
            for out in ["a", "b"] {
                let copy = dir.appendingPathComponent("\(out)/release/\(name)").path
                let got = try TestProcess.run("sha256sum", [copy]).stdout.prefix(64)
                #expect(got == original, "\(out)/release/\(name)")
            }
        }
        first.stop()
        #expect(first.wait(timeout: 10) == 0, "a leech stopped while seeding after completion exits 0")
    }

    /// Against our own tracker: seed and leech sign their announces with node keys (--key) and find each other;
    /// a leech without a key is refused by the tracker and gives up after its stall timeout (exit 3).
    @Test func signedAnnouncesThroughSwtorrentTracker() throws {
        let swarm = try Swarm(size: 2 << 20)
        let key = swarm.path("node.key")
        let made = try TestProcess.swtorrent(["keygen", "--out", key, "--name", "node-1"], timeout: 30)
        #expect(made.exitCode == 0, "\(made.stderr)")
        try FileManager.default.copyItem(atPath: key + ".pub", toPath: swarm.path("allowlist"))
        let tracker = try swarm.background(
            try TestProcess.swtorrentBinary(),
            ["tracker", "--listen", "127.0.0.1:\(swarm.trackerPort)", "--allow", swarm.path("allowlist")],
            name: "swtorrent-tracker")
        defer { tracker.stop() }
        #expect(waitForPort(swarm.trackerPort), "tracker: \(tracker.stderr)")
        let port = try TestFiles.freePort()
        let seed = try swarm.seed(port: port, tracker: true, extra: ["--key", key])
        defer { seed.stop() }
        usleep(500_000)
        let refused = try TestProcess.swtorrent(
            ["leech", swarm.torrent.path, "--out", swarm.path("nokey"), "--json", "--stall-timeout", "4s", "--allow-unsigned"], timeout: 30)
        #expect(refused.exitCode == 3, "an unsigned leech finds no peer: \(refused.stderr)")
        let result = try TestProcess.swtorrent(
            ["leech", swarm.torrent.path, "--out", swarm.path("out"), "--json", "--stall-timeout", "20s", "--key", key, "--allow-unsigned"],
            timeout: 40)
        #expect(result.exitCode == 0, "signed leech: \(result.stderr)\nseed: \(seed.stderr)")
        try swarm.expectDownloaded(into: swarm.path("out"))
    }

    @Test func seedRefusesADirectoryWithoutTheData() throws {
        let swarm = try Swarm(size: 1 << 20)
        try FileManager.default.createDirectory(atPath: swarm.path("empty"), withIntermediateDirectories: true)
        let result = try TestProcess.swtorrent(
            ["seed", swarm.torrent.path, "--data", swarm.path("empty"), "--no-tracker"], timeout: 30)
        #expect(result.exitCode == 3)
        #expect(result.stderr.contains("swtorrent seed:"))
        #expect(result.stderr.contains("0 of 16 pieces"))
    }

    @Test(arguments: [
        ["leech", "/nonexistent/x.torrent", "--out", "/tmp/x", "--allow-unsigned"],
        ["leech", "T", "--out", "/tmp/x", "--peer", "nocolon", "--allow-unsigned"],
        ["leech", "T", "--out", "/tmp/x", "--seed-after", "soon", "--allow-unsigned"],
        ["seed", "T", "--data", "/tmp", "--port", "70000"],
    ])
    func badArgumentsExitNonZero(arguments: [String]) throws {
        let swarm = try Swarm(size: 64 << 10)
        let args = arguments.map { $0 == "T" ? swarm.torrent.path : $0 }
        let result = try TestProcess.swtorrent(args, timeout: 30)
        #expect(result.exitCode != 0)
        #expect(!result.stderr.isEmpty)
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port` within `timeout` seconds.
func waitForPort(_ port: Int, timeout: TimeInterval = 15) -> Bool {
    TestFiles.waitUntil(timeout: timeout) { canConnect(port) }
}

/// Whether something accepts TCP connections on `host`:`port` (IPv4).
func canConnect(_ port: Int, host: String = "127.0.0.1") -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr(host)
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}
