import Foundation
import Metainfo
import TestSupport
import Testing

/// Magnet links end to end (BEP 9 `ut_metadata`): `swtorrent leech MAGNET` fetches the info dictionary from the
/// peers its `x.pe` names (a swtorrent seed, a libtorrent seed), then downloads through the gate; libtorrent fetches
/// it from a swtorrent seed; in a private swarm only listed nodes get it, over TLS. Real processes on loopback.
@Suite(.serialized) struct MagnetLeechTests {
    static func magnet(_ torrent: String, peers: [Int]) throws -> (link: String, infoHash: String) {
        let hash = try Torrent(contentsOfFile: torrent).infoHash.hex
        return ("magnet:?xt=urn:btih:\(hash)&dn=payload" + peers.map { "&x.pe=127.0.0.1:\($0)" }.joined(), hash)
    }

    static func leech(_ link: String, into out: String, stall: String = "30s", _ extra: [String] = []) throws
        -> ProcessResult
    {
        try TestProcess.swtorrent(
            ["leech", link, "--out", out, "--json", "--stall-timeout", stall, "--allow-unsigned", "--no-tracker"]
                + extra,
            timeout: 150)
    }

    @Test func magnetLeechFromASwtorrentSeed() throws {
        let swarm = try EngineInteropTests.Swarm()
        let port = try TestFiles.freePort()
        let seed = try swarm.seed(port: port)
        defer { seed.stop() }
        let (link, hash) = try Self.magnet(swarm.torrent.path, peers: [port])
        let result = try Self.leech(link, into: swarm.path("out"))
        #expect(result.exitCode == 0, "leech: \(result.stderr)")
        #expect(result.stderr.contains("magnet link: info dictionary received"), "\(result.stderr)")
        try swarm.expectDownloaded(into: swarm.path("out"))
        // The torrent written beside the output carries the fetched info dictionary: the same info-hash.
        let written = try Torrent(contentsOfFile: swarm.path(".out.swtorrent-gate/magnet/\(hash).torrent"))
        #expect(written.infoHash.hex == hash)
        #expect(written.infoBytes == (try Torrent(contentsOfFile: swarm.torrent.path)).infoBytes)
    }

    @Test func magnetLeechFromALibtorrentSeed() throws {
        let swarm = try EngineInteropTests.Swarm()
        let port = try TestFiles.freePort()
        let seed = try swarm.libtorrent("seed", save: swarm.path("seed"), port: port, peers: [], timeout: 120)
        defer { seed.stop() }
        // Listening comes before the torrent is added: wait for the script's `ready`.
        #expect(TestFiles.waitUntil(timeout: 15) { seed.stdout.contains("ready") }, "libtorrent seed: \(seed.stderr)")
        let (link, _) = try Self.magnet(swarm.torrent.path, peers: [port])
        let result = try Self.leech(link, into: swarm.path("out"))
        #expect(result.exitCode == 0, "leech: \(result.stderr)")
        try swarm.expectDownloaded(into: swarm.path("out"))
    }

    @Test func magnetLeechFindsTheSeedThroughItsTrackerAlone() throws {
        let swarm = try EngineInteropTests.Swarm()
        let tracker = try swarm.startTracker()
        defer { tracker.stop() }
        let port = try TestFiles.freePort()
        let seed = try swarm.seed(port: port, tracker: true)
        defer { seed.stop() }
        let (bare, _) = try Self.magnet(swarm.torrent.path, peers: [])
        let link = bare + "&tr=" + "http://127.0.0.1:\(swarm.trackerPort)/announce".addingPercentEncoding(
            withAllowedCharacters: .alphanumerics)!
        // The seed's first announce may not have reached opentracker yet: ask until it lists the seed (bounded).
        var result = try TestProcess.swtorrent(
            ["leech", link, "--out", swarm.path("out"), "--json", "--stall-timeout", "30s", "--allow-unsigned"],
            timeout: 150)
        for _ in 0..<5 where result.exitCode == 3 && result.stderr.contains("no peer to ask") {
            Thread.sleep(forTimeInterval: 1)
            result = try TestProcess.swtorrent(
                ["leech", link, "--out", swarm.path("out"), "--json", "--stall-timeout", "30s", "--allow-unsigned"],
                timeout: 150)
        }
        #expect(result.exitCode == 0, "leech: \(result.stderr)")
        try swarm.expectDownloaded(into: swarm.path("out"))
        // The torrent written for the link announces to the link's tracker.
        let written = try Torrent(contentsOfFile: swarm.path(".out.swtorrent-gate/magnet/\(bare.dropFirst(20).prefix(40)).torrent"))
        #expect(written.announce == "http://127.0.0.1:\(swarm.trackerPort)/announce")
    }

