import Foundation
import Metainfo
import Testing
import TestSupport

/// Magnet links with local discovery as their only peer source (issue 13 item 4): a link with no `x.pe` and no
/// `tr=`, no tracker, no `--peer`. The leech's host announces the link's info-hash on BEP 14 while it fetches the info
/// dictionary, asks the peers it hears, and answers the peers that dial it for the info-hash; then the download runs
/// on the same host with the peers heard. The processes run in the lab's namespace with discovery on its veth end.
extension LocalDiscoveryLabTests {
    /// The lab's torrent as a magnet link that names no peer and no tracker.
    static func bareMagnet(_ lab: Lab) throws -> String {
        "magnet:?xt=urn:btih:\(try Torrent(contentsOfFile: lab.torrent).infoHash.hex)&dn=\(lab.name)"
    }

    /// The leech starts first and listens; the seed's first announcements name the info-hash, the leech dials the
    /// seed, takes the info dictionary from it (BEP 9) and downloads from it, every connection from local discovery.
    @Test func aMagnetLeechFetchesTheInfoDictionaryFromASeedLocalDiscoveryFound() throws {
        let lab = try Lab.make("aMagnetLeechFetchesTheInfoDictionaryFromASeedLocalDiscoveryFound", private: false)
        let leech = try lab.startLeech(stallTimeout: "60s", source: try Self.bareMagnet(lab))
        defer { leech.stop() }
        #expect(
            TestFiles.waitUntil(timeout: 10) { leech.stderr.contains("local discovery announces the magnet link's info-hash") },
            "\(leech.stderr.suffix(2000))")
        let seed = try lab.startSeed()
        defer { seed.stop() }

