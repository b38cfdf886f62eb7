import Foundation
import TestSupport
import Testing

/// `swtorrent leech` from a third-party HTTPS mirror (nginx) whose certificate an operator's own CA issued: trusted
/// with `--mirror-ca`, refused as untrusted without it, and a `--mirror-ca` file that cannot be used is refused by
/// name before anything starts. Each with and without a node key: a keyed node's first handshake (its node
/// certificate's settings, for appliances) fails at nginx, and the mirror is then verified like a key-less node's.
@Suite struct MirrorHTTPSTests {
    static let size = (2 << 20) + 333

    /// A torrent of one random file, a throwaway CA, and nginx serving the file over HTTPS with a certificate the
    /// CA issued for 127.0.0.1.
    struct Setup {
        let dir: URL
        let authority: TestCertificateAuthority
        let nginx: NginxServer

        init(_ label: String, serverName: String = "IP:127.0.0.1", serverDays: Int = 2) throws {
            dir = try TestFiles.makeTemporaryDirectory(label)
            let served = dir.appendingPathComponent("served")
            try FileManager.default.createDirectory(at: served, withIntermediateDirectories: true)
            try TestFiles.writeRandomFile(served.appendingPathComponent("payload.bin"), size: MirrorHTTPSTests.size)
            let made = try TestProcess.swtorrent(
                ["make", served.appendingPathComponent("payload.bin").path, "--no-date", "--piece-length", "64K", "-o",
                 dir.appendingPathComponent("t.torrent").path], timeout: 60)
            guard made.exitCode == 0 else { throw HarnessError("make: \(made.stderr)") }
            authority = try TestCertificateAuthority(directory: dir, serverName: serverName, serverDays: serverDays)
            nginx = try NginxServer(
                root: served, certificate: authority.serverCertificate, key: authority.serverKey, directory: dir)
            let key = try TestProcess.swtorrent(["keygen", "--out", path("node.key")], timeout: 30)
            guard key.exitCode == 0 else { throw HarnessError("keygen: \(key.stderr)") }
            try FileManager.default.copyItem(atPath: path("node.key.pub"), toPath: path("node.allow"))
        }

        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

        /// With `keyed`, the leech has a node key and an allowlist (a private-swarm node). `--verbose`: the mirror's
        /// switches of TLS settings are logged at info.
        func leech(keyed: Bool, _ extra: [String]) throws -> ProcessResult {
            let key = keyed ? ["--key", path("node.key"), "--allow", path("node.allow")] : []
            return try TestProcess.swtorrent(
                ["leech", path("t.torrent"), "--out", path("out"), "--no-tracker", "--allow-unsigned", "--json",
                 "--verbose", "--mirror", nginx.url + "payload.bin"] + key + extra, timeout: 120)
        }

        func cleanup() {
            nginx.stop()
            TestFiles.cleanup(dir)
        }
    }