    @Test func libtorrentFetchesTheMetadataFromASwtorrentSeedByMagnet() throws {
        let swarm = try EngineInteropTests.Swarm()
        let port = try TestFiles.freePort()
        let seed = try swarm.seed(port: port)
        defer { seed.stop() }
        let (link, _) = try Self.magnet(swarm.torrent.path, peers: [])
        try Data(Self.libtorrentMagnetScript.utf8).write(to: URL(fileURLWithPath: swarm.path("lt-magnet.py")))
        let leech = try swarm.background(
            "/usr/bin/python3",
            [swarm.path("lt-magnet.py"), link, swarm.path("lt"), "\(try TestFiles.freePort())", "127.0.0.1:\(port)",
             "60"],
            name: "libtorrent-magnet")
        defer { leech.stop() }
        #expect(leech.wait(timeout: 70) == 0, "libtorrent magnet leech: \(leech.stdout) \(leech.stderr)")
        #expect(leech.stdout.contains("metadata"), "\(leech.stdout)")
        try swarm.expectDownloaded(into: swarm.path("lt"))
    }

    @Test func aMagnetLinkWithoutPeersOrWithAPeerThatDoesNotAnswerExitsThree() throws {
        let swarm = try EngineInteropTests.Swarm(size: 1 << 20)
        let closed = try TestFiles.freePort()
        let (link, hash) = try Self.magnet(swarm.torrent.path, peers: [closed])
        let result = try Self.leech(link, into: swarm.path("out"))
        #expect(result.exitCode == 3, "\(result.stderr)")
        #expect(result.stderr.contains("magnet link \(hash): info dictionary not received"), "\(result.stderr)")
        #expect(result.stderr.contains("127.0.0.1:\(closed): cannot connect"), "\(result.stderr)")
        let none = try Self.leech(try Self.magnet(swarm.torrent.path, peers: []).link, into: swarm.path("out"))
        #expect(none.exitCode == 3, "\(none.stderr)")
        #expect(none.stderr.contains("no peer to ask for the info dictionary"), "\(none.stderr)")
    }

    @Test func aPrivateMagnetOverTLSCompletesBetweenListedNodesAndAnUnlistedOrPlainNodeGetsNoMetadata() throws {
        let fleet = try PrivateSwarmTests.Fleet(nodes: ["seed-1", "leech-1", "stranger"])
        try fleet.allowlist("fleet.allow", listing: ["seed-1", "leech-1"])
        try fleet.allowlist("stranger.allow", listing: ["seed-1", "stranger"])
        let port = try TestFiles.freePort()
        let seed = try fleet.seed(port: port, fleet.node("seed-1", allow: "fleet.allow"))
        defer { seed.stop() }
        let (link, hash) = try Self.magnet(fleet.path("app.torrent"), peers: [port])

        let stranger = try Self.leech(
            link, into: fleet.path("stranger-out"), fleet.node("stranger", allow: "stranger.allow"))
        #expect(stranger.exitCode == 3, "\(stranger.stderr)")
        #expect(stranger.stderr.contains("info dictionary not received"), "\(stranger.stderr)")
        let plain = try Self.leech(link, into: fleet.path("plain-out"))
        #expect(plain.exitCode == 3, "\(plain.stderr)")
        #expect(plain.stderr.contains("info dictionary not received"), "\(plain.stderr)")
        for out in ["stranger-out", "plain-out"] {
            #expect(!FileManager.default.fileExists(atPath: fleet.path(".\(out).swtorrent-gate/magnet/\(hash).torrent")))
            #expect(!FileManager.default.fileExists(atPath: fleet.path("\(out)/app.bin")))
        }

        let listed = try Self.leech(link, into: fleet.path("out"), fleet.node("leech-1", allow: "fleet.allow"))
        #expect(listed.exitCode == 0, "\(listed.stderr)")
        #expect(try fleet.sha256(fleet.path("out/app.bin")) == fleet.expectedSHA256)
    }

    /// libtorrent adds a magnet link, dials the peer until it has the metadata and the whole torrent.
    static let libtorrentMagnetScript = """
        import sys, time, libtorrent as lt
        uri, save, port, peer, timeout = sys.argv[1:6]
        s = lt.session(dict(\(Libtorrent.sessionSettings), listen_interfaces='127.0.0.1:' + port, alert_mask=0))
        p = lt.parse_magnet_uri(uri)
        p.save_path = save
        h = s.add_torrent(p)
        host, pp = peer.rsplit(':', 1)
        said = False
        deadline = time.time() + float(timeout)
        while time.time() < deadline:
            st = h.status()
            if st.has_metadata and not said:
                print('metadata', flush=True)
                said = True
            if st.is_seeding:
                print('done', st.total_wanted_done, flush=True)
                sys.exit(0)
            if st.num_peers == 0:
                h.connect_peer((host, int(pp)))
            time.sleep(0.1)
        sys.exit(3)
        """
}
