import Foundation
import LocalDiscovery
import Metainfo
import SwarmPrimitives
import Testing
import TestSupport

/// Interop with Transmission 3.00's local peer discovery ("LPD", libtransmission/tr-lpd.c; Debian's transmission-cli),
/// both directions, public torrent, no tracker reachable, no DHT, no PEX: BEP 14 is the only way the two can meet.
///
/// Transmission sends its announcements with multicast loop off, so a process in its own namespace never hears
/// them: it runs in a second namespace (``TransmissionSide``) that holds the other end of the lab's veth pair, and
/// swtorrent stays in the lab's namespace with discovery on its end. Transmission joins the group on `INADDR_ANY` and
/// sends without `IP_MULTICAST_IF`, so the kernel picks the interface by route: its namespace gets a route for
/// 224.0.0.0/4 on the veth (a LAN host has one through its default route; without it Transmission logs
/// `LPD initialisation failed (errno = 19)` and runs without LPD). Nothing leaves the two namespaces.
///
/// Transmission's timing (tr-lpd.c): an upkeep tick every 5 s sends at most one torrent's announcement, the first
/// 5 s after start, then every 4 min for a download and every 8 min for a seed; it discards every datagram it
/// receives before its first tick (its flood counter starts at 0), then takes at most 50 per 5 s.
extension LocalDiscoveryLabTests {
    /// The second namespace, joined to the lab's namespace by the lab's veth pair (its host end moved here, at the
    /// lab's host address), and Transmission's config in the lab's directory. `remove()` (also run by `deinit`)
    /// deletes the namespace, which deletes the veth pair with it.
    final class TransmissionSide {
        let name: String
        /// Transmission's address: the lab's host address, now on this namespace's end of the veth.
        let address: String
        let config: String
        let finished: String
        private let lab: Lab
        private var removed = false

        /// The side, or the test is cancelled (DID NOT RUN) where transmission-cli is missing (fails under
        /// SWTORRENT_REQUIRE_ALL=1).
        static func make(_ test: String, _ lab: Lab) throws -> TransmissionSide {
            guard (try? TestProcess.resolve("transmission-cli")) != nil else {
                let why = "transmission-cli is not installed (scripts/install-deps.sh installs it)"
                try Conformance.labMissing(test, why)
                try Test.cancel("DID NOT RUN: \(why)")
            }
            return try TransmissionSide(lab)
        }

        private init(_ lab: Lab) throws {
            self.lab = lab
            name = lab.namespace.name + "-tr"
            address = lab.namespace.hostAddress
            let interface = lab.namespace.hostInterface
            config = lab.dir.path + "/transmission"
            finished = lab.dir.path + "/transmission-finished"
            let steps: [[String]] = [
                ["netns", "add", name],
                ["link", "set", interface, "netns", name],
                ["-n", name, "addr", "add", "\(address)/30", "dev", interface],
                ["-n", name, "link", "set", interface, "up"],
                ["-n", name, "link", "set", "lo", "up"],
                ["-n", name, "route", "add", "224.0.0.0/4", "dev", interface],
            ]
            for step in steps {
                let result = try TestProcess.run("ip", step, timeout: 10)
                guard result.exitCode == 0 else {
                    remove()
                    throw HarnessError("ip \(step.joined(separator: " ")): \(result.stderr)")
                }
            }
            try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
            // LPD on; no DHT, PEX, µTP, port mapping or RPC. message-level 3 (debug) logs LPD's announcements and
            // the peers it learns, on stderr.
            let settings = """
                {"dht-enabled": false, "lpd-enabled": true, "pex-enabled": false, "utp-enabled": false,
                 "port-forwarding-enabled": false, "blocklist-enabled": false, "rpc-enabled": false, "encryption": 0,
                 "rename-partial-files": true, "speed-limit-up-enabled": false, "speed-limit-down-enabled": false,
                 "message-level": 3}
                """
            try Data(settings.utf8).write(to: URL(fileURLWithPath: config + "/settings.json"))
            let script = lab.dir.path + "/transmission-finished.sh"
            try Data("#!/bin/sh\necho \"$TR_TORRENT_NAME\" > '\(finished)'\n".utf8)
                .write(to: URL(fileURLWithPath: script))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        }

