import Foundation
import Operations
import TestSupport
import Testing

/// Private swarms over TLS 1.3 (Docs/peer-tls.md), end to end: real `swtorrent seed` and `leech` processes with
/// node keys (`keygen`) and allowlists, real sockets on loopback, the downloaded bytes checked by SHA-256.
@Suite(.serialized)
struct PrivateSwarmTests {
    /// A private torrent of random content, node keys and allowlists in a temporary directory.
    final class Fleet {
        let dir: URL
        let size: Int

        init(size: Int = 3 << 20, nodes: [String]) throws {
            self.size = size
            dir = try TestFiles.makeTemporaryDirectory("private-swarm")
            try FileManager.default.createDirectory(atPath: path("seed"), withIntermediateDirectories: true)
            try TestFiles.writeRandomFile(URL(fileURLWithPath: path("seed/app.bin")), size: size, seed: 0x715)
            let made = try TestProcess.swtorrent(
                ["make", path("seed/app.bin"), "-a", "http://127.0.0.1:1/announce", "--no-date", "--private", "-o",
                 path("app.torrent")],
                timeout: 60)
            guard made.exitCode == 0 else { throw HarnessError("make failed: \(made.stderr)") }
            for node in nodes {
                let key = try TestProcess.swtorrent(["keygen", "--out", path(node), "--name", node], timeout: 30)
                guard key.exitCode == 0 else { throw HarnessError("keygen failed: \(key.stderr)") }
            }
        }

        deinit { TestFiles.cleanup(dir) }

        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

        /// Writes an allowlist `name` that lists `nodes` (their `.pub` lines) and returns its path.
        @discardableResult
        func allowlist(_ name: String, listing nodes: [String]) throws -> String {
            let lines = try nodes.map { try String(contentsOfFile: path("\($0).pub"), encoding: .utf8) }
            try Data(lines.joined().utf8).write(to: URL(fileURLWithPath: path(name)))
            return path(name)
        }

        /// `seed` with `extra` options; waits until it listens.
        func seed(port: Int, _ extra: [String]) throws -> BackgroundProcess {
            let seed = try BackgroundProcess(
                try TestProcess.swtorrentBinary(),
                ["seed", path("app.torrent"), "--data", path("seed"), "--port", "\(port)", "--no-tracker", "--verbose"]
                    + extra,
                name: "private-seed", logDirectory: dir)
            #expect(waitForPort(port), "the seed did not listen: \(seed.stderr)")
            return seed
        }

        /// `leech` from the seed at `port` into `out`, with `extra` options.
        func leech(_ out: String, port: Int, stall: String = "30s", _ extra: [String]) throws -> ProcessResult {
            try TestProcess.swtorrent(
                ["leech", path("app.torrent"), "--out", path(out), "--peer", "127.0.0.1:\(port)", "--no-tracker",
                 "--json", "--allow-unsigned", "--stall-timeout", stall] + extra,
                timeout: 90)
        }

        func node(_ name: String, allow: String) -> [String] {
            ["--key", path(name), "--allow", path(allow)]
        }

        var expectedSHA256: String {
            get throws { try sha256(path("seed/app.bin")) }
        }

        func sha256(_ file: String) throws -> String {
            String(try TestProcess.run("sha256sum", [file], timeout: 30).stdout.prefix(64))
        }

        /// The seed's refusals by reason, from its `/status`.
        func refusals(statusPort: Int) async throws -> [String: Int] {
            let response = try await EndpointClient.get(host: "127.0.0.1", port: statusPort, path: "/status")
            let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            return object?["refusals"] as? [String: Int] ?? [:]
        }
    }

