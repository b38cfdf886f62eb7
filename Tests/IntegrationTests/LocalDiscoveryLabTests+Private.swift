import Foundation
import Testing
import TestSupport

/// Local discovery for private torrents (issue 11 item 2, Docs/local-discovery.md#private-torrents): on only on
/// nodes whose peers authenticate by node key (`--key` and `--allow`, no `--allow-plain-peers`), and then every peer
/// it finds is dialled over TLS and admitted by its key. The processes run in the lab's namespace with discovery on
/// its veth end; no tracker and no `--peer`, so local discovery is the only way the nodes can meet.
extension LocalDiscoveryLabTests {
    /// Node keys made by `swtorrent keygen` in the lab's directory, and allowlists of them.
    struct Keys {
        let dir: URL

        init(_ lab: Lab, nodes: [String]) throws {
            dir = lab.dir
            for node in nodes {
                let made = try TestProcess.swtorrent(["keygen", "--out", path(node), "--name", node], timeout: 30)
                guard made.exitCode == 0 else { throw HarnessError("keygen \(node): \(made.stderr)") }
            }
        }

        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

        /// Writes the allowlist `name`, listing `nodes`.
        func allowlist(_ name: String, listing nodes: [String]) throws {
            let lines = try nodes.map { try String(contentsOfFile: path("\($0).pub"), encoding: .utf8) }
            try Data(lines.joined().utf8).write(to: URL(fileURLWithPath: path(name)))
        }

        /// `--key NODE --allow LIST`.
        func node(_ node: String, allow: String) -> [String] { ["--key", path(node), "--allow", path(allow)] }
    }