    static func events(_ stdout: String) -> [[String: Any]] {
        stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    @Test(.timeLimit(.minutes(3)), arguments: [false, true])
    func leechCompletesFromAnHTTPSMirrorWhoseCAIsGivenWithMirrorCA(keyed: Bool) throws {
        let setup = try Setup("https-ca")
        defer { setup.cleanup() }
        // A bundle, as curl's --cacert takes: another CA first, then the one that issued the mirror's certificate.
        let other = try TestCertificateAuthority(directory: setup.dir, name: "other-ca")
        let bundle = try Data(contentsOf: other.certificate) + Data(contentsOf: setup.authority.certificate)
        try bundle.write(to: setup.dir.appendingPathComponent("bundle.pem"))
        let result = try setup.leech(keyed: keyed, ["--mirror-ca", setup.path("bundle.pem"), "--stall-timeout", "60s"])
        #expect(result.exitCode == 0, "\(result.stderr)")
        let released = try Data(contentsOf: setup.dir.appendingPathComponent("out/payload.bin"))
        #expect(released == (try Data(contentsOf: setup.dir.appendingPathComponent("served/payload.bin"))))
        let complete = try #require(Self.events(result.stdout).first { $0["event"] as? String == "complete" })
        let mirrors = try #require(complete["mirrors"] as? [[String: Any]])
        #expect(mirrors.count == 1)
        #expect(mirrors.first?["url"] as? String == setup.nginx.url + "payload.bin")
        #expect((mirrors.first?["bytes"] as? NSNumber)?.intValue == Self.size)
        #expect(complete["peers"] as? Int == 0)
        let switched = (mirrors.first?["reason"] as? String)?.contains("verify the server's certificate") == true
        #expect(switched == keyed, "\(mirrors)")
        // The keyed node's switch is no failure: the mirror never backed off.
        #expect(!result.stderr.contains("backing off"), "\(result.stderr)")
    }

    @Test(.timeLimit(.minutes(3)), arguments: [false, true])
    func withoutMirrorCATheMirrorIsRefusedAsUntrustedAndTheLeechStalls(keyed: Bool) throws {
        let setup = try Setup("https-noca")
        defer { setup.cleanup() }
        let result = try setup.leech(keyed: keyed, ["--stall-timeout", "5s"])
        #expect(result.exitCode == 3, "\(result.stderr)")
        #expect(!result.timedOut)
        #expect(!FileManager.default.fileExists(atPath: setup.path("out/payload.bin")))
        let stalled = try #require(Self.events(result.stdout).first { $0["event"] as? String == "stalled" })
        let mirror = try #require((stalled["mirrors"] as? [[String: Any]])?.first)
        #expect((mirror["bytes"] as? NSNumber)?.intValue == 0)
        let reason = try #require(mirror["reason"] as? String, "\(mirror)")
        #expect(reason.contains("certificate not trusted"), "\(reason)")
        #expect(reason.contains("--mirror-ca"), "\(reason)")
        #expect(result.stderr.contains("certificate not trusted"), "\(result.stderr)")
        Self.expectStaysVerified(reason, result, keyed: keyed)
    }

    /// How a keyed node's backoff reason ends after a request with verified settings failed as incompatible at the
    /// handshake (an appliance's refusal) and the mirror went back to the node certificate's settings.
    static let backToTheNodeCertificate = "; the next requests present the node's certificate again"

    /// A certificate that does not verify never sends a keyed node's mirror back to the node certificate's settings
    /// (which verify nothing: an on-path attacker showing such a certificate would get the node certificate and the
    /// requests): switched to verified settings once, it stays there, and its reason is the key-less node's.
    static func expectStaysVerified(_ reason: String, _ result: ProcessResult, keyed: Bool) {
        #expect(!reason.hasSuffix(backToTheNodeCertificate), "\(reason)")
        #expect(!reason.contains("verify the server's certificate"), "\(reason)")
        let switches = result.stderr.components(separatedBy: "verifying the server from now on").count - 1
        #expect(switches == (keyed ? 1 : 0), "\(result.stderr.suffix(4000))")
        #expect(!result.stderr.contains("presenting the node's certificate again"), "\(result.stderr.suffix(4000))")
    }

    /// A magnet link: the info dictionary comes from a swtorrent seed (its `x.pe`), held to 16 KiB/s upload, and the
    /// download then takes the HTTPS mirror trusted with `--mirror-ca` too (the setting reaches the session made after
    /// the metadata arrived).
    @Test(.timeLimit(.minutes(3)))
    func aMagnetLeechUsesTheHTTPSMirrorTrustedWithMirrorCA() throws {
        let setup = try Setup("https-magnet")
        defer { setup.cleanup() }
        let port = try TestFiles.freePort()
        let seed = try BackgroundProcess(
            try TestProcess.swtorrentBinary(),
            ["seed", setup.path("t.torrent"), "--data", setup.path("served"), "--port", "\(port)", "--no-tracker",
             "--upload-limit", "16384"],
            name: "swtorrent-seed", logDirectory: setup.dir)
        defer { seed.stop() }
        try #require(waitForPort(port), "swtorrent seed did not listen: \(seed.stderr)")
        let (link, _) = try MagnetLeechTests.magnet(setup.path("t.torrent"), peers: [port])
        let result = try TestProcess.swtorrent(
            ["leech", link, "--out", setup.path("out"), "--no-tracker", "--allow-unsigned", "--json",
             "--stall-timeout", "60s", "--mirror", setup.nginx.url + "payload.bin", "--mirror-ca",
             setup.authority.certificate.path], timeout: 120)
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(result.stderr.contains("magnet link: info dictionary received"), "\(result.stderr)")
        let released = try Data(contentsOf: setup.dir.appendingPathComponent("out/payload.bin"))
        #expect(released == (try Data(contentsOf: setup.dir.appendingPathComponent("served/payload.bin"))))
        let complete = try #require(Self.events(result.stdout).first { $0["event"] as? String == "complete" })
        let mirror = try #require((complete["mirrors"] as? [[String: Any]])?.first)
        #expect(mirror["url"] as? String == setup.nginx.url + "payload.bin")
        // The seed gives at most 16 KiB/s: the mirror supplied most of the 2 MiB.
        #expect(((mirror["bytes"] as? NSNumber)?.intValue ?? 0) > Self.size / 2, "\(mirror)")
    }

    /// Certificates the trusted CA issued that still do not verify: the server certificate, its validity in days
    /// (-1: expired), and what the mirror's reason says.
    static let refusedCertificates: [(serverName: String, days: Int, says: String)] = [
        ("DNS:mirror.invalid", 2, "certificate not valid for this host"),
        ("IP:127.0.0.1", -1, "certificate not trusted"),
    ]

    /// A certificate the CA issued for another name (DNS `mirror.invalid`), or one that has expired, is refused for
    /// `https://127.0.0.1/…` even with the CA trusted, and the reason says why; a keyed node's mirror stays on verified
    /// settings, as for an untrusted certificate.
    @Test(.timeLimit(.minutes(3)), arguments: refusedCertificates.indices, [false, true])
    func aCertificateForAnotherNameOrExpiredIsRefusedWithTheCATrusted(index: Int, keyed: Bool) throws {
        let refused = Self.refusedCertificates[index]
        let setup = try Setup("https-refused", serverName: refused.serverName, serverDays: refused.days)
        defer { setup.cleanup() }
        let result = try setup.leech(
            keyed: keyed, ["--mirror-ca", setup.authority.certificate.path, "--stall-timeout", "4s"])
        #expect(result.exitCode == 3, "\(result.stderr)")
        let stalled = try #require(Self.events(result.stdout).first { $0["event"] as? String == "stalled" })
        let mirror = try #require((stalled["mirrors"] as? [[String: Any]])?.first)
        #expect((mirror["bytes"] as? NSNumber)?.intValue == 0)
        let reason = try #require(mirror["reason"] as? String, "\(mirror)")
        #expect(reason.contains(refused.says), "\(reason)")
        Self.expectStaysVerified(reason, result, keyed: keyed)
    }

    /// A `--mirror-ca` file that cannot be used: what the file holds, and the words the message must say.
    static let badFiles: [(name: String, contents: String?, says: String)] = [
        ("missing.pem", nil, "no such file"),
        ("notes.txt", "this is not a certificate\n", "no PEM certificate in it"),
        (
            "key-only.pem",
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHcHbQpzGKV9PBbBclGyZkXfTC+H68CZKrF3+6UduSwq\n"
                + "-----END PRIVATE KEY-----\n", "no PEM certificate in it"
        ),
        ("broken.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "does not parse"),
    ]

    @Test(arguments: badFiles.indices)
    func aBadMirrorCAFileExitsTwoNamingTheFile(index: Int) throws {
        let bad = Self.badFiles[index]
        let dir = try TestFiles.makeTemporaryDirectory("https-badca")
        defer { TestFiles.cleanup(dir) }
        let file = dir.appendingPathComponent(bad.name)
        if let contents = bad.contents { try contents.write(to: file, atomically: true, encoding: .utf8) }
        try TestFiles.writeRandomFile(dir.appendingPathComponent("payload.bin"), size: 100_000)
        let made = try TestProcess.swtorrent(
            ["make", dir.appendingPathComponent("payload.bin").path, "--no-date", "-o",
             dir.appendingPathComponent("t.torrent").path], timeout: 60)
        try #require(made.exitCode == 0, "\(made.stderr)")
        let result = try TestProcess.swtorrent(
            ["leech", dir.appendingPathComponent("t.torrent").path, "--out", dir.appendingPathComponent("out").path,
             "--no-tracker", "--allow-unsigned", "--mirror", "https://127.0.0.1:9/payload.bin", "--mirror-ca",
             file.path], timeout: 60)
        #expect(result.exitCode == 2, "\(result.stderr)")
        #expect(result.stderr.contains("--mirror-ca: \(file.path): "), "\(result.stderr)")
        #expect(result.stderr.contains(bad.says), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out").path))
    }
}
