import Bencode
import SwarmPrimitives
import Testing

@testable import Engine

@Suite struct AnnounceRequestTests {
    static let infoHash = InfoHash([
        0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x12, 0x34, 0x56,
        0x78, 0x9a,
    ])!
    static let peerID = PeerID(Array("-SW0100-abcdefghijkl".utf8))!

    @Test(arguments: [
        ([UInt8]("aZ09-._~".utf8), "aZ09-._~"),
        ([0x00, 0xff, 0x20, 0x25, 0x2b, 0x26, 0x3d], "%00%FF%20%25%2B%26%3D"),
        ([UInt8]("é".utf8), "%C3%A9"),
    ])
    func percentEncoding(bytes: [UInt8], expected: String) {
        #expect(AnnounceRequest.percentEncode(bytes) == expected)
    }

    @Test func queryCarriesBinaryInfoHashAndEvent() {
        let request = AnnounceRequest(
            infoHash: Self.infoHash, peerID: Self.peerID, port: 6881, uploaded: 1,
            downloaded: 2, left: 3, event: .started, numWant: 50)
        #expect(
            request.query
                == "info_hash=%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A&peer_id=-SW0100-abcdefghijkl&port=6881"
                + "&uploaded=1&downloaded=2&left=3&compact=1&numwant=50&event=started")
    }

    @Test func regularAnnounceHasNoEvent() {
        let request = AnnounceRequest(infoHash: Self.infoHash, peerID: Self.peerID, port: 1, left: 0)
        #expect(!request.query.contains("event="))
    }

    @Test(arguments: [
        ("http://t.example/announce", "/announce?"),
        ("http://t.example/announce?passkey=abc", "/announce?passkey=abc&"),
        ("http://t.example/a/SECRET/announce", "/a/SECRET/announce?"),
        ("http://t.example:8080?x=1", "/?x=1&"),
    ])
    func passkeyURLsKeepTheirQuery(url: String, prefix: String) throws {
        let parsed = try AnnounceURL(url)
        let request = AnnounceRequest(
            infoHash: Self.infoHash, peerID: Self.peerID, port: 1, left: 0,
            extraParameters: [(name: "swt_sig", value: "a+b/c=")])
        let target = request.requestTarget(for: parsed)
        #expect(target.hasPrefix(prefix + "info_hash="))
        #expect(target.hasSuffix("&swt_sig=a%2Bb%2Fc%3D"))
    }

    @Test(arguments: [
        ("http://127.0.0.1:6969/announce", "127.0.0.1", 6969, "/announce", "127.0.0.1:6969"),
        ("http://[::1]:80/ann", "::1", 80, "/ann", "[::1]"),
        ("HTTP://tracker.example", "tracker.example", 80, "/", "tracker.example"),
        ("http://u:p@h:1/x#frag", "h", 1, "/x", "h:1"),
    ])
    func announceURLParts(text: String, host: String, port: Int, path: String, hostHeader: String) throws {
        let url = try AnnounceURL(text)
        #expect(url.host == host)
        #expect(url.port == port)
        #expect(url.pathAndQuery == path)
        #expect(url.hostHeader == hostHeader)
    }

    @Test(arguments: ["udp://t.example:6969", "https://t.example/announce", "http://:80/", "http://h:99999/", "wss://x"])
    func unusableAnnounceURLsAreRefused(text: String) {
        #expect(throws: EngineError.self) { try AnnounceURL(text) }
        do {
            _ = try AnnounceURL(text)
        } catch {
            #expect(error.code == .badAnnounceURL)
            #expect(error.context.contains(text))
        }
    }
}

@Suite struct AnnounceResponseTests {
    func encode(_ value: BencodeValue) -> [UInt8] { value.encoded() }

