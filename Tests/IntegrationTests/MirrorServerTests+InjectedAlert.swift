import Foundation
import TestSupport
import Testing

extension MirrorServerTests {
    /// A keyed leech reaches the appliance's HTTPS mirror of a private torrent through a proxy that answers the first
    /// connection's ClientHello with an injected fatal `handshake_failure` alert (``TLSAlertProxy``). The mirror is
    /// switched to verified TLS, whose handshake the appliance refuses (it takes TLS 1.3 with Ed25519 only), and then
    /// back to the node certificate's settings (one failure, a 1 s backoff) rather than failing with verified TLS
    /// until it is dropped: the leech completes from the mirror alone.
    @Test(.timeLimit(.minutes(3)))
    func anInjectedHandshakeFailureDoesNotLeaveTheApplianceMirrorOnVerifiedTLS() throws {
        let appliance = try Appliance("mirror-tls-alert", privateSwarm: true)
        let proxy = try TLSAlertProxy(target: appliance.httpPort, logDirectory: appliance.dir)
        defer { proxy.stop() }
        let mirror = "https://127.0.0.1:\(proxy.port)/t/\(appliance.infoHash)/"
        let result = try Self.keyedLeech(appliance, mirror: mirror, stall: "20s")
        #expect(result.exitCode == 0, "\(result.stderr.suffix(4000))")
        for name in Appliance.sizes.keys {
            let copy = try Data(contentsOf: URL(fileURLWithPath: appliance.path("out/pkg/\(name)")))
            #expect(copy == (try appliance.bytes(name)), "\(name)")
        }
        // The injection happened: the first connection got the alert, later ones reached the appliance.
        let connections = proxy.connections
        #expect(connections.first == "alert", "\(connections)")
        #expect(connections.count >= 2, "\(connections)")

        let complete = try #require(
            MirrorHTTPSTests.events(result.stdout).first { $0["event"] as? String == "complete" })
        #expect(complete["peers"] as? Int == 0)
        let mirrors = try #require(complete["mirrors"] as? [[String: Any]])
        #expect(mirrors.count == 1)
        let used = try #require(mirrors.first)
        #expect(used["url"] as? String == mirror)
        #expect(used["state"] as? String == "active", "\(used)")
        #expect((used["bytes"] as? NSNumber)?.intValue == Appliance.total, "\(used)")
        #expect(used["failures"] as? Int == 0, "\(used)")
        // Switched to verified TLS (the log), which the appliance refuses, and switched back (the reason of its one
        // failure, and the log).
        let reason = try #require(used["reason"] as? String, "\(used)")
        #expect(reason.hasPrefix("1 failure, backing off 1 s ("), "\(reason)")
        #expect(reason.hasSuffix(MirrorHTTPSTests.backToTheNodeCertificate), "\(reason)")
        #expect(result.stderr.contains("verifying the server from now on"), "\(result.stderr.suffix(4000))")
        #expect(result.stderr.contains("presenting the node's certificate again"), "\(result.stderr.suffix(4000))")
    }

    /// An attacker who keeps injecting (every connection gets the alert) cannot make the node spin: each round (node
    /// settings, then verified ones) counts one failure and a backoff, and the mirror is dropped at the limit, after
    /// 1 + 2 + 4 + 8 s of backoff, with a bounded number of connections.
    @Test(.timeLimit(.minutes(3)))
    func aMirrorBehindAnAttackerWhoKeepsInjectingIsDroppedAtTheLimitWithoutSpinning() throws {
        let appliance = try Appliance("mirror-tls-alerts", privateSwarm: true)
        let proxy = try TLSAlertProxy(target: appliance.httpPort, alertFirst: 1_000_000, logDirectory: appliance.dir)
        defer { proxy.stop() }
        let result = try Self.keyedLeech(
            appliance, mirror: "https://127.0.0.1:\(proxy.port)/t/\(appliance.infoHash)/", stall: "20s")
        #expect(result.exitCode == 3, "\(result.stderr.suffix(4000))")
        #expect(!FileManager.default.fileExists(atPath: appliance.path("out/pkg/a.bin")))
        let stalled = try #require(
            MirrorHTTPSTests.events(result.stdout).first { $0["event"] as? String == "stalled" })
        let dropped = try #require((stalled["mirrors"] as? [[String: Any]])?.first)
        #expect(dropped["state"] as? String == "dropped", "\(dropped)")
        let reason = try #require(dropped["reason"] as? String, "\(dropped)")
        #expect(reason.hasPrefix("5 failures in a row (last: "), "\(reason)")
        // 5 rounds of at most a few requests each (4 at once per mirror); a spin would make hundreds.
        let connections = proxy.connections
        #expect(connections.count >= 10 && connections.count <= 60, "\(connections.count) connections")
        #expect(connections.allSatisfy { $0 == "alert" })
        // The fifth round (the last connections) comes after 1 + 2 + 4 + 8 s of backoff from the first (less 1 s of
        // slack).
        let times = proxy.connectionTimes
        let first = try #require(times.first), last = try #require(times.last)
        #expect(last - first >= 14, "first to last connection: \(last - first) s, dropped before the backoffs ended")
    }

    /// `swtorrent leech` of the appliance's torrent from `mirror` alone, with the node key `leech` (listed), `--json`
    /// and `--verbose` (the mirror's switches are logged at info).
    static func keyedLeech(_ appliance: Appliance, mirror: String, stall: String) throws -> ProcessResult {
        try TestProcess.swtorrent(
            ["leech", appliance.path("pkg.torrent"), "--out", appliance.path("out"), "--no-tracker", "--allow-unsigned",
             "--json", "--verbose", "--stall-timeout", stall, "--mirror", mirror, "--key", appliance.path("leech.key"),
             "--allow", appliance.path("fleet.allow")],
            timeout: 120)
    }
}
