import Foundation
import Operations
import TestSupport
import Testing

/// Third-party clients against a seed that runs private torrents over TLS (Docs/peer-tls.md): libtorrent (Debian's
/// python3-libtorrent) and aria2c speak plain BitTorrent, so they get nothing from a private torrent unless the
/// seed runs with `--allow-plain-peers`, and then they complete. Real clients, loopback, SHA-256 of the result.
@Suite(.serialized)
struct PrivateSwarmInteropTests {
    typealias Swarm = EngineInteropTests.Swarm

    /// A private torrent and a seed node key on its own allowlist.
    static func privateSwarm() throws -> (Swarm, [String]) {
        let swarm = try Swarm(size: 3 << 20, isPrivate: true)
        let key = try TestProcess.swtorrent(["keygen", "--out", swarm.path("seed.key"), "--name", "seed-1"], timeout: 30)
        guard key.exitCode == 0 else { throw HarnessError("keygen failed: \(key.stderr)") }
        try FileManager.default.copyItem(atPath: swarm.path("seed.key.pub"), toPath: swarm.path("fleet.allow"))
        return (swarm, ["--key", swarm.path("seed.key"), "--allow", swarm.path("fleet.allow")])
    }

    /// Whether `file` exists and holds exactly the seed's content.
    static func holdsContent(_ swarm: Swarm, _ file: String) throws -> Bool {
        guard FileManager.default.fileExists(atPath: file) else { return false }
        return try swarm.sha256(file) == swarm.sha256(swarm.content.path)
    }

    static func refusals(statusPort: Int) async throws -> [String: Int] {
        let response = try await EndpointClient.get(host: "127.0.0.1", port: statusPort, path: "/status")
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return object?["refusals"] as? [String: Int] ?? [:]
    }

    @Test func libtorrentGetsNothingFromAPrivateModeSeed() async throws {
        try TestProcess.requireTool("python3")
        let (swarm, node) = try Self.privateSwarm()
        let port = try TestFiles.freePort()
        let statusPort = try TestFiles.freePort()
        let seed = try swarm.seed(port: port, extra: node + ["--status", "\(statusPort)"])
        defer { seed.stop() }
        let leech = try swarm.libtorrent("leech", save: swarm.path("lt"), port: try TestFiles.freePort(), peers: [port], timeout: 10)
        defer { leech.stop() }
        #expect(leech.wait(timeout: 20) == 3, "libtorrent: \(leech.stdout) \(leech.stderr)")
        #expect(!leech.stdout.contains("done"))
        #expect(try !Self.holdsContent(swarm, swarm.path("lt/\(swarm.name)")))
        let refusals = try await Self.refusals(statusPort: statusPort)
        #expect((refusals["plain peer for a private torrent"] ?? 0) >= 1, "\(refusals)")
    }

    @Test func libtorrentCompletesWithAllowPlainPeers() throws {
        try TestProcess.requireTool("python3")
        let (swarm, node) = try Self.privateSwarm()
        let port = try TestFiles.freePort()
        let seed = try swarm.seed(port: port, extra: node + ["--allow-plain-peers"])
        defer { seed.stop() }
        let leech = try swarm.libtorrent("leech", save: swarm.path("lt"), port: try TestFiles.freePort(), peers: [port], timeout: 40)
        defer { leech.stop() }
        #expect(leech.wait(timeout: 45) == 0, "libtorrent: \(leech.stdout) \(leech.stderr)")
        try swarm.expectDownloaded(into: swarm.path("lt"))
    }

    /// aria2c learns of the seed from opentracker (it cannot be told a peer).
    @Test func aria2cGetsNothingFromAPrivateModeSeedAndCompletesWithAllowPlainPeers() throws {
        for allowPlain in [false, true] {
            let (swarm, node) = try Self.privateSwarm()
            let tracker = try swarm.startTracker()
            defer { tracker.stop() }
            let port = try TestFiles.freePort()
            let seed = try swarm.seed(port: port, tracker: true, extra: node + ["--verbose"] + (allowPlain ? ["--allow-plain-peers"] : []))
            defer { seed.stop() }
            usleep(500_000)
            let leech = try swarm.aria2c(save: swarm.path("aria"), port: try TestFiles.freePort(), seed: false)
            defer { leech.stop() }
            if allowPlain {
                #expect(leech.wait(timeout: 45) == 0, "aria2c: \(leech.stdout) \(leech.stderr)\nseed: \(seed.stderr)")
                try swarm.expectDownloaded(into: swarm.path("aria"))
            } else {
                // Still running after 12 s: it never got the data. Then stopped, its file is not the content.
                #expect(leech.wait(timeout: 12) == nil, "aria2c ended: \(leech.stdout) \(leech.stderr)")
                leech.stop()
                #expect(try !Self.holdsContent(swarm, swarm.path("aria/\(swarm.name)")))
                #expect(seed.stderr.contains("plain peer for a private torrent"), "\(seed.stderr)")
            }
        }
    }
}
