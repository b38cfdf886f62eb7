import Bencode
import CryptoPrimitives
import Foundation
import Identity
import Logging
import Prometheus
import SwarmPrimitives
import TestSupport
import Testing

@testable import Tracker

/// A tracker served in-process on loopback for the length of one test.
final class TrackerFixture {
    let directory: URL
    let allowlistURL: URL
    let registry = PrometheusCollectorRegistry()
    let server: TrackerServer
    let task: Task<Void, any Error>
    let port: Int
    let metricsPort: Int

    static let passkeyA = "passkeyAAAAAAAAAAAAAAAAAAAAAAAAA"
    static let passkeyB = "passkeyBBBBBBBBBBBBBBBBBBBBBBBBBB"

    init(
        allowlist: String = "passkey \(passkeyA) client-a\npasskey \(passkeyB) client-b\n",
        torrents: [(name: String, bytes: [UInt8])]? = nil,
        configure: (inout TrackerConfiguration) -> Void = { _ in }
    ) async throws {
        directory = try TestFiles.makeTemporaryDirectory("tracker-test")
        allowlistURL = directory.appendingPathComponent("allowlist")
        try Data(allowlist.utf8).write(to: allowlistURL)
        var configuration = TrackerConfiguration(
            listenHost: "127.0.0.1", listenPort: 0, allowlistPath: allowlistURL.path)
        configuration.metricsHost = "127.0.0.1"
        configuration.interval = 60
        configuration.threads = 2
        if let torrents {
            let torrentsDirectory = directory.appendingPathComponent("torrents")
            try FileManager.default.createDirectory(at: torrentsDirectory, withIntermediateDirectories: true)
            for torrent in torrents {
                try Data(torrent.bytes).write(to: torrentsDirectory.appendingPathComponent(torrent.name))
            }
            configuration.torrentsDirectory = torrentsDirectory.path
        }
        configure(&configuration)
        var logger = Logger(label: "tracker-test")
        logger.logLevel = .critical
        let server = try TrackerServer(configuration: configuration, registry: registry, logger: logger)
        self.server = server
        task = Task { try await server.run() }
        var bound: TrackerServer.BoundPorts? = nil
        for await ports in server.boundPorts {
            bound = ports
            break
        }
        guard let bound else {
            task.cancel()
            _ = await task.result
            throw RawHTTPError(description: "tracker did not start: \(String(describing: await task.result))")
        }
        port = bound.tracker
        metricsPort = bound.metrics ?? 0
    }

    func stop() async {
        task.cancel()
        _ = await task.result
        TestFiles.cleanup(directory)
    }

    func writeAllowlist(_ text: String) throws {
        try Data(text.utf8).write(to: allowlistURL)
    }

    /// The value of a Prometheus sample line, e.g. `tracker_refusals_total{cause="unknown_key"}`.
    func metric(_ sample: String) throws -> Double? {
        let response = try httpGet(port: metricsPort, "/metrics")
        let text = String(decoding: response.body, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.dropFirst(sample.count + 1))
        }
        return nil
    }
}

/// Percent-encodes every byte.
func percentEncoded(_ bytes: [UInt8]) -> String {
    bytes.map { "%" + hex2($0) }.joined()
}

func announceTarget(
    passkey: String?, hash: InfoHash = sampleHash, peer: Int, port: Int, left: Int = 100, event: String? = nil,
    numwant: Int? = nil, extra: String = ""
) -> String {
    let prefix = passkey.map { "/\($0)/announce" } ?? "/announce"
    return prefix + "?info_hash=\(percentEncoded(hash.bytes))&peer_id=\(percentEncoded(peerID(peer).bytes))"
        + "&port=\(port)&uploaded=0&downloaded=0&left=\(left)&compact=1"
        + (event.map { "&event=\($0)" } ?? "") + (numwant.map { "&numwant=\($0)" } ?? "") + extra
}

func bencoded(_ response: RawHTTPResponse) throws -> BencodeValue {
    try BencodeDecoder().decode(response.body)
}

func failureReason(_ response: RawHTTPResponse) -> String? {
    (try? bencoded(response))?["failure reason"]?.utf8String
}