        /// transmission-cli in this namespace on the lab's torrent, its data in `directory` (a seed when the content
        /// is there), listening on a port of its own; its finish script marks completion.
        func start(directory: String) throws -> BackgroundProcess {
            try BackgroundProcess(
                "ip",
                ["netns", "exec", name, try TestProcess.resolve("transmission-cli").path, "-w", directory, "-g", config,
                 "-p", "\(try TestFiles.freePort())", "-et", "-M", "-B", "-f",
                 lab.dir.path + "/transmission-finished.sh", lab.torrent],
                name: "transmission", logDirectory: lab.dir)
        }

        /// Waits (30 s at most) until `transmission` has sent its first announcement: its first upkeep tick has
        /// passed, so it takes the datagrams it receives from then on.
        func waitForFirstAnnouncement(_ transmission: BackgroundProcess) -> Bool {
            TestFiles.waitUntil(timeout: 30) { transmission.stderr.contains("LPD announce message away") }
        }

        /// A Transmission leech into `tr`, waited for until it has sent its first announcement.
        func startLeech() throws -> BackgroundProcess {
            let leech = try start(directory: lab.dir.path + "/tr")
            #expect(waitForFirstAnnouncement(leech), "transmission: \(leech.stderr.suffix(2000))")
            return leech
        }

        /// Waits (60 s at most) for `leech`'s finish script, stops it, and checks its copy byte for byte.
        func expectLeechComplete(_ leech: BackgroundProcess, seed: BackgroundProcess) throws {
            let complete = TestFiles.waitUntil(timeout: 60) { FileManager.default.fileExists(atPath: finished) }
            leech.stop()
            #expect(complete, "transmission: \(leech.stderr.suffix(3000))\nseed: \(seed.stderr.suffix(2000))")
            let copy = try Data(contentsOf: URL(fileURLWithPath: lab.dir.path + "/tr/\(lab.name)"))
            #expect(copy == (try Data(contentsOf: URL(fileURLWithPath: lab.content))))
        }

        /// Deletes the namespace (and with it the veth pair) and says whether it is gone.
        @discardableResult func remove() -> Bool {
            if !removed {
                removed = true
                _ = try? TestProcess.run("ip", ["netns", "del", name], timeout: 10)
            }
            return !NetworkNamespace.exists(name)
        }

        deinit { remove() }
    }

