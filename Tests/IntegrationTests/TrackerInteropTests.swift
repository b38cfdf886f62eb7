import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `swtorrent tracker` with real clients on loopback: aria2c and libtorrent (Debian's python3-libtorrent) given a
/// passkey announce URL find each other through our tracker and complete a transfer; with an unlisted or a
/// revoked passkey they get the failure reason and no peers.
@Suite(.serialized)
struct TrackerInteropTests {
    static let goodPasskey = "interopPasskeyAAAAAAAAAAAAAAAAAA"
    static let otherPasskey = "interopPasskeyBBBBBBBBBBBBBBBBBB"

    /// A tracker process, its allowlist, and a scratch directory.
    final class Lab {
        let dir: URL
        let trackerPort: Int
        let metricsPort: Int
        var tracker: BackgroundProcess?

        init() throws {
            dir = try TestFiles.makeTemporaryDirectory("swt-tracker-interop")
            trackerPort = try TestFiles.freePort()
            metricsPort = try TestFiles.freePort()
        }

        deinit {
            tracker?.stop()
            TestFiles.cleanup(dir)
        }

        func path(_ relative: String) -> String { dir.appendingPathComponent(relative).path }

        func writeAllowlist(_ text: String) throws {
            try Data(text.utf8).write(to: dir.appendingPathComponent("allowlist"))
        }

        func startTracker(interval: Int = 5) throws {
            let process = try BackgroundProcess(
                try TestProcess.swtorrentBinary(),
                [
                    "tracker", "--listen", "127.0.0.1:\(trackerPort)", "--allow", path("allowlist"),
                    "--metrics", "127.0.0.1:\(metricsPort)", "--interval", "\(interval)", "--log-level", "debug",
                ],
                name: "swtorrent-tracker", logDirectory: dir)
            tracker = process
            guard TestFiles.waitUntil(timeout: 10, { canConnect(port: metricsPort) }) else {
                throw HarnessError("tracker did not start: \(process.stderr)")
            }
        }

        /// A random content file under `seed/` and a private torrent for it announcing to `/<passkey>/announce`.
        func makeTorrent(passkey: String, name: String, size: Int = 3 << 20) throws -> (
            torrent: String, content: String
        ) {
            try FileManager.default.createDirectory(atPath: path("seed"), withIntermediateDirectories: true)
            let content = path("seed/\(name)")
            try TestFiles.writeRandomFile(URL(fileURLWithPath: content), size: size, seed: UInt64(size) ^ 0xabc)
            let torrent = path("\(name).torrent")
            try TestProcess.requireTool("mktorrent")
            let made = try TestProcess.run(
                "mktorrent",
                ["-p", "-l", "16", "-a", "http://127.0.0.1:\(trackerPort)/\(passkey)/announce", "-o", torrent, content])
            guard made.exitCode == 0 else { throw HarnessError("mktorrent failed: \(made.stderr)") }
            return (torrent, content)
        }

        /// One Prometheus sample from the tracker's /metrics, via curl.
        func metric(_ sample: String) throws -> Double? {
            let result = try TestProcess.run("curl", ["-s", "http://127.0.0.1:\(metricsPort)/metrics"], timeout: 10)
            for line in result.stdout.split(separator: "\n") where line.hasPrefix(sample + " ") {
                return Double(line.dropFirst(sample.count + 1))
            }
            return nil
        }

        func libtorrent(_ mode: String, torrent: String, save: String, port: Int, timeout: Int) throws
            -> BackgroundProcess
        {
            try Data(Self.libtorrentScript.utf8).write(to: dir.appendingPathComponent("lt.py"))
            return try BackgroundProcess(
                "/usr/bin/python3", [path("lt.py"), mode, torrent, save, "\(port)", "\(timeout)", path("reannounce")],
                name: "libtorrent-\(mode)", logDirectory: dir)
        }

        func aria2c(torrent: String, save: String, port: Int, extra: [String] = []) throws -> BackgroundProcess {
            try TestProcess.requireTool("aria2c")
            return try BackgroundProcess(
                "aria2c",
                [
                    "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
                    "--enable-peer-exchange=false",
                    "--listen-port=\(port)", "--dir=\(save)", "--summary-interval=0", "--console-log-level=notice",
                    "--bt-tracker-connect-timeout=3", "--bt-tracker-timeout=5", "--seed-time=0",
                    "--log=\(path("aria2.log"))", "--log-level=info",
                ] + extra + [torrent],
                name: "aria2c", logDirectory: dir)
        }

        /// libtorrent with SSRF mitigation off (our announce path is not `/announce`), no DHT/LSD/UPnP, printing
        /// tracker replies and errors; `reannounce` file present → forced re-announce.
        static let libtorrentScript = """
            import os, sys, time, libtorrent as lt
            mode, torrent, save, port, timeout, trigger = sys.argv[1:7]
            s = lt.session(dict(\(Libtorrent.sessionSettings), listen_interfaces='127.0.0.1:' + port,
                                alert_mask=lt.alert.category_t.tracker_notification
                                           | lt.alert.category_t.error_notification))
            p = lt.add_torrent_params()
            p.ti = lt.torrent_info(torrent)
            p.save_path = save
            if mode == 'seed':
                p.flags |= lt.torrent_flags.seed_mode
            h = s.add_torrent(p)
            print('ready', s.listen_port(), flush=True)
            deadline = time.time() + float(timeout)
            while time.time() < deadline:
                for a in s.pop_alerts():
                    if isinstance(a, lt.tracker_error_alert):
                        print('tracker-error', a.failure_reason(), '|', a.error_message(), flush=True)
                    elif isinstance(a, lt.tracker_reply_alert):
                        print('tracker-reply', a.num_peers, flush=True)
                if os.path.exists(trigger):
                    os.remove(trigger)
                    h.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
                st = h.status()
                if mode == 'leech' and st.is_seeding:
                    print('done', st.total_wanted_done, flush=True)
                    sys.exit(0)
                time.sleep(0.1)
            sys.exit(0 if mode != 'leech' else 3)
            """
    }

    @Test func aria2AndLibtorrentCompleteATransferThroughOurTracker() throws {
        let lab = try Lab()
        try lab.writeAllowlist("passkey \(Self.goodPasskey) interop-clients\n")
        try lab.startTracker()
        let (torrent, content) = try lab.makeTorrent(passkey: Self.goodPasskey, name: "artifact.bin")
        let seed = try lab.libtorrent(
            "seed", torrent: torrent, save: lab.path("seed"), port: try TestFiles.freePort(), timeout: 60)
        defer { seed.stop() }
        #expect(
            TestFiles.waitUntil(timeout: 15) { seed.stdout.contains("tracker-reply") }, "libtorrent: \(seed.stdout)")
        try FileManager.default.createDirectory(atPath: lab.path("out"), withIntermediateDirectories: true)
        let leech = try lab.aria2c(torrent: torrent, save: lab.path("out"), port: try TestFiles.freePort())
        defer { leech.stop() }
        let code = leech.wait(timeout: 60)
        #expect(code == 0, "aria2c: \(leech.stdout) \(leech.stderr)")
        let got = FileManager.default.contents(atPath: lab.path("out/artifact.bin"))
        #expect(got != nil && got == FileManager.default.contents(atPath: content), "downloaded bytes differ")
        #expect(try lab.metric("tracker_announces_total{kind=\"passkey\"}") ?? 0 >= 2)
        #expect(try lab.metric("tracker_refusals_total{cause=\"unknown_key\"}") == 0)
    }

    @Test func unlistedPasskeyGetsTheFailureReasonAndNoPeers() throws {
        let lab = try Lab()
        try lab.writeAllowlist("passkey \(Self.goodPasskey) interop-clients\n")
        try lab.startTracker()
        let (torrent, _) = try lab.makeTorrent(passkey: "notOnTheListXXXXXXXXXXXXXXXXXXXX", name: "secret.bin")
        try FileManager.default.createDirectory(atPath: lab.path("out"), withIntermediateDirectories: true)
        let aria2 = try lab.aria2c(
            torrent: torrent, save: lab.path("out"), port: try TestFiles.freePort(), extra: ["--bt-stop-timeout=8"])
        defer { aria2.stop() }
        let refused = TestFiles.waitUntil(timeout: 20) {
            let log = (try? String(contentsOfFile: lab.path("aria2.log"), encoding: .utf8)) ?? ""
            return log.contains("unknown passkey")
        }
        #expect(refused, "aria2c never reported the failure reason")
        let lt = try lab.libtorrent(
            "leech", torrent: torrent, save: lab.path("out"), port: try TestFiles.freePort(), timeout: 20)
        defer { lt.stop() }
        #expect(
            TestFiles.waitUntil(timeout: 15) { lt.stdout.contains("tracker-error unknown passkey") },
            "libtorrent: \(lt.stdout)")
        #expect(!lt.stdout.contains("tracker-reply"))
        #expect(try lab.metric("tracker_refusals_total{cause=\"unknown_key\"}") ?? 0 >= 2)
        #expect(try lab.metric("tracker_peers") == 0)
    }

    @Test func revokedPasskeyIsRefusedAndItsPeerNoLongerHandedOut() throws {
        let lab = try Lab()
        try lab.writeAllowlist("passkey \(Self.goodPasskey) a\npasskey \(Self.otherPasskey) b\n")
        try lab.startTracker()
        let (torrent, _) = try lab.makeTorrent(passkey: Self.goodPasskey, name: "release.bin")
        try FileManager.default.createDirectory(atPath: lab.path("out"), withIntermediateDirectories: true)
        let lt = try lab.libtorrent(
            "seed", torrent: torrent, save: lab.path("seed"), port: try TestFiles.freePort(), timeout: 40)
        defer { lt.stop() }
        #expect(TestFiles.waitUntil(timeout: 15) { lt.stdout.contains("tracker-reply") }, "libtorrent: \(lt.stdout)")
        #expect(try lab.metric("tracker_peers") == 1)

        try lab.writeAllowlist("passkey \(Self.otherPasskey) b\n")
        #expect(TestFiles.waitUntil(timeout: 2) { (try? lab.metric("tracker_peers")) == 0 }, "peer not purged")
        _ = FileManager.default.createFile(atPath: lab.path("reannounce"), contents: Data())
        #expect(
            TestFiles.waitUntil(timeout: 15) { lt.stdout.contains("tracker-error revoked passkey") },
            "libtorrent: \(lt.stdout)")
        #expect(try lab.metric("tracker_refusals_total{cause=\"revoked_key\"}") ?? 0 >= 1)
        #expect(try lab.metric("tracker_peers") == 0)
        #expect(lab.tracker?.stderr.contains("allowlist reloaded") == true)
    }
}

/// True if something accepts TCP connections on 127.0.0.1:`port`.
private func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}
