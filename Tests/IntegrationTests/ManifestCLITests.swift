import Foundation
import TestSupport
import Testing

/// `swtorrent make --manifest` and `swtorrent leech MANIFEST` as a release engineer and a fleet node run them: the
/// manifest's signatures verify with the real `minisign` and `openssl`; a node leeches a good manifest from a seed,
/// then refuses a replayed older one, an expired one and one signed by a key it does not trust, each with its own
/// exit code and an audit record, releasing nothing.
@Suite(.serialized)
struct ManifestCLITests {
    typealias Workspace = LeechGateTests.Workspace

    /// make --manifest with a minisign and a cosign (OpenSSL P-256) key, at `epoch` (SOURCE_DATE_EPOCH).
    static func makeManifest(
        _ w: Workspace, _ name: String, version: String, expires: String = "1d", epoch: Int? = nil,
        keys: [String] = ["m.key", "ec.pem"], mirror: String = "http://127.0.0.1:9/mirror/",
        origin: String = "http://127.0.0.1:9/origin/"
    ) throws {
        var environment: [String: String] = [:]
        if let epoch { environment["SOURCE_DATE_EPOCH"] = "\(epoch)" }
        let result = try TestProcess.swtorrent(
            ["make", w.artifact, "-a", "http://127.0.0.1:1/announce", "--private", "-o", w.path(name + ".torrent"),
             "--force", "--manifest", w.path(name), "--version", version, "--expires", expires,
             "--mirror", "lan-a=" + mirror, "--origin", origin]
                + keys.flatMap { ["--sign", w.path($0)] },
            environment: environment, timeout: 60)
        guard result.exitCode == 0 else { throw HarnessError("make --manifest failed: \(result.stderr)") }
    }