    /// Interop, Transmission hears us: a Transmission leech completes from a swtorrent seed it can only have
    /// learned of through the seed's BEP 14 announcements. Transmission starts first and announces once (its next
    /// announcement is 4 min later), so the seed, started after, cannot hear it: Transmission's log names the seed's
    /// address as learned "from LPD", and every connection the seed has is `incoming`.
    @Test func transmissionHearsOurAnnouncements() throws {
        let lab = try Lab.make("transmissionHearsOurAnnouncements", private: false)
        let side = try TransmissionSide.make("transmissionHearsOurAnnouncements", lab)
        defer { side.remove() }
        let leech = try side.startLeech()
        defer { leech.stop() }
        let seed = try lab.startSeed()
        defer { seed.stop() }

        try side.expectLeechComplete(leech, seed: seed)
        let learned = Lab.lines(leech.stderr, "Learned 1 local peer from LPD")
        #expect(
            learned.contains { $0.contains("(\(lab.namespace.namespaceAddress):") }, "\(leech.stderr.suffix(3000))")
        #expect(seed.stderr.contains("[LocalDiscovery] announced"), "seed: \(seed.stderr.suffix(2000))")
        let connected = Lab.lines(seed.stderr, "peer connected")
        #expect(!connected.isEmpty && connected.allSatisfy { $0.contains("source=incoming") }, "\(connected)")
        seed.stop()
        #expect(side.remove(), "namespace \(side.name) is still there")
        #expect(lab.removeNamespace(), "namespace \(lab.namespace.name) is still there")
    }

    /// Interop, we hear Transmission: a swtorrent leech (no tracker, no `--peer`) completes from a Transmission
    /// seed whose only way to be found is Transmission's own announcement (no cookie, upper-case hex): the leech's
    /// discovery accepted it and reported the seed's address as a peer. (Transmission may hear the leech's last
    /// startup announcement after its own first tick and dial the leech, so a connection may be `incoming`; no
    /// other source exists.)
    @Test func weHearTransmissionsAnnouncements() throws {
        let lab = try Lab.make("weHearTransmissionsAnnouncements", private: false)
        let side = try TransmissionSide.make("weHearTransmissionsAnnouncements", lab)
        defer { side.remove() }
        let leech = try lab.startLeech(stallTimeout: "60s")
        defer { leech.stop() }
        let seed = try side.start(directory: lab.dir.path + "/seed")
        defer { seed.stop() }

        try lab.expectComplete(leech, seed: seed)
        #expect(side.waitForFirstAnnouncement(seed), "transmission: \(seed.stderr.suffix(2000))")
        let found = Lab.lines(leech.stderr, "local discovery found a peer")
        #expect(found.contains { $0.contains("peer=\(side.address):") }, "\(found)")
        let connected = Lab.lines(leech.stderr, "peer connected")
        #expect(
            !connected.isEmpty && connected.allSatisfy { $0.contains("source=lsd") || $0.contains("source=incoming") },
            "\(connected)")
        seed.stop()
        #expect(side.remove(), "namespace \(side.name) is still there")
        #expect(lab.removeNamespace(), "namespace \(lab.namespace.name) is still there")
    }

    /// Interop, a node that announces several torrents: our encoder's announcement of three torrents, the lab's last
    /// (as a seed daemon's would be), sent from the lab's namespace to the group by a plain UDP socket, names a
    /// swtorrent seed (started with `--no-lsd` and a known port, so these datagrams are its only announcement), and
    /// the Transmission leech completes from it. Transmission reads only the first `Infohash` of a datagram and drops
    /// one over 200 bytes: the three hashes must go out as three datagrams.
    @Test func transmissionHearsEachTorrentOfAnAnnouncementOfSeveral() throws {
        let lab = try Lab.make("transmissionHearsEachTorrentOfAnAnnouncementOfSeveral", private: false)
        let side = try TransmissionSide.make("transmissionHearsEachTorrentOfAnAnnouncementOfSeveral", lab)
        defer { side.remove() }
        let leech = try side.startLeech()
        defer { leech.stop() }
        let port = try TestFiles.freePort()
        let seed = try BackgroundProcess(
            "ip",
            try lab.namespace.command(
                try TestProcess.swtorrentBinary(),
                ["seed", lab.torrent, "--data", lab.dir.path + "/seed", "--no-tracker", "--port", "\(port)",
                 "--verbose", "--log-format", "text", "--no-lsd"]),
            name: "seed", logDirectory: lab.dir)
        defer { seed.stop() }
        // Listening and checked before it is named: Transmission waits long before it dials a peer that refused it.
        try #require(
            TestFiles.waitUntil(timeout: 30) { seed.stderr.contains("seeding: every piece is verified") },
            "seed: \(seed.stderr.suffix(2000))")

        let hashes = [
            try #require(InfoHash([UInt8](repeating: 0x11, count: 20))),
            try #require(InfoHash([UInt8](repeating: 0x22, count: 20))),
            try Torrent(contentsOfFile: lab.torrent).infoHash,
        ]
        let datagrams = try LSDAnnouncement(port: port, infoHashes: hashes, cookie: "5eed0001").encode(family: .ipv4)
        #expect(datagrams.count == 3 && datagrams.allSatisfy { $0.count <= 200 }, "\(datagrams.map(\.count))")
        try lab.multicast(datagrams)

        try side.expectLeechComplete(leech, seed: seed)
        let learned = Lab.lines(leech.stderr, "Learned 1 local peer from LPD")
        #expect(learned.contains { $0.contains("(\(lab.namespace.namespaceAddress):\(port))") }, "\(learned)")
        // The other two hashes reached it too, as torrents it does not have.
        #expect(Lab.lines(leech.stderr, "Cannot serve torrent #").count >= 2, "\(leech.stderr.suffix(3000))")
        seed.stop()
        #expect(side.remove(), "namespace \(side.name) is still there")
        #expect(lab.removeNamespace(), "namespace \(lab.namespace.name) is still there")
    }
}