    @Test func compactIPv4AndIPv6Peers() throws {
        let body = encode(
            .dict([
                "interval": .integer(900), "min interval": .integer(60),
                "peers": .bytes([127, 0, 0, 1, 0x1a, 0xe1, 10, 1, 2, 3, 0, 80]),
                "peers6": .bytes([0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1, 0x1a, 0xe2]),
                "complete": .integer(3), "incomplete": .integer(4),
                "warning message": .string("slow down"),
            ]))
        let response = try AnnounceResponse.parse(body, from: "t")
        #expect(response.interval == 900)
        #expect(response.minInterval == 60)
        #expect(
            response.peers == [
                PeerAddress(host: "127.0.0.1", port: 6881), PeerAddress(host: "10.1.2.3", port: 80),
                PeerAddress(host: "2001:db8::1", port: 6882),
            ])
        #expect(response.warning == "slow down")
        #expect(response.complete == 3)
        #expect(response.incomplete == 4)
    }

    @Test func dictionaryPeers() throws {
        let body = encode(
            .dict([
                "interval": .integer(100),
                "peers": .list([
                    .dict(["ip": .string("192.168.1.9"), "port": .integer(51413), "peer id": .bytes(Array(repeating: 1, count: 20))]),
                    .dict(["ip": .string("::1"), "port": .integer(6881)]),
                ]),
            ]))
        let response = try AnnounceResponse.parse(body, from: "t")
        #expect(response.peers.map(\.description) == ["192.168.1.9:51413", "[::1]:6881"])
    }

    @Test func failureReasonIsATypedError() {
        let body = encode(.dict(["failure reason": .string("unregistered torrent")]))
        do {
            _ = try AnnounceResponse.parse(body, from: "http://t/announce")
            Issue.record("a failure reason must throw")
        } catch {
            #expect(error.code == .trackerFailure)
            #expect(error.context.contains("unregistered torrent"))
        }
    }

    @Test(arguments: [
        Array("not bencode".utf8),
        Array("le".utf8),
        Array("d5:peers5:abcdee".utf8),
        Array("d6:peers67:abce".utf8),
        Array("d5:peersi3ee".utf8),
        Array("d5:peersld2:ip1:xeee".utf8),
    ])
    func malformedResponsesAreRefused(body: [UInt8]) {
        #expect(throws: EngineError.self) { try AnnounceResponse.parse(body, from: "t") }
    }

    @Test(arguments: [(0, 15), (5, 15), (1800, 1800), (10_000_000, 6 * 3600)])
    func intervalsAreClamped(given: Int64, expected: Int) throws {
        let body = encode(.dict(["interval": .integer(given), "peers": .bytes([])]))
        #expect(try AnnounceResponse.parse(body, from: "t").interval == expected)
    }

    @Test(arguments: [
        ([UInt8](repeating: 0, count: 16), "::"),
        ([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 0, 1], "::ffff:c0a8:1"),
        ([0x20, 0x01, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "2001:0:1::1"),
        ([0xfe, 0x80, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7], "fe80:1:2:3:4:5:6:7"),
    ])
    func ipv6Formatting(bytes: [UInt8], expected: String) {
        #expect(IPAddressText.ipv6(bytes) == expected)
    }
}

@Suite struct TrackerTiersTests {
    @Test func tiersKeepOrderAndShuffleWithin() {
        var generator = SeededGenerator(seed: 7)
        let tiers = TrackerTiers(
            announceList: [["a", "b", "c"], ["d"], ["a", "e"]], announce: "z", using: &generator)
        #expect(tiers.tiers.count == 3)
        #expect(Set(tiers.tiers[0]) == ["a", "b", "c"])
        #expect(tiers.tiers[1] == ["d"])
        #expect(tiers.tiers[2] == ["e"], "duplicates are dropped")
        #expect(!tiers.ordered.contains("z"), "announce is ignored when announce-list is present")
    }

    @Test func announceIsUsedWithoutAnnounceList() {
        let tiers = TrackerTiers(announceList: [], announce: "http://t/announce")
        #expect(tiers.ordered == ["http://t/announce"])
        #expect(TrackerTiers(announceList: [[]], announce: nil).isEmpty)
    }

    @Test func answeringTrackerMovesToTheFrontOfItsTier() {
        var generator = SeededGenerator(seed: 1)
        var tiers = TrackerTiers(announceList: [["a", "b", "c"], ["d", "e"]], announce: nil, using: &generator)
        tiers.promote("c")
        #expect(tiers.tiers[0].first == "c")
        tiers.promote("e")
        #expect(tiers.tiers[1].first == "e")
        #expect(Set(tiers.ordered) == ["a", "b", "c", "d", "e"])
    }

    @Test func backoffDoublesUpToTheCapAndResetsOnSuccess() {
        var schedule = AnnounceSchedule(initialBackoff: .seconds(15), maximumBackoff: .seconds(100))
        #expect(schedule.failed() == .seconds(15))
        #expect(schedule.failed() == .seconds(30))
        #expect(schedule.failed() == .seconds(60))
        #expect(schedule.failed() == .seconds(100))
        #expect(schedule.failed() == .seconds(100))
        let next = schedule.succeeded(AnnounceResponse(interval: 900, minInterval: 30, peers: []))
        #expect(next == .seconds(900))
        #expect(schedule.failures == 0)
        #expect(schedule.earliestReannounce == .seconds(30))
        #expect(schedule.failed() == .seconds(15))
    }

    @Test(arguments: [
        (900, Int?.some(30), Duration.seconds(30)),  // the tracker's min interval
        (900, Int?.none, .seconds(60)),  // no min interval: at most a minute
        (20, Int?.none, .seconds(20)),  // never later than the regular interval
    ])
    func starvingLeechReannouncesAtTheEarliestAllowed(interval: Int, minInterval: Int?, expected: Duration) {
        var schedule = AnnounceSchedule()
        let response = AnnounceResponse(interval: interval, minInterval: minInterval, peers: [])
        #expect(schedule.succeeded(response, starving: true) == expected)
        #expect(schedule.succeeded(response, starving: false) == .seconds(interval))
    }
}

/// A deterministic generator for tests (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
