import Foundation
import TestSupport
import Testing

/// The signature gate inside `swtorrent leech`: `make --sign` → `seed` → `leech --trust` over loopback. Released
/// files appear in --out only after verification; refused ones go to quarantine with an audit record.
@Suite(.serialized)
struct LeechGateTests {
    /// A signed artifact, keys, a seed directory and a leech's output directory.
    struct Workspace {
        let dir: URL
        let artifact: String
        let sha256: String
        init(size: Int = 400_000) throws {
            dir = try TestFiles.makeTemporaryDirectory("leech-gate")
            try FileManager.default.createDirectory(
                at: dir.appendingPathComponent("seed"), withIntermediateDirectories: true)
            artifact = dir.appendingPathComponent("seed/artifact.tar").path
            try TestFiles.writeRandomFile(URL(fileURLWithPath: artifact), size: size, seed: 0x6a7e)
            sha256 = try Self.sha256(of: artifact)
        }

        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

        static func sha256(of path: String) throws -> String {
            let result = try TestProcess.run("sha256sum", [path], timeout: 30)
            return String(result.stdout.prefix(64))
        }

        @discardableResult
        func run(_ tool: String, _ args: [String]) throws -> ProcessResult {
            let result = try TestProcess.run(tool, args, timeout: 30)
            guard result.exitCode == 0 else {
                throw HarnessError("\(tool) \(args.joined(separator: " ")) failed: \(result.stderr)")
            }
            return result
        }

        /// An unencrypted minisign key pair `<name>.key` / `<name>.pub` (`minisign -G -W`).
        func minisignKey(_ name: String) throws {
            try run("minisign", ["-G", "-W", "-f", "-p", path("\(name).pub"), "-s", path("\(name).key")])
        }

        /// An OpenSSL P-256 key pair (cosign key format): `<name>.pem` and `<name>.pub`.
        func cosignKey(_ name: String) throws {
            try run(
                "openssl",
                ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path("\(name).pem")])
            try run("openssl", ["pkey", "-in", path("\(name).pem"), "-pubout", "-out", path("\(name).pub")])
        }

        /// `swtorrent make` of the artifact, signed with each key in `sign`.
        func make(_ torrent: String, sign: [String]) throws {
            let result = try TestProcess.swtorrent(
                ["make", artifact, "-a", "http://127.0.0.1:1/announce", "--no-date", "--private", "-o", path(torrent)]
                    + sign.flatMap { ["--sign", path($0)] },
                timeout: 60)
            guard result.exitCode == 0 else { throw HarnessError("make failed: \(result.stderr)") }
        }

        func seed(_ torrent: String, port: Int) throws -> BackgroundProcess {
            let process = try BackgroundProcess(
                try TestProcess.swtorrentBinary(),
                ["seed", path(torrent), "--data", path("seed"), "--port", "\(port)", "--no-tracker"],
                name: "swtorrent-seed", logDirectory: dir)
            #expect(waitForPort(port), "swtorrent seed did not listen: \(process.stderr)")
            return process
        }

        func leechArguments(_ torrent: String, port: Int, _ extra: [String]) -> [String] {
            ["leech", path(torrent), "--out", path("out"), "--peer", "127.0.0.1:\(port)", "--no-tracker",
             "--stall-timeout", "40s"] + extra
        }

        func leech(_ torrent: String, port: Int, _ extra: [String]) throws -> ProcessResult {
            try TestProcess.swtorrent(leechArguments(torrent, port: port, extra), timeout: 60)
        }

        /// The gate's default directory beside `out`.
        var gateDirectory: String { path(".out.swtorrent-gate") }