@Suite(.serialized)
struct TrackerServerTests {
    @Test func passkeyPeersLearnEachOther() async throws {
        let tracker = try await TrackerFixture()
        let first = try httpGet(
            port: tracker.port, announceTarget(passkey: TrackerFixture.passkeyA, peer: 1, port: 5001))
        #expect(first.status == 200)
        #expect(try bencoded(first)["peers"]?.bytes == [])
        let second = try httpGet(
            port: tracker.port, announceTarget(passkey: TrackerFixture.passkeyB, peer: 2, port: 5002, left: 0))
        let body = try bencoded(second)
        #expect(compactPeers(body["peers"]?.bytes ?? []) == ["127.0.0.1:5001"])
        #expect(body["complete"]?.integer == 1)
        #expect(body["incomplete"]?.integer == 1)
        #expect(body["interval"]?.integer == 60)
        let scrape = try httpGet(
            port: tracker.port, "/\(TrackerFixture.passkeyA)/scrape?info_hash=\(percentEncoded(sampleHash.bytes))")
        let files = try bencoded(scrape)["files"]
        #expect(files?[bytes: sampleHash.bytes]?["complete"]?.integer == 1)
        #expect(files?[bytes: sampleHash.bytes]?["incomplete"]?.integer == 1)
        #expect(try tracker.metric("tracker_announces_total{kind=\"passkey\"}") == 2)
        #expect(try tracker.metric("tracker_scrapes_total") == 1)
        #expect(try tracker.metric("tracker_peers") == 2)
        #expect(try tracker.metric("tracker_swarms") == 1)
        await tracker.stop()
    }

    @Test func signedAnnouncesAndEveryRefusalCause() async throws {
        let node = try NodeKey.generate(name: "node-1")
        let stranger = try NodeKey.generate(name: "stranger")
        let revoked = try NodeKey.generate(name: "old-node")
        let torrent = sampleTorrent(name: "a.bin")
        let tracker = try await TrackerFixture(
            allowlist:
                "\(node.allowlistLine)\nrevoked \(revoked.allowlistLine)\npasskey \(TrackerFixture.passkeyA) a\n",
            torrents: [("a.torrent", torrent.bytes)])
        let host = "127.0.0.1:\(tracker.port)"
        let now = Int64(Date().timeIntervalSince1970)

        func signed(
            _ key: NodeKey, hash: InfoHash = torrent.hash, port: UInt16 = 6000, signedPort: UInt16? = nil,
            timestamp: Int64 = now, path: String = "/announce"
        ) throws -> RawHTTPResponse {
            let items = try SignedAnnounce.sign(
                infoHash: hash.bytes, peerID: peerID(7).bytes, port: signedPort ?? port, event: .started, host: host,
                path: path, key: key, timestamp: timestamp)
            let target =
                announceTarget(passkey: nil, hash: hash, peer: 7, port: Int(port), event: "started")
                + "&" + SignedAnnounce.queryString(items)
            return try httpGet(port: tracker.port, target, headers: ["Host": host])
        }

        let good = try signed(node)
        #expect(good.status == 200)
        #expect(failureReason(good) == nil)
        #expect(try bencoded(good)["incomplete"]?.integer == 1)

        let cases: [(RawHTTPResponse, RefusalCause, String)] = [
            (try signed(stranger), .unknownKey, "unknown node key"),
            (try signed(revoked), .revokedKey, "revoked node key"),
            (try signed(node, port: 6001, signedPort: 6002), .badSignature, "bad signature"),
            (try signed(node, timestamp: now - 3600), .staleTimestamp, "stale timestamp"),
            (try signed(node, hash: sampleHash), .unregisteredTorrent, "unregistered torrent"),
            (
                try httpGet(port: tracker.port, announceTarget(passkey: nil, peer: 1, port: 1)), .malformedRequest,
                "malformed signed announce"
            ),
            (
                try httpGet(
                    port: tracker.port, "/\(TrackerFixture.passkeyA)/announce?info_hash=short&peer_id=x&port=1&left=0"),
                .malformedRequest, "malformed request"
            ),
            (
                try httpGet(
                    port: tracker.port, announceTarget(passkey: "nosuchpasskeynosuchpasskey", peer: 1, port: 1)),
                .unknownKey, "unknown passkey"
            ),
        ]
        var reasons = Set<String>()
        for (response, cause, prefix) in cases {
            #expect(response.status == 200)
            let reason = failureReason(response) ?? "<none>"
            #expect(reason.hasPrefix(prefix), "expected \(cause): \(reason)")
            reasons.insert(reason)
        }
        #expect(reasons.count == cases.count)
        for cause in RefusalCause.allCases {
            let count = try tracker.metric("tracker_refusals_total{cause=\"\(cause.rawValue)\"}") ?? 0
            #expect(count >= 1, "no refusal counted for \(cause)")
        }
        #expect(try tracker.metric("tracker_announces_total{kind=\"signed\"}") == 1)
        await tracker.stop()
    }

