import Foundation
import TestSupport
import Testing

/// `swtorrent leech` run by automation: --deadline gives up with its own exit code, and a leech killed with SIGKILL
/// continues from what is verified in staging, fetching only the rest.
@Suite(.serialized)
struct LeechAutomationTests {
    static let size = 6 << 20
    static let pieceLength = 64 << 10

    /// An unsigned torrent of one random file, and a seed for it throttled to `uploadLimit` bytes/s.
    struct Swarm {
        let dir: URL
        let seed: BackgroundProcess
        let port: Int

        init(_ label: String, uploadLimit: Int) throws {
            dir = try TestFiles.makeTemporaryDirectory(label)
            try FileManager.default.createDirectory(
                at: dir.appendingPathComponent("seed"), withIntermediateDirectories: true)
            try TestFiles.writeRandomFile(
                dir.appendingPathComponent("seed/payload.bin"), size: LeechAutomationTests.size, seed: 0xdead)
            let made = try TestProcess.swtorrent(
                ["make", dir.appendingPathComponent("seed/payload.bin").path, "-a", "http://127.0.0.1:1/announce",
                 "--no-date", "--piece-length", "64K", "-o", dir.appendingPathComponent("t.torrent").path],
                timeout: 60)
            guard made.exitCode == 0 else { throw HarnessError("make: \(made.stderr)") }
            port = try TestFiles.freePort()
            seed = try BackgroundProcess(
                try TestProcess.swtorrentBinary(),
                ["seed", dir.appendingPathComponent("t.torrent").path, "--data", dir.appendingPathComponent("seed").path,
                 "--port", "\(port)", "--no-tracker", "--upload-limit", "\(uploadLimit)"],
                name: "throttled-seed", logDirectory: dir)
            guard waitForPort(port) else { throw HarnessError("seed did not listen: \(seed.stderr)") }
        }

        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

        func leechArguments(_ extra: [String]) -> [String] {
            ["leech", path("t.torrent"), "--out", path("out"), "--peer", "127.0.0.1:\(port)", "--no-tracker",
             "--allow-unsigned", "--json", "--stall-timeout", "60s"] + extra
        }

        func startLeech(_ extra: [String]) throws -> BackgroundProcess {
            try BackgroundProcess(
                try TestProcess.swtorrentBinary(), leechArguments(extra), name: "leech", logDirectory: dir)
        }

        func cleanup() {
            seed.stop()
            TestFiles.cleanup(dir)
        }
    }

    /// The JSON events a leech printed on stdout, in order.
    static func events(_ stdout: String) -> [[String: Any]] {
        stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    static func sha256(_ path: String) throws -> String {
        String(try TestProcess.run("sha256sum", [path], timeout: 30).stdout.prefix(64))
    }

    @Test func deadlineGivesUpWithExit11AndKeepsWhatIsVerified() throws {
        // 6 MiB at 512 KiB/s takes about 12 s: a 2 s deadline cannot be met.
        let swarm = try Swarm("leech-deadline", uploadLimit: 512 << 10)
        defer { swarm.cleanup() }
        let started = Date()
        let late = try TestProcess.swtorrent(swarm.leechArguments(["--deadline", "2s"]), timeout: 60)
        let elapsed = Date().timeIntervalSince(started)
        #expect(late.exitCode == 11, "\(late.stderr)")
        #expect(elapsed < 20, "the deadline took \(elapsed) s to stop the leech")
        #expect(
            late.stderr.contains("swtorrent leech: deadline 2.0 seconds passed before the download completed"),
            "\(late.stderr)")
        let last = try #require(Self.events(late.stdout).last)
        #expect(last["event"] as? String == "stopped", "\(late.stdout.suffix(500))")
        let verified = last["verifiedBytes"] as? Int ?? 0
        #expect(verified > 0 && verified < Self.size, "\(last)")
        #expect(!FileManager.default.fileExists(atPath: swarm.path("out/payload.bin")), "nothing unverified in out")

        // A deadline that is met does not fire: the re-run completes, from where the first one stopped.
        let again = try TestProcess.swtorrent(swarm.leechArguments(["--deadline", "2m"]), timeout: 120)
        #expect(again.exitCode == 0, "\(again.stderr)")
        let complete = try #require(Self.events(again.stdout).first { $0["event"] as? String == "complete" })
        #expect(complete["downloaded"] as? Int ?? Int.max <= Self.size - verified + 2 * Self.pieceLength, "\(complete)")
        #expect(try Self.sha256(swarm.path("out/payload.bin")) == Self.sha256(swarm.path("seed/payload.bin")))
    }

    @Test func aLeechKilledMidDownloadResumesFromStaging() throws {
        // 6 MiB at 1 MiB/s: about 6 s, killed once at least a quarter is verified.
        let swarm = try Swarm("leech-sigkill", uploadLimit: 1 << 20)
        defer { swarm.cleanup() }
        let first = try swarm.startLeech([])
        defer { first.stop() }
        var verifiedBeforeKill = 0
        let progressed = TestFiles.waitUntil(timeout: 60) {
            let progress = Self.events(first.stdout).filter { $0["event"] as? String == "progress" }
            verifiedBeforeKill = progress.last?["verifiedBytes"] as? Int ?? 0
            return verifiedBeforeKill >= Self.size / 4
        }
        try #require(progressed, "the first leech never got a quarter: \(first.stderr)")
        kill(first.pid, SIGKILL)
        #expect(first.wait(timeout: 10) != nil, "SIGKILL did not end the leech")
        #expect(verifiedBeforeKill < Self.size, "the first leech finished before it was killed")
        #expect(!FileManager.default.fileExists(atPath: swarm.path("out/payload.bin")), "nothing unverified in out")

        let second = try TestProcess.swtorrent(swarm.leechArguments([]), timeout: 120)
        #expect(second.exitCode == 0, "\(second.stderr)")
        let complete = try #require(Self.events(second.stdout).first { $0["event"] as? String == "complete" })
        let downloaded = complete["downloaded"] as? Int ?? Int.max
        // Only what was not verified before the kill crosses the wire again (a piece or two in flight at the kill).
        #expect(downloaded <= Self.size - verifiedBeforeKill + 2 * Self.pieceLength, "\(complete)")
        #expect(downloaded > 0)
        #expect(complete["piecesVerified"] as? Int == Self.size / Self.pieceLength)
        #expect(try Self.sha256(swarm.path("out/payload.bin")) == Self.sha256(swarm.path("seed/payload.bin")))
        #expect(second.stderr.contains("released payload.bin"), "\(second.stderr)")
    }
}