    @Test func twoListedNodesCompleteAPrivateTransferOverTLS() throws {
        let fleet = try Fleet(nodes: ["seed-1", "leech-1"])
        try fleet.allowlist("fleet.allow", listing: ["seed-1", "leech-1"])
        let port = try TestFiles.freePort()
        let seed = try fleet.seed(port: port, fleet.node("seed-1", allow: "fleet.allow"))
        defer { seed.stop() }
        let leech = try fleet.leech(
            "out", port: port, fleet.node("leech-1", allow: "fleet.allow") + ["--audit-log", fleet.path("audit.jsonl")])
        #expect(leech.exitCode == 0, "\(leech.stderr)")
        #expect(try fleet.sha256(fleet.path("out/app.bin")) == fleet.expectedSHA256)
        #expect(seed.isRunning, "\(seed.stderr)")

        // The audit log credits the bytes to the seed by its allowlist name and key fingerprint, not only its address.
        let audit = try String(contentsOfFile: fleet.path("audit.jsonl"), encoding: .utf8)
        let record = try #require(
            audit.split(separator: "\n").last.flatMap {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            })
        let peers = try #require(record["peers"] as? [[String: Any]], "\(audit)")
        let seedLine = try String(contentsOfFile: fleet.path("seed-1.pub"), encoding: .utf8)
        let fingerprint = try #require(
            TestProcess.swtorrent(["keygen", "--fingerprint", fleet.path("seed-1.pub")], timeout: 30).stdout
                .split(separator: " ").first { $0.hasPrefix("SHA256:") }, "\(seedLine)")
        #expect(peers.count == 1, "\(peers)")
        #expect(peers.first?["peer"] as? String == "127.0.0.1:\(port)")
        #expect(peers.first?["name"] as? String == "seed-1")
        #expect(peers.first?["key"] as? String == String(fingerprint).trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(peers.first?["bytes"] as? Int == fleet.size)
    }

    @Test func anUnlistedOrPlainLeechIsRefusedByTheSeedAndGetsNoBytes() async throws {
        let fleet = try Fleet(nodes: ["seed-1", "leech-1", "stranger"])
        try fleet.allowlist("seed.allow", listing: ["seed-1", "leech-1"])
        // The stranger trusts the seed; the seed does not list the stranger.
        try fleet.allowlist("stranger.allow", listing: ["seed-1", "stranger"])
        let port = try TestFiles.freePort()
        let statusPort = try TestFiles.freePort()
        let seed = try fleet.seed(port: port, fleet.node("seed-1", allow: "seed.allow") + ["--status", "\(statusPort)"])
        defer { seed.stop() }
        #expect(waitForPort(statusPort), "\(seed.stderr)")

        let stranger = try fleet.leech("stranger-out", port: port, stall: "6s", fleet.node("stranger", allow: "stranger.allow"))
        #expect(stranger.exitCode == 3, "a stall is exit 3: \(stranger.stderr)")
        #expect(!FileManager.default.fileExists(atPath: fleet.path("stranger-out/app.bin")))
        #expect(stranger.stdout.contains("\"downloaded\":0"), "\(stranger.stdout)")

        // A plain BitTorrent leech (no key, no allowlist) is refused too.
        let plain = try fleet.leech("plain-out", port: port, stall: "6s", [])
        #expect(plain.exitCode == 3, "\(plain.stderr)")
        #expect(!FileManager.default.fileExists(atPath: fleet.path("plain-out/app.bin")))

        let refusals = try await fleet.refusals(statusPort: statusPort)
        #expect((refusals["key not on the allowlist"] ?? 0) >= 1, "\(refusals)")
        #expect((refusals["plain peer for a private torrent"] ?? 0) >= 1, "\(refusals)")
        #expect(seed.isRunning, "\(seed.stderr)")
    }

    @Test func aLeechRefusesToBeServedByASeedItDoesNotList() throws {
        let fleet = try Fleet(nodes: ["seed-1", "leech-1"])
        // The seed lists the leech; the leech's allowlist does not list the seed: it takes no byte from it.
        try fleet.allowlist("seed.allow", listing: ["seed-1", "leech-1"])
        try fleet.allowlist("leech.allow", listing: ["leech-1"])
        let port = try TestFiles.freePort()
        let seed = try fleet.seed(port: port, fleet.node("seed-1", allow: "seed.allow"))
        defer { seed.stop() }
        let leech = try fleet.leech("out", port: port, stall: "6s", fleet.node("leech-1", allow: "leech.allow"))
        #expect(leech.exitCode == 3, "\(leech.stderr)")
        #expect(!FileManager.default.fileExists(atPath: fleet.path("out/app.bin")))
        #expect(leech.stdout.contains("\"downloaded\":0"), "\(leech.stdout)")
    }
    @Test func aNodeRevokedMidTransferIsCutOffWithinASecondWhileAnotherKeepsGoing() async throws {
        let fleet = try Fleet(size: 8 << 20, nodes: ["seed-1", "leech-a", "leech-b"])
        try fleet.allowlist("seed.allow", listing: ["seed-1", "leech-a", "leech-b"])
        try fleet.allowlist("fleet.allow", listing: ["seed-1", "leech-a", "leech-b"])
        let port = try TestFiles.freePort()
        let statusPort = try TestFiles.freePort()
        // Throttled to 1 MiB/s so both downloads are under way when the allowlist changes.
        let seed = try fleet.seed(
            port: port,
            fleet.node("seed-1", allow: "seed.allow") + ["--upload-limit", "\(1 << 20)", "--status", "\(statusPort)"])
        defer { seed.stop() }
        func leech(_ name: String) throws -> BackgroundProcess {
            try BackgroundProcess(
                try TestProcess.swtorrentBinary(),
                ["leech", fleet.path("app.torrent"), "--out", fleet.path("\(name)-out"), "--peer", "127.0.0.1:\(port)",
                 "--no-tracker", "--json", "--allow-unsigned", "--stall-timeout", "60s"]
                    + fleet.node(name, allow: "fleet.allow"),
                name: name, logDirectory: fleet.dir)
        }
        let a = try leech("leech-a")
        defer { a.stop() }
        let b = try leech("leech-b")
        defer { b.stop() }
        let bothStarted = await TestFiles.waitUntilAsync(timeout: 30) {
            Self.downloaded(a.stdout) > 0 && Self.downloaded(b.stdout) > 0
        }
        #expect(bothStarted, "a: \(a.stderr) b: \(b.stderr)")
        #expect(Self.downloaded(a.stdout) < fleet.size, "leech-a finished before the revocation: slow the seed down")

        // Revoke leech-a: the seed's allowlist is replaced (atomically) by one without it.
        let revised = try String(contentsOfFile: fleet.path("seed-1.pub"), encoding: .utf8)
            + String(contentsOfFile: fleet.path("leech-b.pub"), encoding: .utf8)
        try Data(revised.utf8).write(to: URL(fileURLWithPath: fleet.path("seed.allow.new")))
        let revokedAt = Date()
        #expect(rename(fleet.path("seed.allow.new"), fleet.path("seed.allow")) == 0)

        // The seed notices the file within its poll interval and closes leech-a's connection at once.
        var reload: [String: Any] = [:]
        let reloaded = await TestFiles.waitUntilAsync(timeout: 5) {
            guard let line = seed.stderr.split(separator: "\n").first(where: { $0.contains("allowlist reloaded") })
            else { return false }
            reload = (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? [:]
            return true
        }
        #expect(reloaded, "\(seed.stderr)")
        let metadata = reload["metadata"] as? [String: Any] ?? [:]
        #expect(metadata["connections_closed"] as? String == "1", "\(reload)")
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let reloadedAt = try #require((reload["time"] as? String).flatMap { formatter.date(from: $0) }, "\(reload)")
        #expect(reloadedAt.timeIntervalSince(revokedAt) < 1.0, "cut off after \(reloadedAt.timeIntervalSince(revokedAt)) s")

        // leech-a receives nothing more (one progress interval for the last line in flight), leech-b completes.
        try await Task.sleep(for: .milliseconds(1500))
        let cutAt = Self.downloaded(a.stdout)
        try await Task.sleep(for: .seconds(3))
        #expect(Self.downloaded(a.stdout) == cutAt, "leech-a kept receiving after its key was revoked")
        #expect(cutAt < fleet.size)
        #expect(b.wait(timeout: 60) == 0, "\(b.stderr)")
        #expect(try fleet.sha256(fleet.path("leech-b-out/app.bin")) == fleet.expectedSHA256)
        #expect(Self.downloaded(a.stdout) == cutAt)
        #expect(!FileManager.default.fileExists(atPath: fleet.path("leech-a-out/app.bin")))

        // It cannot come back: a new leech with leech-a's key gets no byte, refused as unlisted.
        let again = try fleet.leech("again-out", port: port, stall: "5s", fleet.node("leech-a", allow: "fleet.allow"))
        #expect(again.exitCode == 3, "\(again.stderr)")
        #expect(again.stdout.contains("\"downloaded\":0"), "\(again.stdout)")
        let refusals = try await fleet.refusals(statusPort: statusPort)
        #expect((refusals["key not on the allowlist"] ?? 0) >= 1, "\(refusals)")
    }

    /// The `downloaded` bytes of the last `--json` progress line.
    static func downloaded(_ stdout: String) -> Int {
        for line in stdout.split(separator: "\n").reversed() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let bytes = object["downloaded"] as? Int
            else { continue }
            return bytes
        }
        return 0
    }
}