    /// Signed announces are verified off the announce loop; pipelined behind and ahead of passkey announces on one
    /// connection they are still answered in request order, and a `Connection: close` after them closes.
    @Test func pipelinedSignedAndPasskeyAnnouncesAnswerInOrder() async throws {
        let node = try NodeKey.generate(name: "node-1")
        let tracker = try await TrackerFixture(
            allowlist: "\(node.allowlistLine)\npasskey \(TrackerFixture.passkeyA) a\n")
        let host = "127.0.0.1:\(tracker.port)"
        let now = Int64(Date().timeIntervalSince1970)
        func signedTarget(peer: Int, timestamp: Int64) throws -> String {
            let items = try SignedAnnounce.sign(
                infoHash: sampleHash.bytes, peerID: peerID(peer).bytes, port: 6000, event: .started, host: host,
                path: "/announce", key: node, timestamp: timestamp)
            return announceTarget(passkey: nil, peer: peer, port: 6000, event: "started") + "&"
                + SignedAnnounce.queryString(items)
        }
        let targets = [
            try signedTarget(peer: 1, timestamp: now),
            announceTarget(passkey: TrackerFixture.passkeyA, peer: 2, port: 6001),
            try signedTarget(peer: 3, timestamp: now - 3600),
            try signedTarget(peer: 4, timestamp: now),
        ]
        let connection = try RawHTTPConnection(port: tracker.port)
        let requests = targets.enumerated().map { index, target in
            "GET \(target) HTTP/1.1\r\nHost: \(host)\r\n" + (index == targets.count - 1 ? "Connection: close\r\n" : "")
                + "\r\n"
        }
        try connection.send(requests.joined())
        var answers: [String] = []
        for _ in targets {
            let body = try bencoded(try connection.readResponse())
            let failure = body["failure reason"]?.utf8String.map { String($0.prefix(15)) }
            answers.append(failure ?? "ok \(body["incomplete"]?.integer ?? -1)")
        }
        #expect(answers == ["ok 1", "ok 2", "stale timestamp", "ok 3"])
        #expect(try connection.waitForClose())
        #expect(try tracker.metric("tracker_announces_total{kind=\"signed\"}") == 2)
        await tracker.stop()
    }

    /// Revocation takes effect with the reload itself: the reload counter moves only after the announce loop has
    /// the new list and has purged the revoked peers, so the first announce after it must already be refused. (The
    /// file is polled every 250 ms; how soon a reload follows an edit depends on the machine's load, so the test
    /// waits for the reload, bounded, rather than timing it.)
    @Test func removedPasskeyIsRevokedAndItsPeersDisappearAtTheReload() async throws {
        let tracker = try await TrackerFixture()
        _ = try httpGet(port: tracker.port, announceTarget(passkey: TrackerFixture.passkeyA, peer: 1, port: 5001))
        let before = try httpGet(
            port: tracker.port, announceTarget(passkey: TrackerFixture.passkeyB, peer: 2, port: 5002))
        #expect(compactPeers(try bencoded(before)["peers"]?.bytes ?? []) == ["127.0.0.1:5001"])

        try tracker.writeAllowlist("passkey \(TrackerFixture.passkeyB) client-b\n")
        #expect(try await waitForMetric(tracker, "tracker_reloads_total{result=\"ok\"}", atLeast: 1))
        let refused = try httpGet(
            port: tracker.port, announceTarget(passkey: TrackerFixture.passkeyA, peer: 1, port: 5001))
        #expect(
            failureReason(refused)?.hasPrefix("revoked passkey") == true,
            "first announce after the reload: \(failureReason(refused) ?? "accepted")")
        let after = try httpGet(
            port: tracker.port, announceTarget(passkey: TrackerFixture.passkeyB, peer: 2, port: 5002))
        #expect(try bencoded(after)["peers"]?.bytes == [])
        #expect(try tracker.metric("tracker_revoked_peers_purged_total") == 1)

