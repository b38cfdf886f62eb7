import Foundation
import Testing
import TestSupport

/// A mixed swarm on loopback: one libtorrent seed (Debian's python3-libtorrent), two `swtorrent leech`es and one
/// aria2c leecher, all finding each other through `swtorrent tracker` (a passkey announce URL, which third-party
/// clients use). The artifact is signed (`swtorrent make --sign`) and the swtorrent leechers download it through
/// the signature gate (`--trust`), so their audit records say which peers supplied the bytes.
@Suite(.serialized) struct MixedSwarmTests {
    static let passkey = "mixedSwarmPasskey0123456789abcdef"

    /// A libtorrent seed whose torrent upload is capped at `limit` bytes/s (a per-torrent limit, so it applies to
    /// loopback peers too) and which prints its payload upload total whenever it changes.
    static let seedScript = """
        import sys, time, libtorrent as lt
        torrent, save, port, limit, timeout = sys.argv[1:6]
        s = lt.session(dict(\(Libtorrent.sessionSettings), listen_interfaces='127.0.0.1:' + port, alert_mask=0))
        p = lt.add_torrent_params()
        p.ti = lt.torrent_info(torrent)
        p.save_path = save
        p.flags |= lt.torrent_flags.seed_mode
        h = s.add_torrent(p)
        h.set_upload_limit(int(limit))
        print('ready', s.listen_port(), flush=True)
        last = -1
        deadline = time.time() + float(timeout)
        while time.time() < deadline:
            st = h.status()
            if st.total_payload_upload != last:
                last = st.total_payload_upload
                print('uploaded', last, 'peers', st.num_peers, flush=True)
            time.sleep(0.2)
        """

    /// The last `uploaded N` line of the seed script's output.
    static func seedUploaded(_ stdout: String) -> Int? {
        stdout.split(separator: "\n").last { $0.hasPrefix("uploaded ") }.flatMap {
            Int($0.split(separator: " ")[1])
        }
    }

    @Test func libtorrentSeedTwoSwtorrentLeechersAndAnAria2cLeecherAllFinish() throws {
        // 6 MiB in 96 pieces of 64 KiB. The seed may upload at most 1 MiB/s, so the 18 MiB the three leechers need
        // in all cannot come from it alone within the test's bounds: they must trade pieces among themselves.
        let size = 6 << 20
        let seedLimit = 1 << 20
        let swarm = try EngineInteropTests.Swarm(size: size)
        try TestProcess.requireTool("aria2c")
        try TestProcess.requireTool("minisign")

        // Our tracker, with a passkey for all four clients.
        try Data("passkey \(Self.passkey) mixed-swarm\n".utf8).write(to: URL(fileURLWithPath: swarm.path("allow")))
        let tracker = try swarm.background(
            try TestProcess.swtorrentBinary(),
            ["tracker", "--listen", "127.0.0.1:\(swarm.trackerPort)", "--allow", swarm.path("allow"),
             "--interval", "3"],
            name: "swtorrent-tracker")
        defer { tracker.stop() }
        #expect(waitForPort(swarm.trackerPort), "tracker: \(tracker.stderr)")

        // A signed, private torrent announcing to the passkey URL, written over the swarm's unsigned one so the
        // swarm's helpers (aria2c) use it.
        let keyed = try TestProcess.run(
            "minisign", ["-G", "-W", "-f", "-p", swarm.path("m.pub"), "-s", swarm.path("m.key")], timeout: 30)
        #expect(keyed.exitCode == 0, "minisign -G: \(keyed.stderr)")
        let made = try TestProcess.swtorrent(
            ["make", swarm.content.path, "-a", "http://127.0.0.1:\(swarm.trackerPort)/\(Self.passkey)/announce",
             "--private", "--piece-length", "64K", "--no-date", "--sign", swarm.path("m.key"), "--force", "-o",
             swarm.torrent.path], timeout: 60)
        try #require(made.exitCode == 0, "swtorrent make: \(made.stderr)")

        try Data(Self.seedScript.utf8).write(to: URL(fileURLWithPath: swarm.path("seed.py")))
        let seedPort = try TestFiles.freePort()
        let seed = try swarm.background(
            "/usr/bin/python3",
            [swarm.path("seed.py"), swarm.torrent.path, swarm.path("seed"), "\(seedPort)", "\(seedLimit)", "90"],
            name: "libtorrent-seed")
        defer { seed.stop() }
        try #require(waitForPort(seedPort), "libtorrent seed did not listen: \(seed.stdout) \(seed.stderr)")

        // Two swtorrent leechers through the gate; each seeds for a few seconds after its release, then exits.
        let leechers = try ["a", "b"].map { name in
            try swarm.background(
                try TestProcess.swtorrentBinary(),
                ["leech", swarm.torrent.path, "--out", swarm.path(name), "--port", "\(try TestFiles.freePort())",
                 "--trust", swarm.path("m.pub"), "--audit-log", swarm.path("\(name).audit.jsonl"), "--json",
                 "--seed-after", "5s", "--stall-timeout", "40s"],
                name: "swtorrent-leech-\(name)")
        }
        defer { leechers.forEach { $0.stop() } }
        let aria2c = try swarm.aria2c(save: swarm.path("aria"), port: try TestFiles.freePort(), seed: false)
        defer { aria2c.stop() }

        let started = Date()
        let everyoneDone = TestFiles.waitUntil(timeout: 50) { !(leechers + [aria2c]).contains { $0.isRunning } }
        #expect(everyoneDone, "not everyone finished within 50 s")
        print("MixedSwarmTests: all three leechers exited after \(Int(-started.timeIntervalSinceNow)) s")
        #expect(aria2c.wait(timeout: 1) == 0, "aria2c: \(aria2c.stdout) \(aria2c.stderr)")
        try swarm.expectDownloaded(into: swarm.path("aria"), "aria2c")

        for (name, leech) in zip(["a", "b"], leechers) {
            #expect(leech.wait(timeout: 1) == 0, "leech \(name): \(leech.stderr)")
            #expect(leech.stderr.contains("released \(swarm.name)"), "leech \(name): \(leech.stderr)")
            try swarm.expectDownloaded(into: swarm.path(name), "swtorrent leech \(name)")

            // The audit record credits every byte to the peers that supplied it, over more than one connection.
            let audit = (try? String(contentsOfFile: swarm.path("\(name).audit.jsonl"), encoding: .utf8)) ?? ""
            let record = try #require(
                audit.split(separator: "\n").first.flatMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                }, "leech \(name): no audit record: \(audit)")
            #expect(record["result"] as? String == "released", "leech \(name): \(record)")
            #expect(record["sha256"] as? String == (try swarm.sha256(swarm.content.path)), "leech \(name)")
            let peers = record["peers"] as? [[String: Any]] ?? []
            #expect(peers.compactMap { $0["bytes"] as? Int }.reduce(0, +) == size, "leech \(name): \(peers)")
            #expect(peers.count >= 2, "leech \(name) got every byte over one connection: \(peers)")
        }

        // Everyone finished although the seed uploaded less than the three copies they needed.
        let uploaded = try #require(Self.seedUploaded(seed.stdout), "seed printed no totals: \(seed.stdout)")
        print("MixedSwarmTests: the libtorrent seed uploaded \(uploaded) bytes for 3 × \(size)")
        #expect(uploaded < 3 * size, "the leechers did not trade pieces: the seed uploaded \(uploaded) bytes")
    }
}
