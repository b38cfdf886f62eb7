import Engine
import Foundation
import Node
import SignatureGate
import Synchronization
import TestSupport
import Testing

/// A manifest mirror's `site` against the node's (`leech --site`): same site LAN, another site WAN, whatever the
/// address; no site on either side leaves the address rules (Docs/manifest.md, "Sites").
extension ManifestLeechTests {
    static let siteCases: [(mirrorSite: String?, nodeSite: String?, expected: PeerLocality?)] = [
        ("A", "A", .lan),
        ("B", "A", .wan),
        ("a", "A", .wan),  // names are compared exactly
        (nil, "A", nil),
        ("A", nil, nil),
        (nil, nil, nil),
    ]

    @Test(arguments: siteCases)
    func aMirrorsSiteDecidesItsLocalityOnlyWhenBothSidesNameOne(
        mirrorSite: String?, nodeSite: String?, expected: PeerLocality?
    ) {
        let url = "http://10.9.8.7/pub/"
        let localities = ManifestLeech.mirrorLocalities([.init(url: url, site: mirrorSite)], site: nodeSite)
        #expect(localities[url] == expected)
        #expect(localities.count == (expected == nil ? 0 : 1))
    }

    /// Two live mirrors that the address rules would both call WAN (`wanNetworks` covers loopback): the one whose
    /// site is the node's is LAN and serves every byte; the other site's mirror, a WAN mirror on standby while a LAN
    /// mirror is active, is never asked. The progress reports both localities.
    @Test(.timeLimit(.minutes(2)))
    func theNodesSiteMakesAMirrorLANWhateverItsAddress() async throws {
        let f = try NodeFixture("manifest-site")
        defer { f.cleanup() }
        let home = try FaultyHTTPServer(root: URL(fileURLWithPath: f.source), logDirectory: f.root)
        defer { home.stop() }
        let away = try FaultyHTTPServer(root: URL(fileURLWithPath: f.source), logDirectory: f.root)
        defer { away.stop() }
        let signed = try Self.sign(
            try Self.manifest(f) {
                // The other site's mirror first: the order in the manifest is not what decides.
                $0.mirrors = [.init(url: away.url, site: "dc-b"), .init(url: home.url, site: "dc-a")]
            }, with: f.signer)
        var leech = try Self.leech(f, signed)
        leech.site = "dc-a"
        leech.configuration.wanNetworks = [try CIDR(parsing: "127.0.0.0/8")]
        leech.host = RunningSeed.host()
        let last = Mutex<SessionProgress?>(nil)
        let outcome = try await leech.run(events: { event in
            if case .downloadEnded(.complete(let progress)) = event { last.withLock { $0 = progress } }
        })
        await leech.host?.shutdown()
        #expect(try Self.expectReleased(outcome, f) == [home.url])
        #expect(Set(home.requests.map(\.path)) == ["/rel/app.tar", "/rel/lib.so"])
        #expect(away.requests.isEmpty, "the other site's mirror was asked: \(away.requests)")
        let progress = try #require(last.withLock { $0 })
        let localities = Dictionary(uniqueKeysWithValues: progress.mirrors.map { ($0.url, $0.locality) })
        #expect(localities == [home.url: .lan, away.url: .wan])
    }
}