    static func envelope(_ path: String) throws -> [String: Any] {
        try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    @Test func manifestSignaturesVerifyWithMinisignAndOpenSSL() throws {
        try TestProcess.requireTool("minisign")
        try TestProcess.requireTool("openssl")
        let w = try Workspace(size: 100_000)
        defer { TestFiles.cleanup(w.dir) }
        try w.minisignKey("m")
        try w.cosignKey("ec")
        try Self.makeManifest(w, "rel.manifest", version: "1.2.3")
        let envelope = try Self.envelope(w.path("rel.manifest"))
        #expect(envelope["type"] as? String == "swtorrent-signed-manifest/1")
        let encoded = try #require(envelope["manifest"] as? String)
        let manifest = try #require(Data(base64Encoded: encoded))
        try manifest.write(to: URL(fileURLWithPath: w.path("rel.json")))
        let body = try #require(try JSONSerialization.jsonObject(with: manifest) as? [String: Any])
        #expect(body["version"] as? String == "1.2.3")
        #expect(body["name"] as? String == "artifact.tar")
        let files = try #require(body["files"] as? [[String: Any]])
        #expect(files.map { $0["sha256"] as? String } == [w.sha256], "the file's SHA-256 from the same pass")
        #expect((body["mirrors"] as? [[String: Any]])?.first?["site"] as? String == "lan-a")

        let signatures = try #require(envelope["signatures"] as? [[String: Any]])
        #expect(signatures.compactMap { $0["format"] as? String }.sorted() == ["cosign", "minisign"])
        for signature in signatures {
            let text = try #require(signature["signature"] as? String)
            if signature["format"] as? String == "minisign" {
                try text.write(toFile: w.path("rel.json.minisig"), atomically: true, encoding: .utf8)
                let verified = try TestProcess.run(
                    "minisign", ["-V", "-p", w.path("m.pub"), "-m", w.path("rel.json")], timeout: 30)
                #expect(verified.exitCode == 0, "minisign -V: \(verified.stderr)")
            } else {
                let der = try #require(Data(base64Encoded: text))
                try der.write(to: URL(fileURLWithPath: w.path("rel.json.sig")))
                let verified = try TestProcess.run(
                    "openssl",
                    ["dgst", "-sha256", "-verify", w.path("ec.pub"), "-signature", w.path("rel.json.sig"),
                     w.path("rel.json")], timeout: 30)
                #expect(verified.exitCode == 0, "openssl dgst -verify: \(verified.stdout) \(verified.stderr)")
            }
        }
    }

    @Test func nodeLeechesAGoodManifestAndRefusesReplayExpiryAndUntrustedSigners() throws {
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        try w.minisignKey("m")
        try w.cosignKey("ec")
        try w.cosignKey("stranger")
        let now = Int(Date().timeIntervalSince1970)
        try Self.makeManifest(w, "new.manifest", version: "2.0.1")
        try Self.makeManifest(w, "old.manifest", version: "2.0.0")
        try Self.makeManifest(w, "stale.manifest", version: "2.0.2", expires: "1d", epoch: now - 2 * 86400)
        try Self.makeManifest(w, "foreign.manifest", version: "2.0.3", keys: ["stranger.pem"])
        // Every manifest's torrent is the same (same content and options but the creation date): seed one.
        let port = try TestFiles.freePort()
        let seed = try w.seed("new.manifest.torrent", port: port)
        defer { seed.stop() }

        let trust = ["--trust", w.path("m.pub"), "--trust", w.path("ec.pub"), "--state-dir", w.path("state")]
        let good = try w.leech("new.manifest", port: port, trust)
        #expect(good.exitCode == 0, "leech: \(good.stderr)")
        #expect(good.stderr.contains("manifest artifact.tar 2.0.1 accepted"), "\(good.stderr)")
        #expect(try Workspace.sha256(of: w.path("out/artifact.tar")) == w.sha256)
        let ledger = try String(contentsOfFile: w.path("state/releases.json"), encoding: .utf8)
        #expect(ledger.contains("\"version\" : \"2.0.1\""), "\(ledger)")

        let before = try w.auditRecords(w.gateDirectory + "/audit.jsonl").count
        try FileManager.default.removeItem(atPath: w.path("out"))
        for (manifest, code, reason) in [
            ("old.manifest", 8, "rollback"), ("stale.manifest", 7, "expired"), ("foreign.manifest", 6, "untrusted-key"),
        ] {
            let result = try w.leech(manifest, port: port, trust)
            #expect(result.exitCode == Int32(code), "\(manifest): \(result.stderr)")
            #expect(result.stderr.contains("manifest refused (\(reason))"), "\(manifest): \(result.stderr)")
            #expect(w.listing(w.path("out")).isEmpty, "\(manifest): something was released")
        }
        let records = try w.auditRecords(w.gateDirectory + "/audit.jsonl").dropFirst(before)
        #expect(records.map { $0["reason"] as? String } == ["rollback", "expired", "untrusted-key"])
        #expect(records.allSatisfy { $0["result"] as? String == "refused-manifest" })
        // --allow-downgrade installs the older release on purpose; the ledger keeps 2.0.1.
        let downgrade = try w.leech("old.manifest", port: port, trust + ["--allow-downgrade"])
        #expect(downgrade.exitCode == 0, "\(downgrade.stderr)")
        #expect(try String(contentsOfFile: w.path("state/releases.json"), encoding: .utf8).contains("2.0.1"))
    }

    /// A manifest fetched by URL, whose mirror is dead and which no peer serves: the node fetches the release from
    /// the manifest's origin only with --allow-origin; without it the origin sees no request and the leech stalls.
    @Test func aManifestByURLIsFetchedFromItsOriginOnlyWithAllowOrigin() throws {
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        try w.minisignKey("m")
        let origin = try FaultyHTTPServer(root: w.dir.appendingPathComponent("seed"), logDirectory: w.dir)
        defer { origin.stop() }
        let dead = "http://127.0.0.1:\(try TestFiles.freePort())/mirror/"
        try Self.makeManifest(w, "rel.manifest", version: "3.0.0", keys: ["m.key"], mirror: dead, origin: origin.url)
        // The manifest itself is served over HTTP (from the workspace directory).
        let published = try FaultyHTTPServer(root: w.dir, logDirectory: w.dir)
        defer { published.stop() }
        let url = published.url + "rel.manifest"
        let base = [
            "leech", url, "--out", w.path("out"), "--no-tracker", "--trust", w.path("m.pub"), "--state-dir",
            w.path("state"), "--json",
        ]

        let refused = try TestProcess.swtorrent(base + ["--stall-timeout", "8s"], timeout: 60)
        #expect(refused.exitCode == 3, "\(refused.stderr)")
        #expect(refused.stderr.contains("manifest artifact.tar 3.0.0 accepted"), "\(refused.stderr)")
        #expect(origin.requests.isEmpty, "the origin was contacted without --allow-origin")
        #expect(w.listing(w.path("out")).isEmpty)

        let allowed = try TestProcess.swtorrent(base + ["--allow-origin", "--stall-timeout", "60s"], timeout: 90)
        #expect(allowed.exitCode == 0, "\(allowed.stderr)")
        #expect(try Workspace.sha256(of: w.path("out/artifact.tar")) == w.sha256)
        #expect(origin.requests.allSatisfy { $0.path == "/artifact.tar" && $0.status == 206 })
        let complete = try #require(
            allowed.stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }.first { $0["event"] as? String == "complete" })
        let mirrors = try #require(complete["mirrors"] as? [[String: Any]])
        #expect(mirrors.first { $0["origin"] as? Bool == true }?["url"] as? String == origin.url)
        // The dead mirror failed (and backs off, or was dropped): the origin served while it could not.
        let deadState = mirrors.first { $0["url"] as? String == dead }?["state"] as? String
        #expect(deadState == "backing-off" || deadState == "dropped", "\(mirrors)")
        let record = try #require(try w.auditRecords(w.gateDirectory + "/audit.jsonl").last)
        let peers = try #require(record["peers"] as? [[String: Any]])
        #expect(peers.map { $0["peer"] as? String } == [origin.url])
        let manifest = try #require(record["manifest"] as? [String: Any])
        #expect(manifest["source"] as? String == url)

