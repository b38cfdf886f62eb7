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
        let result = try TestProcess.swtorrent(
            ["leech", appliance.path("pkg.torrent"), "--out", appliance.path("out"), "--no-tracker", "--allow-unsigned",
             "--json", "--verbose", "--stall-timeout", "20s", "--mirror", mirror, "--key", appliance.path("leech.key"),
             "--allow", appliance.path("fleet.allow")],
            timeout: 120)
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
}