        try lab.expectComplete(leech, seed: seed)
        let seedAddress = "peer=\(lab.namespace.namespaceAddress):"
        let heard = Lab.lines(leech.stderr, "local discovery found a peer for the magnet link")
        #expect(heard.contains { $0.contains(seedAddress) }, "\(leech.stderr.suffix(3000))")
        let received = Lab.lines(leech.stderr, "metadata received")
        #expect(received.count == 1 && received.allSatisfy { $0.contains(seedAddress) }, "\(received)")
        #expect(leech.stdout.contains(#""event":"metadata""#) && leech.stdout.contains(#""result":"received""#), "\(leech.stdout.prefix(1000))")
        Lab.expectOnlyLocalDiscovery(leech, seed)
        seed.stop()
        #expect(lab.removeNamespace(), "namespace \(lab.namespace.name) is still there")
    }

    /// The seed has made its startup announcements (at 0, 2 and 6 s; the next would come 300 s later) before the
    /// magnet leech starts, so the leech cannot hear it. The seed hears the leech's announcement and dials it (a seed
    /// dials the peers local discovery finds); the leech's host routes that connection, for an info-hash it has no
    /// session for yet, to the metadata fetch, and the download then completes over the seed's next dial.
    @Test func aSeedDialsAMagnetLeechThatStartedAfterItsAnnouncements() throws {
        let lab = try Lab.make("aSeedDialsAMagnetLeechThatStartedAfterItsAnnouncements", private: false)
        let seed = try lab.startSeed()
        defer { seed.stop() }
        let announced = TestFiles.waitUntil(timeout: 40) {
            Lab.lines(seed.stderr, "[LocalDiscovery] announced").count >= 3
        }
        try #require(announced, "the seed's startup announcements: \(seed.stderr.suffix(2000))")
        let leech = try lab.startLeech(stallTimeout: "60s", source: try Self.bareMagnet(lab))
        defer { leech.stop() }

        try lab.expectComplete(leech, seed: seed)
        #expect(Lab.lines(leech.stderr, "local discovery found a peer").isEmpty, "\(leech.stderr.suffix(3000))")
        let received = Lab.lines(leech.stderr, "metadata received")
        #expect(received.count == 1 && received.allSatisfy { $0.contains("peer=\(lab.namespace.namespaceAddress):") }, "\(received)")
        let leechConnections = Lab.lines(leech.stderr, "peer connected")
        #expect(!leechConnections.isEmpty && leechConnections.allSatisfy { $0.contains("source=incoming") }, "\(leechConnections)")
        let seedConnections = Lab.lines(seed.stderr, "peer connected")
        #expect(!seedConnections.isEmpty && seedConnections.allSatisfy { $0.contains("source=lsd") }, "\(seedConnections)")
        seed.stop()
        #expect(lab.removeNamespace(), "namespace \(lab.namespace.name) is still there")
    }

    /// A private torrent's magnet link between two listed nodes (libtorrent cannot fetch the metadata of its SSL
    /// torrents by magnet link): the leech's host announces the info-hash, dials the seed it hears over TLS, and the
    /// info dictionary and every byte come from the seed by its key. An unlisted node that hears the same seed gets
    /// no info dictionary.
    @Test func aPrivateMagnetLinkIsFetchedOverTLSFromAListedSeedFoundByLocalDiscovery() throws {
        let lab = try Lab.make("aPrivateMagnetLinkIsFetchedOverTLSFromAListedSeedFoundByLocalDiscovery", private: true)
        let keys = try Keys(lab, nodes: ["seed-1", "leech-1", "stranger"])
        try keys.allowlist("fleet.allow", listing: ["seed-1", "leech-1"])
        try keys.allowlist("stranger.allow", listing: ["seed-1", "stranger"])
        let link = try Self.bareMagnet(lab)
        let leech = try lab.startLeech(stallTimeout: "60s", source: link, keys.node("leech-1", allow: "fleet.allow"))
        defer { leech.stop() }
        let stranger = try lab.startLeech(
            stallTimeout: "20s", out: "stranger-out", name: "lsd-stranger", source: link,
            keys.node("stranger", allow: "stranger.allow"))
        defer { stranger.stop() }
        let seed = try lab.startSeed(keys.node("seed-1", allow: "fleet.allow"))
        defer { seed.stop() }

        try lab.expectComplete(leech, seed: seed)
        let received = Lab.lines(leech.stderr, "metadata received")
        #expect(received.count == 1 && received.allSatisfy { $0.contains("peer=\(lab.namespace.namespaceAddress):") }, "\(received)")
        // The stranger heard the seed too, and got nothing: its fetch ends at the 120 s timeout at the latest;
        // stopping it now is enough to check it has no torrent file and no content.
        let heard = Lab.lines(stranger.stderr, "local discovery found a peer for the magnet link")
        #expect(heard.contains { $0.contains("peer=\(lab.namespace.namespaceAddress):") }, "\(stranger.stderr.suffix(3000))")
        #expect(!stranger.stderr.contains("metadata received"), "\(stranger.stderr.suffix(3000))")
        stranger.stop()
        let hash = try Torrent(contentsOfFile: lab.torrent).infoHash.hex
        #expect(!FileManager.default.fileExists(atPath: lab.dir.path + "/.stranger-out.swtorrent-gate/magnet/\(hash).torrent"))
        #expect(!FileManager.default.fileExists(atPath: lab.dir.path + "/stranger-out/\(lab.name)"))
        seed.stop()
        #expect(lab.removeNamespace(), "namespace \(lab.namespace.name) is still there")
    }

    /// With local discovery a magnet leech waits for peers (up to 120 s) even when none is known; the wait is part of
    /// the job: SIGINT ends it at once with exit 4 (interrupted), and `--deadline` with exit 11, as for a download.
    @Test func aMagnetLeechWaitingForPeersIsInterruptedBySIGINTAndByItsDeadline() throws {
        let lab = try Lab.make("aMagnetLeechWaitingForPeersIsInterruptedBySIGINTAndByItsDeadline", private: false)
        let link = try Self.bareMagnet(lab)
        let waiting = try lab.startLeech(stallTimeout: "60s", source: link)
        defer { waiting.stop() }
        #expect(TestFiles.waitUntil(timeout: 10) { waiting.stderr.contains("announces the magnet link's info-hash") })
        kill(waiting.pid, SIGINT)
        #expect(waiting.wait(timeout: 15) == 4, "\(waiting.stderr.suffix(2000))")
        #expect(waiting.stderr.contains("interrupted before the info dictionary arrived"), "\(waiting.stderr.suffix(2000))")
        #expect(waiting.stdout.contains(#""result":"interrupted""#), "\(waiting.stdout)")

        let late = try lab.startLeech(stallTimeout: "60s", out: "late-out", name: "lsd-late", source: link, ["--deadline", "3s"])
        defer { late.stop() }
        #expect(late.wait(timeout: 30) == 11, "\(late.stderr.suffix(2000))")
        #expect(late.stderr.contains("deadline 3.0 seconds passed before the download began"), "\(late.stderr.suffix(2000))")
        #expect(lab.removeNamespace(), "namespace \(lab.namespace.name) is still there")
    }
}