        // A manifest URL that is not one: a clear refusal, nothing released.
        try FileManager.default.removeItem(atPath: w.path("out"))
        let notFound = try TestProcess.swtorrent(
            ["leech", published.url + "missing.manifest", "--out", w.path("out"), "--trust", w.path("m.pub")],
            timeout: 30)
        #expect(notFound.exitCode == 1, "\(notFound.stderr)")
        #expect(notFound.stderr.contains("missing.manifest: HTTP 404"), "\(notFound.stderr)")
    }

    /// A manifest published on an internal HTTPS server (nginx) whose certificate the operator's own CA issued, and
    /// listing that server as its mirror: without `--mirror-ca` the manifest download fails naming the untrusted
    /// certificate (exit 1, nothing released); with it the node fetches the manifest and the release from it.
    @Test func aManifestAndItsMirrorOverHTTPSAreTrustedWithMirrorCA() throws {
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        try w.minisignKey("m")
        let authority = try TestCertificateAuthority(directory: w.dir)
        let nginx = try NginxServer(
            root: w.dir, certificate: authority.serverCertificate, key: authority.serverKey, directory: w.dir)
        defer { nginx.stop() }
        let mirror = nginx.url + "seed/"
        try Self.makeManifest(w, "rel.manifest", version: "4.0.0", keys: ["m.key"], mirror: mirror)
        let url = nginx.url + "rel.manifest"
        let base = [
            "leech", url, "--out", w.path("out"), "--no-tracker", "--trust", w.path("m.pub"), "--state-dir",
            w.path("state"), "--json", "--stall-timeout", "60s",
        ]

        let untrusted = try TestProcess.swtorrent(base, timeout: 60)
        #expect(untrusted.exitCode == 1, "\(untrusted.stderr)")
        #expect(
            untrusted.stderr.contains("\(url): cannot fetch the manifest: certificate not trusted"), "\(untrusted.stderr)")
        #expect(w.listing(w.path("out")).isEmpty)

        let trusted = try TestProcess.swtorrent(base + ["--mirror-ca", authority.certificate.path], timeout: 90)
        #expect(trusted.exitCode == 0, "\(trusted.stderr)")
        #expect(trusted.stderr.contains("manifest artifact.tar 4.0.0 accepted"), "\(trusted.stderr)")
        #expect(try Workspace.sha256(of: w.path("out/artifact.tar")) == w.sha256)
        let complete = try #require(
            trusted.stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }.first { $0["event"] as? String == "complete" })
        let mirrors = try #require(complete["mirrors"] as? [[String: Any]])
        let served = try #require(mirrors.first { $0["url"] as? String == mirror }, "\(mirrors)")
        #expect((served["bytes"] as? NSNumber)?.intValue == 400_000, "\(mirrors)")
    }
}
