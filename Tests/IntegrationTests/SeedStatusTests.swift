import Foundation
import Operations
import TestSupport
import Testing

/// `seed --status`: the operator's endpoints over loopback while a real leech downloads from the seed, and JSON log
/// lines on a non-terminal stderr.
@Suite(.serialized)
struct SeedStatusTests {
    @Test func statusMetricsAndHealthFollowARealTransfer() async throws {
        let dir = try TestFiles.makeTemporaryDirectory("seed-status")
        defer { TestFiles.cleanup(dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let size = 1_000_000
        try FileManager.default.createDirectory(atPath: path("seed"), withIntermediateDirectories: true)
        try TestFiles.writeRandomFile(URL(fileURLWithPath: path("seed/app.bin")), size: size, seed: 0x57a7)
        let made = try TestProcess.swtorrent(
            ["make", path("seed/app.bin"), "-a", "http://127.0.0.1:1/announce", "--no-date", "-o", path("app.torrent")],
            timeout: 60)
        #expect(made.exitCode == 0, "\(made.stderr)")

        let peerPort = try TestFiles.freePort()
        let statusPort = try TestFiles.freePort()
        // Throttled so the download takes a few seconds: long enough to see the leech connected.
        let seed = try BackgroundProcess(
            try TestProcess.swtorrentBinary(),
            ["seed", path("app.torrent"), "--data", path("seed"), "--port", "\(peerPort)", "--no-tracker",
             "--status", "\(statusPort)", "--upload-limit", "\(size / 10)", "--verbose"],
            name: "status-seed", logDirectory: dir)
        defer { seed.stop() }
        #expect(waitForPort(peerPort) && waitForPort(statusPort), "seed did not listen: \(seed.stderr)")
        #expect(seed.stderr.contains("status on http://127.0.0.1:\(statusPort)/status"), "\(seed.stderr)")

        // A connection for a torrent the node does not serve is refused and counted by reason.
        #expect(sendHandshake(port: peerPort, infoHash: [UInt8](repeating: 0xab, count: 20)))
        let health = try await EndpointClient.get(host: "127.0.0.1", port: statusPort, path: "/healthz")
        #expect(health.status == 200)
        #expect(String(decoding: health.body, as: UTF8.self) == "ok: 1 torrents, 0 failed\n")

        // A peer that handshakes for the torrent and stays: one connected peer, found by an incoming connection,
        // in every view at once.
        let info = try TestProcess.swtorrent(["info", "--json", path("app.torrent")], timeout: 30)
        let infoObject = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any]
        let infoHash = try #require((infoObject?["infoHash"] as? String).flatMap { hex in
            stride(from: 0, to: hex.count, by: 2).compactMap { offset -> UInt8? in
                let start = hex.index(hex.startIndex, offsetBy: offset)
                return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)
            }
        })
        let idle = try RawPeer.connect(port: peerPort)
        defer { close(idle) }
        try RawPeer.sendAll(idle, RawPeer.handshake(infoHash: infoHash))
        #expect(RawPeer.readExactly(idle, 68)?.count == 68, "the seed did not answer the handshake")
        var status: [String: Any] = [:]
        var torrent: [String: Any] = [:]
        var metrics = ""
        var table = ""
        let connected = try await TestFiles.waitUntilAsync(timeout: 30) {
            status = try await fetchJSON(port: statusPort)
            torrent = (status["torrents"] as? [[String: Any]])?.first ?? [:]
            guard torrent["peers"] as? Int == 1 else { return false }
            metrics = String(
                decoding: try await EndpointClient.get(host: "127.0.0.1", port: statusPort, path: "/metrics").body,
                as: UTF8.self)
            table = try TestProcess.swtorrent(["status", "127.0.0.1:\(statusPort)"], timeout: 30).stdout
            return true
        }
        #expect(connected, "the seed never showed the peer: \(status)")
        #expect(torrent["name"] as? String == "app.bin")
        #expect(torrent["state"] as? String == "seeding")
        #expect(torrent["percent"] as? Double == 100)
        #expect((torrent["peerSources"] as? [String: Int]) == ["incoming": 1])
        let localities = torrent["peerLocalities"] as? [String: Int] ?? [:]
        #expect(localities.values.reduce(0, +) == 1, "\(localities)")
        let peers = metrics.split(separator: "\n").filter { $0.hasPrefix("swtorrent_peers{") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }
        #expect(peers.reduce(0, +) == 1, "\(metrics)")
        let rows = table.split(separator: "\n")
        #expect(rows.first?.hasPrefix("node: 1 torrent, 1 connection") == true, "\(table)")
        #expect(rows.contains { $0.hasPrefix("app.bin") && $0.contains("seeding") && $0.hasSuffix("incoming 1") })
        shutdown(idle, Int32(SHUT_RDWR))  // the defer closes it

        // A real leech downloads through the throttled seed (about 10 s).
        let leech = try BackgroundProcess(
            try TestProcess.swtorrentBinary(),
            ["leech", path("app.torrent"), "--out", path("out"), "--peer", "127.0.0.1:\(peerPort)", "--no-tracker",
             "--allow-unsigned", "--json", "--stall-timeout", "40s"],
            name: "status-leech", logDirectory: dir)
        defer { leech.stop() }

        // The leech's JSON progress names its active source: the --peer it was given.
        #expect(leech.wait(timeout: 60) == 0, "\(leech.stderr)")
        #expect(leech.stdout.contains("\"sources\":{\"manual\":1}"), "\(leech.stdout.suffix(800))")

        // After it (the session reports every second): every byte uploaded is counted, per torrent and node-wide,
        // and the refusal by reason.
        let counted = try await TestFiles.waitUntilAsync(timeout: 10) {
            status = try await fetchJSON(port: statusPort)
            torrent = (status["torrents"] as? [[String: Any]])?.first ?? [:]
            return torrent["uploaded"] as? Int ?? 0 >= size
        }
        #expect(counted, "\(status)")
        #expect(status["uploaded"] as? Int ?? 0 >= size)
        #expect((status["refusals"] as? [String: Int])?["unknown info-hash"] == 1, "\(status)")
        metrics = String(
            decoding: try await EndpointClient.get(host: "127.0.0.1", port: statusPort, path: "/metrics").body,
            as: UTF8.self)
        let uploadedLine = metrics.split(separator: "\n").first {
            $0.hasPrefix("swtorrent_torrent_uploaded_bytes_total{") && $0.contains("torrent=\"app.bin\"")
        }
        let uploaded = uploadedLine.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        #expect(uploaded >= size, "\(metrics)")
        #expect(metrics.contains("swtorrent_refusals_total{reason=\"unknown_info_hash\"} 1"), "\(metrics)")

        let notFound = try await EndpointClient.get(host: "127.0.0.1", port: statusPort, path: "/nope")
        #expect(notFound.status == 404)
        #expect(String(decoding: notFound.body, as: UTF8.self).contains("/healthz /metrics /status"))

        // `swtorrent status --json` prints the endpoint's object.
        let json = try TestProcess.swtorrent(["status", "--json", "\(statusPort)"], timeout: 30)
        let decoded = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((decoded?["torrents"] as? [[String: Any]])?.count == 1, "\(json.stdout)")

        // stderr is not a terminal: every log line is one JSON object; the CLI's own reports stay plain.
        leech.stop()
        seed.stop()
        let lines = seed.stderr.split(separator: "\n")
        let logLines = lines.filter { !$0.hasPrefix("swtorrent seed: ") }
        #expect(logLines.count > 3, "\(seed.stderr.prefix(2000))")
        for line in logLines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["level"] is String && object?["message"] is String, "not a JSON log line: \(line)")
        }
    }

    @Test func statusOfANodeThatIsNotThereFailsWithTheAddress() throws {
        let port = try TestFiles.freePort()
        let result = try TestProcess.swtorrent(["status", "127.0.0.1:\(port)"], timeout: 30)
        #expect(result.exitCode == 1)
        #expect(result.stderr.contains("swtorrent status: 127.0.0.1:\(port): cannot fetch /status"), "\(result.stderr)")
        let bad = try TestProcess.swtorrent(["status", "no-port-here"], timeout: 30)
        #expect(bad.exitCode == 2)
        #expect(bad.stderr.contains("expected HOST:PORT"), "\(bad.stderr)")
    }

    @Test func aTakenStatusPortIsAClearError() throws {
        let dir = try TestFiles.makeTemporaryDirectory("seed-status-taken")
        defer { TestFiles.cleanup(dir) }
        let taken = try BackgroundProcess(
            "python3", ["-c", "import socket,time;s=socket.socket();s.bind(('127.0.0.1',0));s.listen();"
                + "print(s.getsockname()[1],flush=True);time.sleep(60)"],
            name: "holder", logDirectory: dir)
        defer { taken.stop() }
        #expect(TestFiles.waitUntil(timeout: 10) { Int(taken.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) != nil })
        let port = try #require(Int(taken.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let result = try TestProcess.swtorrent(
            ["seed", "/nonexistent.torrent", "--data", dir.path, "--status", "127.0.0.1:\(port)"], timeout: 30)
        #expect(result.exitCode == 1)
        #expect(result.stderr.contains("status address 127.0.0.1:\(port): cannot listen"), "\(result.stderr)")
    }

    private func fetchJSON(port: Int) async throws -> [String: Any] {
        let response = try await EndpointClient.get(host: "127.0.0.1", port: port, path: "/status")
        return try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] ?? [:]
    }

    /// Sends a BitTorrent handshake for `infoHash` and waits (bounded) for the peer to close the connection.
    private func sendHandshake(port: Int, infoHash: [UInt8]) -> Bool {
        guard let fd = try? RawPeer.connect(port: port) else { return false }
        defer { close(fd) }
        guard (try? RawPeer.sendAll(fd, RawPeer.handshake(infoHash: infoHash))) != nil else {
            return false
        }
        return RawPeer.readsUntilClosed(fd, timeout: 10)
    }
}
