import Foundation
@testable import Node
import Testing

/// The HTTP mirror's counters as the status endpoints show them: `/status` JSON, `/metrics` and the table.
struct MirrorStatusTests {
    @Test func theMirrorsCountersReachEveryRenderingOfTheStatus() async throws {
        let statistics = MirrorServerStatistics()
        statistics.address = "127.0.0.1:8080"
        statistics.answered()
        statistics.answered()
        statistics.served(1_500_000)
        statistics.refused("private torrent")
        statistics.refused("unknown torrent")
        statistics.refused("unknown torrent")
        #expect(statistics.admit(limit: 1))
        #expect(!statistics.admit(limit: 1))
        let board = StatusBoard(host: nil)
        #expect(await board.snapshot().httpMirror == nil)
        board.show(statistics)
        let status = await board.snapshot()
        let http = try #require(status.httpMirror)
        #expect(http.requests == 2 && http.bytesServed == 1_500_000 && http.connections == 1)
        #expect(http.refusals == ["private torrent": 1, "unknown torrent": 2, "connection limit": 1])

        let json = try JSONSerialization.jsonObject(with: Data(StatusService.encode(status))) as? [String: Any]
        let object = try #require(json?["httpMirror"] as? [String: Any])
        #expect(object["address"] as? String == "127.0.0.1:8080")
        #expect((object["bytesServed"] as? NSNumber)?.intValue == 1_500_000)

        let metrics = String(decoding: status.prometheus(), as: UTF8.self)
        #expect(metrics.contains("swtorrent_http_served_bytes_total 1500000"), "\(metrics)")
        #expect(metrics.contains("swtorrent_http_requests_total 2"))
        #expect(metrics.contains(#"swtorrent_http_refusals_total{reason="unknown_torrent"} 2"#), "\(metrics)")

        let line = try #require(status.table().split(separator: "\n").first { $0.hasPrefix("http mirror") })
        #expect(line.hasPrefix("http mirror 127.0.0.1:8080: 2 requests, "), "\(line)")
        #expect(line.hasSuffix("refused: connection limit 1, private torrent 1, unknown torrent 2"), "\(line)")
    }
}
