import Foundation
import TestSupport
import Testing

/// Issue 13 item 5: third-party clients use the seed daemon's HTTP mirror (`http.listen`) as a BEP 19 web seed and
/// complete from it alone: the daemon runs no tracker and no local discovery, and nobody is told its peer port, so
/// the only path to the data is `http://…/t/<info-hash>/`.
@Suite(.serialized)
struct MirrorWebSeedInteropTests {
    /// After a client completed: the mirror sent every byte, the peer side nothing.
    static func expectServedOverHTTPOnly(_ appliance: MirrorServerTests.Appliance, into out: String) throws {
        for name in MirrorServerTests.Appliance.sizes.keys {
            let copy = try Data(contentsOf: URL(fileURLWithPath: "\(out)/pkg/\(name)"))
            #expect(copy == (try appliance.bytes(name)), "\(name)")
        }
        let status = try appliance.status()
        let http = try #require(status["httpMirror"] as? [String: Any])
        #expect(((http["bytesServed"] as? NSNumber)?.intValue ?? 0) >= MirrorServerTests.Appliance.total, "\(http)")
        #expect((status["uploaded"] as? NSNumber)?.intValue == 0, "\(status)")
    }

    @Test(.timeLimit(.minutes(3)))
    func aria2cCompletesFromTheDaemonsMirrorAsItsWebSeed() throws {
        try TestProcess.requireTool("aria2c")
        let appliance = try MirrorServerTests.Appliance("mirror-aria2c", daemon: true)
        // The same info dictionary with the mirror as its url-list (url-list is outside the info-hash).
        let made = try TestProcess.swtorrent(
            ["make", appliance.path("data/pkg"), "--no-date", "--piece-length", "64K", "--web-seed", appliance.base,
             "-o", appliance.path("web.torrent")], timeout: 60)
        #expect(made.exitCode == 0, "\(made.stderr)")
        let result = try TestProcess.run(
            "aria2c",
            ["--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
             "--listen-port=\(try TestFiles.freePort())", "--dir=\(appliance.path("aria2c"))", "--seed-time=0",
             "--summary-interval=0", "--console-log-level=warn", "--check-integrity=true",
             appliance.path("web.torrent")],
            timeout: 120)
        #expect(result.exitCode == 0, "aria2c: \(result.stdout) \(result.stderr)")
        try Self.expectServedOverHTTPOnly(appliance, into: appliance.path("aria2c"))
    }

    /// A private torrent through a passkey URL (`/p/<passkey>/t/<info-hash>/`), the form a third-party client's
    /// web seed can hold: aria2c completes from it; the same torrent without the passkey gets nothing.
    @Test(.timeLimit(.minutes(3)))
    func aria2cCompletesAPrivateTorrentThroughAPasskeyWebSeed() throws {
        try TestProcess.requireTool("aria2c")
        let appliance = try MirrorServerTests.Appliance("mirror-aria2c-passkey", privateSwarm: true)
        let base = "http://127.0.0.1:\(appliance.httpPort)/p/\(MirrorServerTests.Appliance.passkey)/t/\(appliance.infoHash)/"
        func aria2c(webSeed: String, into out: String) throws -> ProcessResult {
            let made = try TestProcess.swtorrent(
                ["make", appliance.path("data/pkg"), "--no-date", "--piece-length", "64K", "--private", "--web-seed",
                 webSeed, "-o", appliance.path("\(out).torrent")], timeout: 60)
            #expect(made.exitCode == 0, "\(made.stderr)")
            return try TestProcess.run(
                "aria2c",
                ["--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
                 "--listen-port=\(try TestFiles.freePort())", "--dir=\(appliance.path(out))", "--seed-time=0",
                 "--summary-interval=0", "--console-log-level=warn", "--bt-stop-timeout=10",
                 appliance.path("\(out).torrent")],
                timeout: 120)
        }
        let refused = try aria2c(webSeed: appliance.base, into: "nopasskey")
        #expect(refused.exitCode != 0)
        // aria2c may have preallocated the file; it holds none of the data.
        let partial = FileManager.default.contents(atPath: appliance.path("nopasskey/pkg/a.bin"))
        #expect(partial != (try appliance.bytes("a.bin")))
        let result = try aria2c(webSeed: base, into: "aria2c")
        #expect(result.exitCode == 0, "aria2c: \(result.stdout) \(result.stderr)")
        try Self.expectServedOverHTTPOnly(appliance, into: appliance.path("aria2c"))
    }

    @Test(.timeLimit(.minutes(3)))
    func libtorrentCompletesFromTheDaemonsMirrorAddedAsURLSeed() throws {
        let appliance = try MirrorServerTests.Appliance("mirror-libtorrent", daemon: true)
        let script = """
            import sys, time, libtorrent as lt
            torrent, save, port, url, timeout = sys.argv[1:6]
            s = lt.session(dict(\(Libtorrent.sessionSettings), listen_interfaces='127.0.0.1:' + port, alert_mask=0))
            p = lt.add_torrent_params()
            p.ti = lt.torrent_info(torrent)
            p.save_path = save
            h = s.add_torrent(p)
            h.add_url_seed(url)
            deadline = time.time() + float(timeout)
            while time.time() < deadline:
                st = h.status()
                if st.is_seeding:
                    print('done', st.total_wanted_done, 'peers', st.num_peers, flush=True)
                    sys.exit(0)
                time.sleep(0.1)
            print('timeout', h.status().progress, flush=True)
            sys.exit(3)
            """
        try Data(script.utf8).write(to: appliance.dir.appendingPathComponent("lt.py"))
        let result = try TestProcess.run(
            "/usr/bin/python3",
            [appliance.path("lt.py"), appliance.path("pkg.torrent"), appliance.path("lt"), "\(try TestFiles.freePort())",
             appliance.base, "90"],
            timeout: 120)
        #expect(result.exitCode == 0, "libtorrent: \(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("done \(MirrorServerTests.Appliance.total)"), "\(result.stdout)")
        try Self.expectServedOverHTTPOnly(appliance, into: appliance.path("lt"))
    }
}
