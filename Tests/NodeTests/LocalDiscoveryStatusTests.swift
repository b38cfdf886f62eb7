import Foundation
import LocalDiscovery
import Testing

@testable import Node

/// Local discovery's counts as the status endpoints show them: `/status` JSON (and back, as `swtorrent status`
/// reads it), `/metrics` and the table, the seeds' dial budget and per-host bound included.
struct LocalDiscoveryStatusTests {
    @Test func theDialCountsReachEveryRenderingOfTheStatus() throws {
        var statistics = LocalDiscoveryStatistics()
        statistics.torrents = 1
        statistics.sent = 3
        statistics.accepted = 41
        statistics.peersReported = 41
        statistics.dropped = [.ownCookie: 3]
        var status = NodeStatus(
            uptimeSeconds: 10, listenPort: 6881, connections: 1, downloaded: 0, uploaded: 0, refusals: [:],
            torrents: [])
        status.localDiscovery = NodeStatus.LocalDiscoveryStatus(statistics, dialsDeferred: 35, addressesReplaced: 32)

        let encoded = StatusService.encode(status)
        let json = try JSONSerialization.jsonObject(with: Data(encoded)) as? [String: Any]
        let object = try #require(json?["localDiscovery"] as? [String: Any])
        #expect(object["dialsDeferred"] as? Int == 35 && object["addressesReplaced"] as? Int == 32, "\(object)")
        #expect(try JSONDecoder().decode(NodeStatus.self, from: Data(encoded)).localDiscovery == status.localDiscovery)

        let metrics = String(decoding: status.prometheus(), as: UTF8.self)
        #expect(metrics.contains("swtorrent_lsd_dials_deferred_total 35"), "\(metrics)")
        #expect(metrics.contains("swtorrent_lsd_addresses_replaced_total 32"), "\(metrics)")

        let line = try #require(status.table().split(separator: "\n").first { $0.hasPrefix("local discovery") })
        #expect(
            line == "local discovery: 1 announced, 3 sent, 41 accepted, 3 dropped, 41 peers found, 35 dials deferred, "
                + "32 addresses replaced", "\(line)")
        status.localDiscovery = NodeStatus.LocalDiscoveryStatus(statistics)
        let quiet = try #require(status.table().split(separator: "\n").first { $0.hasPrefix("local discovery") })
        #expect(quiet.hasSuffix("41 peers found"), "nothing deferred or replaced, nothing said: \(quiet)")
    }

    /// A node that predates the dial counts (a daemon not yet restarted after an upgrade) is still read: they are 0.
    @Test func aStatusWithoutTheDialCountsIsReadWithZeros() throws {
        let older = #"{"torrents":2,"sent":5,"accepted":7,"dropped":{"own cookie":1},"peersReported":6}"#
        let decoded = try JSONDecoder().decode(NodeStatus.LocalDiscoveryStatus.self, from: Data(older.utf8))
        #expect(decoded.torrents == 2 && decoded.sent == 5 && decoded.accepted == 7 && decoded.peersReported == 6)
        #expect(decoded.dropped == ["own cookie": 1])
        #expect(decoded.dialsDeferred == 0 && decoded.addressesReplaced == 0)
    }
}