    /// Two listed nodes, no tracker: the leech finds the seed by local discovery and completes over TLS. Its
    /// connections came from `lsd`, and its audit log credits every byte to the seed by its allowlist name, which
    /// only a TLS handshake with the seed's listed key can have told it.
    @Test func listedNodesFindEachOtherAndTransferOverTLS() throws {
        let lab = try Lab.make("listedNodesFindEachOtherAndTransferOverTLS", private: true)
        let keys = try Keys(lab, nodes: ["seed-1", "leech-1"])
        try keys.allowlist("fleet.allow", listing: ["seed-1", "leech-1"])
        let audit = lab.dir.path + "/audit.jsonl"
        let leech = try lab.startLeech(
            stallTimeout: "60s", keys.node("leech-1", allow: "fleet.allow") + ["--audit-log", audit])
        defer { leech.stop() }
        let seed = try lab.startSeed(keys.node("seed-1", allow: "fleet.allow"))
        defer { seed.stop() }

        try lab.expectComplete(leech, seed: seed)
        Lab.expectOnlyLocalDiscovery(leech, seed)
        for process in [seed, leech] {
            #expect(
                process.stderr.contains("local discovery runs for this private torrent"),
                "\(process.name): \(process.stderr.suffix(2000))")
            #expect(process.stderr.contains("[LocalDiscovery] announced"), "\(process.name)")
        }
        let record = try #require(
            try String(contentsOfFile: audit, encoding: .utf8).split(separator: "\n").last.flatMap {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            })
        let peers = try #require(record["peers"] as? [[String: Any]], "\(record)")
        #expect(!peers.isEmpty && peers.allSatisfy { $0["name"] as? String == "seed-1" }, "\(peers)")
        #expect(peers.reduce(0) { $0 + ($1["bytes"] as? Int ?? 0) } == 3 << 20, "\(peers)")
        seed.stop()
        #expect(lab.removeNamespace(), "namespace \(lab.namespace.name) is still there")
    }

    /// A node with a key the seed does not list (it lists the seed itself, so it runs discovery for the private
    /// torrent): it hears the seed's announcement and dials it, and both ways the TLS handshake fails on its key.
    /// It gets no byte and stalls; the seed counts the refusals as `key not on the allowlist`.
    @Test func unlistedNodeHearsThePrivateTorrentButGetsNothing() throws {
        let lab = try Lab.make("unlistedNodeHearsThePrivateTorrentButGetsNothing", private: true)
        let keys = try Keys(lab, nodes: ["seed-1", "leech-1", "stranger"])
        try keys.allowlist("seed.allow", listing: ["seed-1", "leech-1"])
        try keys.allowlist("stranger.allow", listing: ["seed-1", "stranger"])
        let stranger = try lab.startLeech(
            stallTimeout: "12s", out: "stranger-out", name: "lsd-stranger",
            keys.node("stranger", allow: "stranger.allow"))
        defer { stranger.stop() }
        let statusPort = try TestFiles.freePort()
        let seed = try lab.startSeed(keys.node("seed-1", allow: "seed.allow") + ["--status", "\(statusPort)"])
        defer { seed.stop() }

        let exit = stranger.wait(timeout: 60)
        #expect(exit == 3, "the stranger should stall: \(stranger.stderr.suffix(3000))")
        #expect(
            stranger.stdout.contains("\"downloaded\":") && PrivateSwarmTests.downloaded(stranger.stdout) == 0,
            "\(stranger.stdout.suffix(1000))")
        #expect(!FileManager.default.fileExists(atPath: lab.dir.path + "/stranger-out/\(lab.name)"))
        // It heard the seed: the refusal is the key's, not a missed datagram.
        let found = Lab.lines(stranger.stderr, "local discovery found a peer")
        #expect(found.contains { $0.contains("peer=\(lab.namespace.namespaceAddress):") }, "\(stranger.stderr.suffix(3000))")

        let status = try TestProcess.run(
            "ip",
            try lab.namespace.command(try TestProcess.swtorrentBinary(), ["status", "\(statusPort)", "--json"]),
            timeout: 30)
        try #require(status.exitCode == 0, "swtorrent status: \(status.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let refusals = object["refusals"] as? [String: Int] ?? [:]
        #expect((refusals["key not on the allowlist"] ?? 0) >= 1, "\(refusals)\n\(seed.stderr.suffix(2000))")
        #expect(seed.isRunning, "\(seed.stderr.suffix(2000))")
        seed.stop()
        #expect(lab.removeNamespace(), "namespace \(lab.namespace.name) is still there")
    }

    /// BEP 27 where peers do not all authenticate: a seed with `--key --allow --allow-plain-peers` (plain peers
    /// admitted) and a leech with no key at all. Discovery runs on both, neither announces the private torrent and
    /// each logs why; the leech, which the seed would have served, learns of no peer and stalls.
    @Test func privateTorrentIsNotAnnouncedWithoutAuthenticatedPeers() throws {
        let lab = try Lab.make("privateTorrentIsNotAnnouncedWithoutAuthenticatedPeers", private: true)
        let keys = try Keys(lab, nodes: ["seed-1"])
        try keys.allowlist("seed.allow", listing: ["seed-1"])
        let leech = try lab.startLeech(stallTimeout: "10s")
        defer { leech.stop() }
        let seed = try lab.startSeed(keys.node("seed-1", allow: "seed.allow") + ["--allow-plain-peers"])
        defer { seed.stop() }
        #expect(TestFiles.waitUntil(timeout: 30) { seed.stderr.contains("local discovery running") })

        let exit = leech.wait(timeout: 60)
        #expect(exit == 3, "leech should stall: \(leech.stderr.suffix(3000))")
        #expect(leech.stdout.contains("\"event\":\"stalled\""), "\(leech.stdout.suffix(1000))")
        let reasons = [
            (seed, "--allow-plain-peers admits unauthenticated peers"),
            (leech, "a private torrent uses local discovery only on a node whose peers authenticate"),
        ]
        for (process, reason) in reasons {
            let off = Lab.lines(process.stderr, "local discovery is off for this private torrent")
            #expect(off.count == 1 && off.allSatisfy { $0.contains(reason) }, "\(process.name): \(off)")
            #expect(!process.stderr.contains("[LocalDiscovery] announced"), "\(process.name): \(process.stderr.suffix(2000))")
            #expect(!process.stderr.contains("local discovery found a peer"), "\(process.name)")
        }
        seed.stop()
        #expect(lab.removeNamespace(), "namespace \(lab.namespace.name) is still there")
    }
}