        // A broken file is refused and the previous list kept.
        try tracker.writeAllowlist("this is not an allowlist\n")
        #expect(try await waitForMetric(tracker, "tracker_reloads_total{result=\"failed\"}", atLeast: 1))
        let still = try httpGet(
            port: tracker.port, announceTarget(passkey: TrackerFixture.passkeyB, peer: 2, port: 5002))
        #expect(failureReason(still) == nil)
        // Re-adding the key makes it work again.
        try tracker.writeAllowlist("passkey \(TrackerFixture.passkeyA) a\npasskey \(TrackerFixture.passkeyB) b\n")
        #expect(try await waitForMetric(tracker, "tracker_reloads_total{result=\"ok\"}", atLeast: 2))
        let back = try httpGet(
            port: tracker.port, announceTarget(passkey: TrackerFixture.passkeyA, peer: 1, port: 5001))
        #expect(failureReason(back) == nil)
        await tracker.stop()
    }

    @Test func keepAliveAndPipelining() async throws {
        let tracker = try await TrackerFixture()
        let connection = try RawHTTPConnection(port: tracker.port)
        for n in 0..<3 {
            let response = try connection.get(announceTarget(passkey: TrackerFixture.passkeyA, peer: n, port: 5000 + n))
            #expect(response.status == 200)
            #expect(response.header("Connection") == nil)
        }
        // Three requests in one write: three responses, in order.
        let pipelined = (10..<13).map {
            let target = announceTarget(passkey: TrackerFixture.passkeyA, peer: $0, port: 6000, numwant: 0)
            return "GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n"
        }.joined()
        try connection.send(pipelined + "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        var incomplete: [Int] = []
        for _ in 0..<3 {
            incomplete.append(Int(try bencoded(try connection.readResponse())["incomplete"]?.integer ?? -1))
        }
        #expect(incomplete == [4, 5, 6])
        #expect(try connection.readResponse().status == 404)
        await tracker.stop()
    }

    /// Pipelined requests with large responses (200 peers each) to a client with a small receive buffer: every
    /// response arrives complete and in order. (Loopback send buffers grow to MiBs, so writes that the socket only
    /// partly takes need far more data: a by-hand run of 4,000 such requests, 5.4 MB of responses, under strace
    /// showed short writes, EPOLLOUT waits and every response delivered.)
    @Test func pipelinedLargeResponsesArriveCompleteAndInOrder() async throws {
        let tracker = try await TrackerFixture()
        let filler = try RawHTTPConnection(port: tracker.port)
        for n in 0..<210 {
            _ = try filler.get(announceTarget(passkey: TrackerFixture.passkeyA, peer: n, port: 1000 + n, numwant: 0))
        }
        let slow = try RawHTTPConnection(port: tracker.port, receiveBuffer: 4096)
        let count = 40
        let requests = (0..<count).map {
            let target = announceTarget(passkey: TrackerFixture.passkeyA, peer: 500 + $0, port: 7000, numwant: 200)
            return "GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n"
        }
        try slow.send(requests.joined())
        var incomplete: [Int] = []
        for _ in 0..<count {
            let body = try bencoded(try slow.readResponse())
            #expect(compactPeers(body["peers"]?.bytes ?? []).count == 200)
            incomplete.append(Int(body["incomplete"]?.integer ?? -1))
        }
        #expect(incomplete == Array(211...(210 + count)))
        await tracker.stop()
    }

    @Test func forwardedForOnlyWhenConfigured() async throws {
        for trust in [false, true] {
            let tracker = try await TrackerFixture { $0.trustForwardedFor = trust }
            let headers = ["X-Forwarded-For": "203.0.113.9, 198.51.100.7"]
            _ = try httpGet(
                port: tracker.port, announceTarget(passkey: TrackerFixture.passkeyA, peer: 1, port: 5001),
                headers: headers)
            let response = try httpGet(
                port: tracker.port, announceTarget(passkey: TrackerFixture.passkeyB, peer: 2, port: 5002))
            let expected = trust ? "198.51.100.7:5001" : "127.0.0.1:5001"
            #expect(compactPeers(try bencoded(response)["peers"]?.bytes ?? []) == [expected])
            await tracker.stop()
        }
    }

    @Test func ipv6ClientsGetPeers6() async throws {
        let tracker = try await TrackerFixture { $0.listenHost = "::1" }
        _ = try RawHTTPConnection(port: tracker.port, host: "::1").get(
            announceTarget(passkey: TrackerFixture.passkeyA, peer: 1, port: 0x1234), close: true)
        let response = try RawHTTPConnection(port: tracker.port, host: "::1").get(
            announceTarget(passkey: TrackerFixture.passkeyB, peer: 2, port: 5002), close: true)
        let body = try bencoded(response)
        #expect(body["peers6"]?.bytes == [UInt8](repeating: 0, count: 15) + [1, 0x12, 0x34])
        await tracker.stop()
    }

    @Test func requestLimitsAndBadRequests() async throws {
        let tracker = try await TrackerFixture()
        // Over the target limit but inside the header limit: 414 and closed.
        let longTarget = "/\(TrackerFixture.passkeyA)/announce?x=" + String(repeating: "a", count: 9000)
        let long = try RawHTTPConnection(port: tracker.port)
        #expect(try long.get(longTarget).status == 414)
        #expect(try long.waitForClose())
        // A request line far over every limit: refused and closed, never buffered without bound.
        let huge = try RawHTTPConnection(port: tracker.port)
        try? huge.send("GET /announce?" + String(repeating: "a", count: 200_000) + " HTTP/1.1\r\n\r\n")
        let hugeResponse = try? huge.readResponse()
        #expect(hugeResponse == nil || [400, 414, 431].contains(hugeResponse!.status))
        #expect(try huge.waitForClose())
        // Too many header fields.
        let headers = try RawHTTPConnection(port: tracker.port)
        try headers.send("GET /announce HTTP/1.1\r\n" + (0..<100).map { "X-\($0): y\r\n" }.joined() + "\r\n")
        #expect([400, 431].contains(try headers.readResponse().status))
        // Garbage, other methods, unknown paths.
        let garbage = try RawHTTPConnection(port: tracker.port)
        try garbage.send("\u{1}\u{2}\u{3} nonsense\r\n\r\n")
        #expect(try garbage.readResponse().status == 400)
        let post = try RawHTTPConnection(port: tracker.port)
        try post.send("POST /announce HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        #expect(try post.readResponse().status == 405)
        #expect(try httpGet(port: tracker.port, "/favicon.ico").status == 404)
        let body = try RawHTTPConnection(port: tracker.port)
        try body.send("GET /announce HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
        #expect(try body.readResponse().status == 400)
        #expect(try body.waitForClose())
        // HTTP/1.0 without Host (a minimal client): answered as HTTP/1.0 and closed; absolute-form target accepted.
        let http10 = try RawHTTPConnection(port: tracker.port)
        try http10.send("GET \(announceTarget(passkey: TrackerFixture.passkeyA, peer: 3, port: 3)) HTTP/1.0\r\n\r\n")
        let http10Response = try http10.readResponse()
        #expect(http10Response.status == 200 && failureReason(http10Response) == nil)
        #expect(try http10.waitForClose())
        let absolute = try RawHTTPConnection(port: tracker.port)
        let absoluteTarget =
            "http://127.0.0.1:\(tracker.port)" + announceTarget(passkey: TrackerFixture.passkeyA, peer: 4, port: 4)
        #expect(try absolute.get(absoluteTarget, close: true).status == 200)
        // The server is still fine.
        #expect(
            try httpGet(port: tracker.port, announceTarget(passkey: TrackerFixture.passkeyA, peer: 1, port: 1)).status
                == 200)
        await tracker.stop()
    }

    @Test func slowAndIdleClientsAreClosed() async throws {
        let tracker = try await TrackerFixture { $0.requestTimeoutSeconds = 1 }
        let slow = try RawHTTPConnection(port: tracker.port, timeout: 5)
        try slow.send("GET /announce?info_hash=")
        let start = Date()
        #expect(try slow.waitForClose())
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed < 4, "slow client kept for \(elapsed) s")
        let idle = try RawHTTPConnection(port: tracker.port, timeout: 5)
        #expect(try idle.get(announceTarget(passkey: TrackerFixture.passkeyA, peer: 1, port: 1)).status == 200)
        #expect(try idle.waitForClose())
        await tracker.stop()
    }

    @Test func secondTrackerOnTheSamePortRefusesToStart() async throws {
        let first = try await TrackerFixture()
        let port = first.port
        await #expect(throws: (any Error).self) {
            let second = try await TrackerFixture { $0.listenPort = port }
            await second.stop()
        }
        #expect(
            try httpGet(port: first.port, announceTarget(passkey: TrackerFixture.passkeyA, peer: 1, port: 1)).status
                == 200)
        await first.stop()
    }

    @Test func connectionCapClosesExtraConnections() async throws {
        let tracker = try await TrackerFixture { $0.maxConnections = 5 }
        // The listener defers accepting a connection until its first bytes arrive (TCP_DEFER_ACCEPT), so each
        // connection starts a request to be counted.
        let held = try (0..<5).map { _ in try RawHTTPConnection(port: tracker.port) }
        #expect(try held[0].get(announceTarget(passkey: TrackerFixture.passkeyA, peer: 1, port: 1)).status == 200)
        for connection in held.dropFirst() { try connection.send("GET /") }
        #expect(try await waitForMetric(tracker, "tracker_connections", atLeast: 5))
        let extra = try RawHTTPConnection(port: tracker.port)
        try extra.send("GET /")
        #expect(try extra.waitForClose())
        #expect(try tracker.metric("tracker_connections_refused_total") ?? 0 >= 1)
        _ = held
        await tracker.stop()
    }

    /// Many connections open at once, each then announcing. SWT_TRACKER_CONNECTIONS sets the count (default 2,000;
    /// run once with 10000 to reproduce the figure in Docs/tracker.md).
    @Test func manyConcurrentConnections() async throws {
        let count = Int(ProcessInfo.processInfo.environment["SWT_TRACKER_CONNECTIONS"] ?? "") ?? 2000
        let tracker = try await TrackerFixture { $0.maxConnections = count + 100 }
        var connections: [RawHTTPConnection] = []
        connections.reserveCapacity(count)
        for _ in 0..<count { connections.append(try RawHTTPConnection(port: tracker.port, timeout: 30)) }
        for (n, connection) in connections.enumerated() {
            try connection.send(
                "GET \(announceTarget(passkey: TrackerFixture.passkeyA, peer: n, port: 1024 + n % 60000, numwant: 5))"
                    + " HTTP/1.1\r\nHost: x\r\n\r\n"
            )
        }
        var ok = 0
        for connection in connections where try connection.readResponse().status == 200 { ok += 1 }
        #expect(ok == count)
        #expect(try tracker.metric("tracker_peers") == Double(count))
        connections.removeAll()
        await tracker.stop()
    }
}

func waitForMetric(_ tracker: TrackerFixture, _ sample: String, atLeast value: Double) async throws -> Bool {
    for _ in 0..<200 {  // at most 10 s
        if try tracker.metric(sample) ?? 0 >= value { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return false
}

/// A minimal single-file torrent and its info-hash.
func sampleTorrent(name: String) -> (bytes: [UInt8], hash: InfoHash) {
    let info =
        "d6:lengthi5e4:name\(name.utf8.count):\(name)12:piece lengthi16384e6:pieces20:"
        + String(repeating: "p", count: 20) + "e"
    let torrent = "d8:announce9:http://x/4:info" + info + "e"
    return (Array(torrent.utf8), InfoHash(DigestAlgorithm.sha1.hash(Array(info.utf8)))!)
}
