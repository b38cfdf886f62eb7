import Foundation
import LocalDiscovery
import Metainfo
import Testing
import TestSupport

/// The seed daemon (`swtorrent seed --config FILE`) with local discovery on, as an appliance runs it: its config file
/// enables discovery on its interface, it runs in one namespace of a segment (``NetworkSegment``: a bridge, as a
/// rack's switch) and fleet nodes run in the others, with no tracker reachable and no `--peer`.
extension LocalDiscoveryLabTests {
    /// The appliance's config file, as an operator writes it: the seed's data, a watch directory holding the
    /// torrent, state, a status address, local discovery on the appliance's interface, debug log lines as text (the
    /// connections' sources are debug lines). Trackers stay enabled: the torrent's one tracker does not exist.
    static func writeDaemonConfig(_ lab: Lab, statusPort: Int) throws -> String {
        for sub in ["watch", "state"] {
            try FileManager.default.createDirectory(atPath: lab.dir.path + "/\(sub)", withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: lab.torrent, toPath: lab.dir.path + "/watch/release.torrent")
        let config = lab.dir.path + "/seed.yaml"
        let text = """
            # an appliance's config (LocalDiscoveryLabTests+Daemon)
            listen: 0.0.0.0:\(try TestFiles.freePort())
            data: [seed]
            watch:
              directory: watch
              interval: 200ms
            state: state
            status:
              listen: 127.0.0.1:\(statusPort)
            lsd:
              enabled: true
              interfaces: [\(lab.namespace.namespaceInterface)]
            log:
              level: debug
              format: text
            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: config))
        return config
    }

    /// The seed daemon in the lab's namespace with the config ``writeDaemonConfig(_:statusPort:)`` writes, waited
    /// for until it has sent its three startup announcements (at 0, 2 and 6 s; the next comes 300 s later).
    static func startDaemon(_ lab: Lab, statusPort: Int) throws -> BackgroundProcess {
        let config = try writeDaemonConfig(lab, statusPort: statusPort)
        // `--lsd` is the default and changes nothing here (the file enables discovery); it tells the test harness
        // that this run chooses discovery itself, so it does not add `--no-lsd` (TestProcess.withoutLocalDiscovery).
        let daemon = try BackgroundProcess(
            "ip", try lab.namespace.command(try TestProcess.swtorrentBinary(), ["seed", "--config", config, "--lsd"]),
            name: "lsd-daemon", logDirectory: lab.dir)
        let announced = TestFiles.waitUntil(timeout: 40) {
            Lab.lines(daemon.stderr, "[LocalDiscovery] announced").count >= 3 || !daemon.isRunning
        }
        guard announced && daemon.isRunning else {
            daemon.stop()
            throw HarnessError("the daemon's startup announcements: \(daemon.stderr.suffix(3000))")
        }
        return daemon
    }

    /// An appliance and two fleet nodes, each a host of its own on one segment. The first node starts before the
    /// appliance and hears its startup announcements; the second starts after them (the next is 300 s later), so
    /// it is served only because the daemon heard its announcement and dialled it. Both complete with verified,
    /// byte-identical copies; every connection on every side came from local discovery or was incoming; the
    /// daemon's `/status` `localDiscovery` object shows the torrent announced and the nodes it heard, and
    /// `/metrics` the same counts.
    @Test func theSeedDaemonServesFleetNodesItFoundByLocalDiscovery() throws {
        let lab = try Lab.make("theSeedDaemonServesFleetNodesItFoundByLocalDiscovery", private: false, neighbours: 2)
        let statusPort = try TestFiles.freePort()
        let early = try lab.startLeech(stallTimeout: "60s", out: "early", name: "lsd-early", in: lab.neighbours[0])
        defer { early.stop() }
        let daemon = try Self.startDaemon(lab, statusPort: statusPort)
        defer { daemon.stop() }
        let late = try lab.startLeech(stallTimeout: "60s", out: "late", name: "lsd-late", in: lab.neighbours[1])
        defer { late.stop() }

        try lab.expectComplete(early, seed: daemon, out: "early")
        try lab.expectComplete(late, seed: daemon, out: "late")
        Lab.expectOnlyLocalDiscovery(early, daemon)
        Lab.expectOnlyLocalDiscovery(late, daemon)
        let appliance = "peer=\(lab.namespace.namespaceAddress):"
        #expect(Lab.lines(early.stderr, "peer connected").contains { $0.contains(appliance) }, "\(early.stderr.suffix(2000))")
        // The late node heard no announcement of the appliance: its connection to it is the daemon's dial.
        let lateFromAppliance = Lab.lines(late.stderr, "peer connected").filter { $0.contains(appliance) }
        #expect(
            !lateFromAppliance.isEmpty && lateFromAppliance.allSatisfy { $0.contains("source=incoming") },
            "\(late.stderr.suffix(2000))")
        let lateAddress = "peer=\(lab.neighbours[1].namespaceAddress):"
        #expect(
            Lab.lines(daemon.stderr, "peer connected").contains { $0.contains(lateAddress) && $0.contains("source=lsd") },
            "\(daemon.stderr.suffix(3000))")

        let status = try lab.status(statusPort)
        let discovery = try #require(status["localDiscovery"] as? [String: Any], "\(status)")
        #expect(discovery["torrents"] as? Int == 1, "\(discovery)")
        #expect((discovery["sent"] as? Int ?? 0) >= 3, "\(discovery)")
        #expect((discovery["accepted"] as? Int ?? 0) >= 1, "\(discovery)")
        #expect((discovery["peersReported"] as? Int ?? 0) >= 1, "\(discovery)")
        #expect(discovery["dialsDeferred"] as? Int == 0, "two nodes are within the dial budget: \(discovery)")
        let torrents = try #require(status["torrents"] as? [[String: Any]], "\(status)")
        #expect(torrents.count == 1 && torrents.first?["state"] as? String == "seeding", "\(torrents)")
        let metrics = try lab.metrics(statusPort)
        #expect(metrics.stdout.contains("swtorrent_lsd_torrents 1"), "\(metrics.stdout.suffix(2000))")
        #expect(metrics.stdout.contains("swtorrent_lsd_dials_deferred_total 0"), "\(metrics.stdout.suffix(2000))")

        early.stop()
        late.stop()
        daemon.stop()
        #expect(lab.removeNamespace(), "the segment's namespaces are still there")
    }

    /// A host on the segment forges announcements of the appliance's torrent naming 40 ports of its own where
    /// nothing listens (4 a second, well under the 10 per one-second window the inbound filter takes from one source,
    /// so a stall of the daemon across a window boundary does not push them over; any it still drops as rate limited
    /// are taken off what is expected), then a fleet node starts. The daemon keeps 8 forged addresses at once (each
    /// newer one replaces the oldest, `/status` `addressesReplaced`), dials them one a round (one host) and holds the
    /// rest back (`dialsDeferred`), and the node, on another host, is still dialled and served at once.
    @Test func theSeedDaemonDialsForgedAnnouncementsOneARoundAndStillServesTheRack() throws {
        let lab = try Lab.make(
            "theSeedDaemonDialsForgedAnnouncementsOneARoundAndStillServesTheRack", private: false, neighbours: 2)
        let statusPort = try TestFiles.freePort()
        let daemon = try Self.startDaemon(lab, statusPort: statusPort)
        defer { daemon.stop() }
        let forger = lab.neighbours[0]
        let infoHash = try Torrent(contentsOfFile: lab.torrent).infoHash
        let forged = try (1...40).flatMap { index in
            try LSDAnnouncement(port: 20_000 + index, infoHashes: [infoHash], cookie: "f0f0f0f0").encode(family: .ipv4)
        }
        try lab.multicast(forged, from: forger, interval: 0.25)
        let node = try lab.startLeech(stallTimeout: "60s", out: "node", name: "lsd-node", in: lab.neighbours[1])
        defer { node.stop() }

        try lab.expectComplete(node, seed: daemon, out: "node")
        let nodeAddress = "peer=\(lab.neighbours[1].namespaceAddress):"
        #expect(
            Lab.lines(daemon.stderr, "peer connected").contains { $0.contains(nodeAddress) && $0.contains("source=lsd") },
            "\(daemon.stderr.suffix(3000))")
        let discovery = try #require(try lab.status(statusPort)["localDiscovery"] as? [String: Any])
        let rateLimited = (discovery["dropped"] as? [String: Int])?["rate limited"] ?? 0
        #expect(rateLimited <= 10, "4 a second from one host: \(discovery)")
        #expect((discovery["peersReported"] as? Int ?? 0) >= 41 - rateLimited, "\(discovery)")
        #expect((discovery["dialsDeferred"] as? Int ?? 0) >= 5, "one forged address a round: \(discovery)")
        let replaced = 30 - rateLimited
        #expect((discovery["addressesReplaced"] as? Int ?? 0) >= replaced, "8 forged kept at once: \(discovery)")
        let metrics = try lab.metrics(statusPort)
        let floors = [("swtorrent_lsd_dials_deferred_total", 5), ("swtorrent_lsd_addresses_replaced_total", replaced)]
        for (name, least) in floors {
            #expect(
                metrics.stdout.split(separator: "\n").contains { line in
                    line.hasPrefix(name + " ") && (Int(line.split(separator: " ")[1]) ?? 0) >= least
                }, "\(name): \(metrics.stdout.suffix(2000))")
        }
        // The forged addresses were dialled, and refused (nothing listens there).
        let refused = Lab.lines(daemon.stderr, "dial failed").filter { $0.contains("peer=\(forger.namespaceAddress):") }
        #expect(!refused.isEmpty, "\(daemon.stderr.suffix(3000))")

        node.stop()
        daemon.stop()
        #expect(lab.removeNamespace(), "the segment's namespaces are still there")
    }
}
