import Engine
import Foundation
import Node
import Testing

/// The status board's bookkeeping and the three renderings of its snapshot (JSON, Prometheus, table).
struct StatusBoardTests {
    static func progress(
        verified: Int64, total: Int64 = 1000, downloaded: Int64 = 0, uploaded: Int64 = 0,
        sources: [PeerSource: Int] = [:], localities: [PeerLocality: Int] = [:]
    ) -> SessionProgress {
        SessionProgress(
            verifiedBytes: verified, totalBytes: total, piecesVerified: 0, pieceCount: 4, downloadRate: 10,
            uploadRate: 20, downloaded: downloaded, uploaded: uploaded, peers: sources.values.reduce(0, +),
            peerSources: sources, peerLocalities: localities, etaSeconds: nil, complete: verified == total,
            hashFailures: 0, bannedPeers: 0)
    }

    @Test func nodeTotalsSurviveASessionRestartAndARemoval() async {
        let board = StatusBoard(host: nil)
        board.set("a", file: "a.torrent", name: "a.bin", infoHash: "aa", state: .checking)
        board.update("a", Self.progress(verified: 1000, uploaded: 300))
        board.update("a", Self.progress(verified: 1000, uploaded: 500))
        // The session restarted: its count begins again at 0; the node's total keeps what was counted.
        board.update("a", Self.progress(verified: 1000, uploaded: 100))
        board.set("b", file: "b.torrent", name: "b.bin", infoHash: "bb", state: .checking)
        board.update("b", Self.progress(verified: 0, downloaded: 70))
        var status = await board.snapshot()
        #expect(status.uploaded == 600)
        #expect(status.downloaded == 70)
        #expect(status.torrents.map(\.state) == [.seeding, .downloading])
        board.remove("a")
        status = await board.snapshot()
        #expect(status.uploaded == 600, "a removed torrent's bytes stay in the node's totals")
        #expect(status.torrents.count == 1)
    }

    @Test func aStoppedOrFailedTorrentShowsNoPeersNorRates() async throws {
        let board = StatusBoard(host: nil)
        board.update("a", Self.progress(verified: 500, sources: [.tracker: 2], localities: [.wan: 2]))
        board.stopped("a")
        board.set("b", file: "b.torrent", state: .unparseable, message: "b.torrent: not bencoded")
        let status = await board.snapshot()
        let a = try #require(status.torrents.first { $0.state == .stopped })
        #expect(a.peers == 0 && a.peerSources.isEmpty && a.uploadRate == 0 && a.verifiedBytes == 500)
        let b = try #require(status.torrents.first { $0.file == "b.torrent" })
        #expect(b.name == nil && b.message == "b.torrent: not bencoded")
        #expect(status.table().contains("b.torrent: unparseable: b.torrent: not bencoded"))
    }

    @Test func theSnapshotRendersAsJSONPrometheusAndATable() async throws {
        let board = StatusBoard(host: nil)
        board.set("x", file: "x.torrent", name: "x.tar", infoHash: "ab12", state: .checking)
        board.update(
            "x",
            Self.progress(
                verified: 1000, uploaded: 4096, sources: [.incoming: 2, .lsd: 1], localities: [.lan: 2, .wan: 1]))
        let status = await board.snapshot()

        let decoded = try JSONDecoder().decode(NodeStatus.self, from: Data(StatusService.encode(status)))
        #expect(decoded == status)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(StatusService.encode(status))) as? [String: Any])
        let torrent = try #require((object["torrents"] as? [[String: Any]])?.first)
        #expect(torrent["peerSources"] as? [String: Int] == ["incoming": 2, "lsd": 1])
        #expect(object["peerLocalities"] as? [String: Int] == ["lan": 2, "wan": 1])

        let metrics = String(decoding: status.prometheus(), as: UTF8.self)
        for sample in [
            #"swtorrent_torrent_uploaded_bytes_total{torrent="x.tar",infohash="ab12"} 4096"#,
            #"swtorrent_uploaded_bytes_total 4096"#,
            #"swtorrent_peers{locality="lan"} 2.0"#,
            #"swtorrent_peers{locality="wan"} 1.0"#,
            #"swtorrent_torrent_peers{torrent="x.tar",infohash="ab12",locality="lan"} 2.0"#,
            #"swtorrent_torrents_by_state{state="seeding"} 1.0"#,
            #"swtorrent_refusals_total{reason="unknown_info_hash"} 0"#,
        ] {
            #expect(metrics.split(separator: "\n").contains { $0 == sample }, "missing \(sample) in \(metrics)")
        }

        let table = status.table().split(separator: "\n")
        #expect(table[0].hasPrefix("node: 1 torrent, 3 connections (LAN 2, WAN 1), up 4.1 kB"), "\(table[0])")
        #expect(table[1].hasPrefix("NAME"))
        #expect(table[2].hasPrefix("x.tar") && table[2].hasSuffix("incoming 2, lsd 1"), "\(table[2])")
    }
}