        func auditRecords(_ file: String) throws -> [[String: Any]] {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            return try text.split(separator: "\n").map { line in
                guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw HarnessError("audit line is not an object: \(line)")
                }
                return object
            }
        }

        func listing(_ directory: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        }
    }

    /// Which key signs and which keys the leech trusts: every row must be released.
    static let releasedCases: [(label: String, sign: [String], trust: [String])] = [
        ("minisign", ["m.key"], ["--trust", "m.pub"]),
        ("cosign P-256", ["ec.pem"], ["--trust", "ec.pub"]),
        ("two of two", ["m.key", "ec.pem"], ["--trust", "m.pub", "--trust", "ec.pub", "--require", "2"]),
        ("policy file", ["m.key", "ec.pem"], ["--policy", "policy.txt"]),
    ]

    @Test(arguments: 0..<4)
    func signedDownloadIsReleasedIntoOut(row: Int) throws {
        let (label, sign, trust) = Self.releasedCases[row]
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        try w.minisignKey("m")
        try w.cosignKey("ec")
        try "trust m.pub\ntrust ec.pub   # relative to the policy file\nrequire 2\n"
            .write(toFile: w.path("policy.txt"), atomically: true, encoding: .utf8)
        try w.make("signed.torrent", sign: sign)
        let port = try TestFiles.freePort()
        let seed = try w.seed("signed.torrent", port: port)
        defer { seed.stop() }

        let files = trust.map { $0.hasSuffix(".pub") || $0.hasSuffix(".txt") ? w.path($0) : $0 }
        let result = try w.leech("signed.torrent", port: port, files + ["--json"])
        #expect(result.exitCode == 0, "\(label): leech: \(result.stderr)")
        #expect(result.stderr.contains("released artifact.tar"), "\(label): \(result.stderr)")
        #expect(try Workspace.sha256(of: w.path("out/artifact.tar")) == w.sha256, "\(label)")
        var info = stat()
        #expect(stat(w.path("out/artifact.tar"), &info) == 0 && info.st_mode & 0o777 == 0o644, "\(label)")

        // Staging is 0700 and left empty; nothing was quarantined.
        #expect(stat(w.gateDirectory + "/staging", &info) == 0 && info.st_mode & 0o077 == 0, "\(label)")
        #expect(w.listing(w.gateDirectory + "/staging").isEmpty, "\(label): staging left \(w.gateDirectory)")
        #expect(w.listing(w.gateDirectory + "/quarantine").isEmpty, "\(label)")

        let records = try w.auditRecords(w.gateDirectory + "/audit.jsonl")
        #expect(records.count == 1, "\(label)")
        let record = try #require(records.first)
        #expect(record["result"] as? String == "released", "\(label): \(record)")
        #expect(record["file"] as? String == "artifact.tar", "\(label)")
        #expect(record["sha256"] as? String == w.sha256, "\(label)")
        #expect((record["info_hash"] as? String)?.count == 40, "\(label)")
        let signers = record["signers"] as? [String] ?? []
        #expect(signers.count == sign.count, "\(label): \(signers)")
        // The peers that supplied the file's verified bytes: here only the seed, for every byte.
        let peers = record["peers"] as? [[String: Any]] ?? []
        #expect(peers.map { $0["peer"] as? String } == ["127.0.0.1:\(port)"], "\(label): \(record)")
        let size = try #require(record["size"] as? Int, "\(label): \(record)")
        #expect(peers.compactMap { $0["bytes"] as? Int }.reduce(0, +) == size, "\(label): \(peers)")

        // --json: the download's "complete" line, then one "gate" line per file.
        let lines = result.stdout.split(separator: "\n").suffix(2).map {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? [:]
        }
        #expect(lines.first?["event"] as? String == "complete", "\(label): \(result.stdout.suffix(400))")
        #expect(lines.last?["event"] as? String == "gate", "\(label)")
        #expect(lines.last?["result"] as? String == "released", "\(label)")
        #expect(lines.last?["sha256"] as? String == w.sha256, "\(label)")
    }

    /// A signature by a key the leech does not trust: exit 5, nothing at --out, ever (watched while it downloads
    /// slowly), the file in quarantine with a reason, and an audit record saying why.
    @Test func wrongTrustedKeyIsQuarantinedAndNeverReachesOut() throws {
        let w = try Workspace(size: 600_000)
        defer { TestFiles.cleanup(w.dir) }
        try w.minisignKey("m")
        try w.minisignKey("stranger")
        try w.make("signed.torrent", sign: ["m.key"])
        let port = try TestFiles.freePort()
        let seed = try w.seed("signed.torrent", port: port)
        defer { seed.stop() }

        let audit = w.path("audit.jsonl")
        let leech = try BackgroundProcess(
            try TestProcess.swtorrentBinary(),
            w.leechArguments(
                "signed.torrent", port: port,
                ["--trust", w.path("stranger.pub"), "--audit-log", audit, "--download-limit", "200000"]),
            name: "swtorrent-leech", logDirectory: w.dir)
        defer { leech.stop() }
        var sawStaged = false
        var sawAtOut = false
        let ended = TestFiles.waitUntil(timeout: 55) {
            if !w.listing(w.path("out")).isEmpty { sawAtOut = true }
            let staging = w.gateDirectory + "/staging"
            if w.listing(staging).contains(where: { !w.listing(staging + "/" + $0).isEmpty }) { sawStaged = true }
            return !leech.isRunning
        }
        #expect(ended, "leech did not finish: \(leech.stderr)")
        let code = leech.wait(timeout: 5)
        #expect(code == 5, "leech: \(leech.stderr)")
        #expect(sawStaged, "the download was never seen in staging")
        #expect(!sawAtOut, "something appeared in --out before (or without) verification")
        #expect(w.listing(w.path("out")).isEmpty)
        #expect(leech.stderr.contains("artifact.tar: refused (untrusted-key)"), "\(leech.stderr)")

        let quarantined = w.listing(w.gateDirectory + "/quarantine")
        #expect(quarantined.count == 2, "\(quarantined)")  // the file and its .reason
        let kept = try #require(quarantined.first { !$0.hasSuffix(".reason") })
        #expect(try Workspace.sha256(of: w.gateDirectory + "/quarantine/" + kept) == w.sha256)

        let record = try #require(try w.auditRecords(audit).last)
        #expect(record["result"] as? String == "quarantined")
        #expect(record["reason"] as? String == "untrusted-key")
        #expect(record["file"] as? String == "artifact.tar")
    }

    /// An unsigned torrent with `--require 1`: refused (missing signature), nothing released.
    @Test func unsignedTorrentIsRefusedWhenASignatureIsRequired() throws {
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        try w.cosignKey("ec")
        try w.make("plain.torrent", sign: [])
        let port = try TestFiles.freePort()
        let seed = try w.seed("plain.torrent", port: port)
        defer { seed.stop() }
        let quarantine = w.path("held")
        let result = try w.leech(
            "plain.torrent", port: port,
            ["--trust", w.path("ec.pub"), "--require", "1", "--quarantine", quarantine])
        #expect(result.exitCode == 5, "leech: \(result.stderr)")
        #expect(result.stderr.contains("artifact.tar: refused (missing-signature)"), "\(result.stderr)")
        #expect(w.listing(w.path("out")).isEmpty)
        #expect(w.listing(quarantine).count == 2)
        let record = try #require(try w.auditRecords(w.gateDirectory + "/audit.jsonl").last)
        #expect(record["reason"] as? String == "missing-signature")
    }

    /// A multi-file torrent that ships `artifact.tar.minisig` beside the artifact (no embedded signature): the
    /// detached signature is used, and follows its artifact into --out.
    @Test func shippedDetachedSignatureIsUsedAndReleasedWithTheArtifact() throws {
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        try w.minisignKey("m")
        let release = w.path("seed/release")
        try FileManager.default.createDirectory(atPath: release, withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: w.artifact, toPath: release + "/artifact.tar")
        try w.run("minisign", ["-S", "-s", w.path("m.key"), "-m", release + "/artifact.tar"])
        let result = try TestProcess.swtorrent(
            ["make", release, "-a", "http://127.0.0.1:1/announce", "--no-date", "-o", w.path("dir.torrent")],
            timeout: 60)
        #expect(result.exitCode == 0, "make: \(result.stderr)")
        let port = try TestFiles.freePort()
        let seed = try w.seed("dir.torrent", port: port)
        defer { seed.stop() }

        let leech = try w.leech("dir.torrent", port: port, ["--trust", w.path("m.pub")])
        #expect(leech.exitCode == 0, "leech: \(leech.stderr)")
        #expect(try Workspace.sha256(of: w.path("out/release/artifact.tar")) == w.sha256)
        #expect(FileManager.default.fileExists(atPath: w.path("out/release/artifact.tar.minisig")))
        let record = try #require(try w.auditRecords(w.gateDirectory + "/audit.jsonl").last)
        #expect(record["file"] as? String == "release/artifact.tar")
        #expect((record["signers"] as? [String])?.first?.hasPrefix("minisign:") == true, "\(record)")
    }

    /// `--seed-after` with the gate: after the release the leech seeds the released files from --out, so a second
    /// (gated) leech completes from it alone once the original seed is gone.
    @Test func seedAfterServesTheReleasedFiles() throws {
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        try w.minisignKey("m")
        try w.make("signed.torrent", sign: ["m.key"])
        let seedPort = try TestFiles.freePort()
        let seed = try w.seed("signed.torrent", port: seedPort)
        defer { seed.stop() }
        let relayPort = try TestFiles.freePort()
        let relay = try BackgroundProcess(
            try TestProcess.swtorrentBinary(),
            w.leechArguments(
                "signed.torrent", port: seedPort,
                ["--trust", w.path("m.pub"), "--seed-after", "40s", "--port", "\(relayPort)"]),
            name: "swtorrent-relay", logDirectory: w.dir)
        defer { relay.stop() }
        let released = TestFiles.waitUntil(timeout: 30) {
            relay.stderr.contains("released artifact.tar") || !relay.isRunning
        }
        #expect(released && relay.isRunning, "relay: \(relay.stderr)")
        seed.stop()
        #expect(waitForPort(relayPort), "the relay does not seed: \(relay.stderr)")

        let second = try TestProcess.swtorrent(
            ["leech", w.path("signed.torrent"), "--out", w.path("out2"), "--peer", "127.0.0.1:\(relayPort)",
             "--no-tracker", "--stall-timeout", "30s", "--trust", w.path("m.pub")],
            timeout: 50)
        #expect(second.exitCode == 0, "second leech: \(second.stderr)")
        #expect(try Workspace.sha256(of: w.path("out2/artifact.tar")) == w.sha256)
    }

    /// No trust policy and no --allow-unsigned: refused at argument validation (exit 2), before anything is created
    /// or fetched, with a message that names every way out. --allow-unsigned with a policy is contradictory (exit 2).
    @Test(arguments: [
        (extra: [String](), says: ["no trust policy", "--trust PUBKEY", "--trust-dir DIR", "--policy", "--allow-unsigned"]),
        (extra: ["--allow-unsigned", "--require", "0"], says: ["--allow-unsigned", "--require 0"]),
    ])
    func leechWithoutATrustPolicyIsRefused(extra: [String], says: [String]) throws {
        let w = try Workspace(size: 1000)
        defer { TestFiles.cleanup(w.dir) }
        try w.make("plain.torrent", sign: [])
        let result = try TestProcess.swtorrent(
            ["leech", w.path("plain.torrent"), "--out", w.path("out"), "--no-tracker", "--peer", "127.0.0.1:9"]
                + extra,
            timeout: 30)
        #expect(result.exitCode == 2, "\(extra): \(result.stderr)")
        #expect(result.stderr.hasPrefix("swtorrent leech: "), "\(result.stderr)")
        for phrase in says { #expect(result.stderr.contains(phrase), "\(extra): missing '\(phrase)': \(result.stderr)") }
        #expect(!FileManager.default.fileExists(atPath: w.path("out")), "--out was created before validation")
        #expect(!FileManager.default.fileExists(atPath: w.gateDirectory))
    }

    /// --allow-unsigned: the download still goes through 0700 staging (never a partial file at --out, watched while
    /// it downloads slowly), the file is released by rename once its pieces verify, and the audit log says
    /// released-unsigned with the reason. A signed torrent's signatures are not checked (no trusted key). A re-run
    /// starts from the released file and fetches nothing.
    @Test(arguments: [[String](), ["m.key"]])
    func allowUnsignedReleasesThroughStagingAndAudits(sign: [String]) throws {
        let w = try Workspace(size: 600_000)
        defer { TestFiles.cleanup(w.dir) }
        if !sign.isEmpty { try w.minisignKey("m") }
        try w.make("t.torrent", sign: sign)
        let port = try TestFiles.freePort()
        let seed = try w.seed("t.torrent", port: port)
        defer { seed.stop() }

        let leech = try BackgroundProcess(
            try TestProcess.swtorrentBinary(),
            w.leechArguments(
                "t.torrent", port: port, ["--allow-unsigned", "--json", "--download-limit", "250000", "--verbose"]),
            name: "swtorrent-leech", logDirectory: w.dir)
        defer { leech.stop() }
        var sawStaged = false
        var partialAtOut = false
        let ended = TestFiles.waitUntil(timeout: 55) {
            let staging = w.gateDirectory + "/staging"
            if w.listing(staging).contains(where: { !w.listing(staging + "/" + $0).isEmpty }) { sawStaged = true }
            let running = leech.isRunning
            if running, w.listing(w.path("out")).contains("artifact.tar"),
                (try? Workspace.sha256(of: w.path("out/artifact.tar"))) != w.sha256
            {
                partialAtOut = true
            }
            return !running
        }
        #expect(ended, "leech did not finish: \(leech.stderr)")
        #expect(leech.wait(timeout: 5) == 0, "leech: \(leech.stderr)")
        #expect(sawStaged, "the download was never seen in staging")
        #expect(!partialAtOut, "a partial file appeared in --out")
        #expect(try Workspace.sha256(of: w.path("out/artifact.tar")) == w.sha256)
        #expect(leech.stderr.contains("released artifact.tar: unsigned (--allow-unsigned"), "\(leech.stderr)")
        // The gate used the SHA-256 taken during the download (the audit's digest below is that of the file in OUT).
        #expect(leech.stderr.contains("streamed SHA-256 of 1 of 1 files"), "\(leech.stderr.suffix(2000))")
        #expect(w.listing(w.gateDirectory + "/staging").isEmpty)
        #expect(w.listing(w.gateDirectory + "/quarantine").isEmpty)

        let record = try #require(try w.auditRecords(w.gateDirectory + "/audit.jsonl").last)
        #expect(record["result"] as? String == "released-unsigned", "\(record)")
        #expect(record["reason"] as? String == "no-trust-policy", "\(record)")
        #expect((record["message"] as? String)?.contains("piece hashes") == true, "\(record)")
        #expect(record["sha256"] as? String == w.sha256)
        #expect((record["signers"] as? [String])?.isEmpty == true)
        #expect((record["info_hash"] as? String)?.count == 40)
        let peers = record["peers"] as? [[String: Any]] ?? []
        #expect(peers.map { $0["peer"] as? String } == ["127.0.0.1:\(port)"], "\(record)")
        let gateLine = leech.stdout.split(separator: "\n").last.flatMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
        #expect(gateLine?["event"] as? String == "gate")
        #expect(gateLine?["result"] as? String == "released-unsigned")

        // Again into the same --out: the released file is copied into staging, checked, nothing is fetched, and it
        // is released again (a second audit record).
        let again = try w.leech("t.torrent", port: port, ["--allow-unsigned", "--json", "--verbose"])
        #expect(again.exitCode == 0, "\(again.stderr)")
        // Every piece was already in staging: all read back by the streaming hasher, none from memory.
        #expect(again.stderr.contains("streamed SHA-256 of 1 of 1 files: 0 pieces from memory"), "\(again.stderr)")
        let complete = again.stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }.last { $0["event"] as? String == "complete" }
        #expect(complete?["downloaded"] as? Int == 0, "\(again.stdout.suffix(600))")
        #expect(try Workspace.sha256(of: w.path("out/artifact.tar")) == w.sha256)
        let records = try w.auditRecords(w.gateDirectory + "/audit.jsonl")
        #expect(records.count == 2)
        #expect(records.last?["sha256"] as? String == w.sha256)
        #expect(w.listing(w.gateDirectory + "/staging").isEmpty)
    }

    /// Gate-only options without a trust policy, and a policy without keys, are usage errors (exit 2, no network).
    @Test(arguments: [
        ["--staging", "/tmp/x"],
        ["--audit-log", "/tmp/x.jsonl"],
        ["--require", "1"],
    ])
    func gateOptionsWithoutTrustedKeysAreRefused(extra: [String]) throws {
        let w = try Workspace(size: 1000)
        defer { TestFiles.cleanup(w.dir) }
        try w.make("plain.torrent", sign: [])
        let result = try TestProcess.swtorrent(
            ["leech", w.path("plain.torrent"), "--out", w.path("out"), "--no-tracker"] + extra, timeout: 30)
        #expect(result.exitCode == 2, "\(extra): \(result.stderr)")
        #expect(w.listing(w.path("out")).isEmpty)
    }

    /// `leech` and `verify` merge the same options and policy file into the same policy: the real binary accepts in
    /// `verify` exactly what it releases in `leech` (the download completes from data already in --out, so no peer
    /// is needed). The first row is the case they used to disagree on (`require 0` in the file, no --require).
    @Test(arguments: [
        (sign: [String](), policy: "trust c.pub\nrequire 0\n", extra: [String](), accepted: true),
        (sign: ["c.pem"], policy: "trust d.pub\n", extra: [String](), accepted: false),
        (sign: ["c.pem"], policy: "trust c.pub\nrequire 2\n", extra: ["--require", "1"], accepted: false),
        (sign: ["c.pem"], policy: "trust d.pub\n", extra: ["--require", "1", "--trust", "KEY-c"], accepted: true),
    ])
    func leechAndVerifyAgreeOnTheSamePolicy(sign: [String], policy: String, extra: [String], accepted: Bool) throws {
        let w = try Workspace(size: 50_000)
        defer { TestFiles.cleanup(w.dir) }
        try w.cosignKey("c")
        try w.cosignKey("d")
        try w.make("t.torrent", sign: sign)
        try policy.write(toFile: w.path("policy"), atomically: true, encoding: .utf8)
        let options = ["--policy", w.path("policy")] + extra.map { $0 == "KEY-c" ? w.path("c.pub") : $0 }
        let verify = try TestProcess.swtorrent(
            ["verify", "--torrent", w.path("t.torrent"), "--data", w.path("seed")]
                + options.map { $0 == "--trust" ? "--key" : $0 },
            timeout: 30)
        try FileManager.default.createDirectory(atPath: w.path("out"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: w.artifact, toPath: w.path("out/artifact.tar"))
        let leech = try TestProcess.swtorrent(
            ["leech", w.path("t.torrent"), "--out", w.path("out"), "--no-tracker", "--stall-timeout", "20s"]
                + options,
            timeout: 30)
        #expect((verify.exitCode == 0) == accepted, "verify: \(verify.stderr)")
        #expect((leech.exitCode == 0) == accepted, "leech: \(leech.stderr)")
        #expect(leech.exitCode == 0 || leech.exitCode == 5, "leech: \(leech.stderr)")
        #expect(leech.stderr.contains(accepted ? "released artifact.tar" : "artifact.tar: refused ("), "\(leech.stderr)")
    }

    /// seed and leech run as Services in a ServiceGroup: SIGINT/SIGTERM shut them down gracefully. An interrupted
    /// leech exits 4 with a final `stopped` line and nothing in --out; a seed stopped by the signal exits 0.
    @Test(arguments: [SIGINT, SIGTERM])
    func signalsStopSeedAndLeechGracefully(signal: Int32) throws {
        let w = try Workspace(size: 2_000_000)
        defer { TestFiles.cleanup(w.dir) }
        try w.make("t.torrent", sign: [])
        let port = try TestFiles.freePort()
        let seed = try w.seed("t.torrent", port: port)
        defer { seed.stop() }
        let leech = try BackgroundProcess(
            try TestProcess.swtorrentBinary(),
            w.leechArguments("t.torrent", port: port, ["--allow-unsigned", "--json", "--download-limit", "100000"]),
            name: "swtorrent-leech", logDirectory: w.dir)
        defer { leech.stop() }
        let downloading = TestFiles.waitUntil(timeout: 30) {
            leech.stdout.split(separator: "\n").contains { line in
                let event = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
                return (event?["downloaded"] as? Int ?? 0) > 0
            }
        }
        #expect(downloading, "leech never started downloading: \(leech.stdout.suffix(400)) \(leech.stderr)")
        kill(leech.pid, signal)
        #expect(leech.wait(timeout: 20) == 4, "leech: \(leech.stderr)")
        let last = leech.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.contains("\"event\":\"stopped\""), "last line: \(last)")
        #expect(w.listing(w.path("out")).isEmpty, "an interrupted leech released something")

        kill(seed.pid, signal)
        #expect(seed.wait(timeout: 20) == 0, "seed: \(seed.stderr)")
        // A seed holds every piece, so its session reports `complete` however it is stopped.
        #expect(seed.stderr.contains("swtorrent seed: complete: "), "\(seed.stderr)")
    }
}
