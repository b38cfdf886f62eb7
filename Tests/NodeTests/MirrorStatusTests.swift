import Foundation
import NIOCore
@testable import Node
import Testing

/// The HTTP mirror's counters as the status endpoints show them: `/status` JSON, `/metrics` and the table.
struct MirrorStatusTests {
    /// Connections are counted by IPv4 or IPv6 address (two hosts of one IPv6 /64, a LAN subnet, are two clients); an
    /// IPv4-mapped IPv6 address is its IPv4 client.
    @Test(arguments: [
        ("192.0.2.7", "192.0.2.7", true), ("192.0.2.7", "192.0.2.8", false),
        ("2001:db8:1:2::1", "2001:db8:1:2::1", true), ("2001:db8:1:2::1", "2001:db8:1:2:ffff:1:2:3", false), ("2001:db8:1:2::1", "2001:db8:1:3::1", false),
        ("::ffff:192.0.2.7", "192.0.2.7", true), ("::ffff:192.0.2.7", "::ffff:192.0.2.8", false),
    ])
    func clientsAreIPAddresses(first: String, second: String, same: Bool) throws {
        let a = try #require(MirrorClientAddress(try SocketAddress(ipAddress: first, port: 1)))
        let b = try #require(MirrorClientAddress(try SocketAddress(ipAddress: second, port: 2)))
        #expect((a == b) == same, "\(first) and \(second)")
    }


    @Test func theMirrorsCountersReachEveryRenderingOfTheStatus() async throws {
        let statistics = MirrorServerStatistics()
        statistics.address = "127.0.0.1:8080"
        statistics.answered()
        statistics.answered()
        statistics.served(1_500_000)
        statistics.refused("private torrent")
        statistics.refused("unknown torrent")
        statistics.refused("unknown torrent")
        let one = try #require(MirrorClientAddress(try SocketAddress(ipAddress: "192.0.2.1", port: 40000)))
        let other = try #require(MirrorClientAddress(try SocketAddress(ipAddress: "192.0.2.2", port: 40000)))
        #expect(statistics.admit(one, limit: 2, perClient: 1))
        #expect(!statistics.admit(one, limit: 2, perClient: 1))
        #expect(statistics.admit(other, limit: 2, perClient: 1))
        statistics.closed(other)
        #expect(statistics.admit(nil, limit: 2, perClient: 1))
        #expect(!statistics.admit(other, limit: 2, perClient: 1))
        let board = StatusBoard(host: nil)
        #expect(await board.snapshot().httpMirror == nil)
        board.show(statistics)
        let status = await board.snapshot()
        let http = try #require(status.httpMirror)
        #expect(http.requests == 2 && http.bytesServed == 1_500_000 && http.connections == 2)
        #expect(
            http.refusals == [
                "private torrent": 1, "unknown torrent": 2, "connection limit": 1, "client connection limit": 1,
            ])

        let json = try JSONSerialization.jsonObject(with: Data(StatusService.encode(status))) as? [String: Any]
        let object = try #require(json?["httpMirror"] as? [String: Any])
        #expect(object["address"] as? String == "127.0.0.1:8080")
        #expect((object["bytesServed"] as? NSNumber)?.intValue == 1_500_000)

        let metrics = String(decoding: status.prometheus(), as: UTF8.self)
        #expect(metrics.contains("swtorrent_http_served_bytes_total 1500000"), "\(metrics)")
        #expect(metrics.contains("swtorrent_http_requests_total 2"))
        #expect(metrics.contains(#"swtorrent_http_refusals_total{reason="unknown_torrent"} 2"#), "\(metrics)")
        #expect(metrics.contains(#"swtorrent_http_refusals_total{reason="client_connection_limit"} 1"#), "\(metrics)")

        let line = try #require(status.table().split(separator: "\n").first { $0.hasPrefix("http mirror") })
        #expect(line.hasPrefix("http mirror 127.0.0.1:8080: 2 requests, "), "\(line)")
        #expect(
            line.hasSuffix(
                "refused: client connection limit 1, connection limit 1, private torrent 1, unknown torrent 2"),
            "\(line)")
    }
}
