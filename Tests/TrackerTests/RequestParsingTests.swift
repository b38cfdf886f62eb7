import Foundation
import Identity
import SwarmPrimitives
import Testing

@testable import Tracker

/// `info_hash` used throughout: bytes 0x00...0x13, sent fully percent-encoded.
let sampleHash = InfoHash(Array(0..<20))!
let sampleHashQuery = (0..<20).map { "%" + hex2(UInt8($0)) }.joined()
let samplePeerID = PeerID(Array("-SW0001-abcdefghijkl".utf8))!

func hex2(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
}

func announceQuery(_ extra: String = "", hash: String = sampleHashQuery) -> String {
    "info_hash=\(hash)&peer_id=-SW0001-abcdefghijkl&port=6881&uploaded=1&downloaded=2&left=3" + extra
}

struct RequestTargetTests {
    @Test(arguments: [
        ("/announce?x=1", TrackerEndpoint.announce(passkey: nil)),
        ("/announce", .announce(passkey: nil)),
        ("/scrape?info_hash=a", .scrape(passkey: nil)),
        ("/Ab-9_x.~/announce?", .announce(passkey: "Ab-9_x.~")),
        ("/k3y/scrape", .scrape(passkey: "k3y")),
    ])
    func routes(target: String, endpoint: TrackerEndpoint) throws {
        #expect(try RequestTarget.parse(target).endpoint == endpoint)
    }

    @Test(arguments: ["/", "", "announce", "/announcex", "/a/b/announce", "/%41/announce", "/metrics", "//announce"])
    func unknownPaths(target: String) {
        do {
            let parsed = try RequestTarget.parse(target)
            Issue.record("accepted \(target) as \(parsed)")
        } catch {
            #expect(error.code == .unknownPath)
        }
    }

    @Test func queryRangeExcludesQuestionMark() throws {
        let target = try RequestTarget.parse("/announce?ab=c")
        #expect(target.query == 10..<14)
    }

    @Test func overlongTargetIsRefused() {
        var limits = RequestLimits()
        limits.maxTargetLength = 100
        let target = "/announce?" + String(repeating: "a", count: 100)
        do {
            _ = try RequestTarget.parse(target, limits: limits)
            Issue.record("accepted an overlong target")
        } catch {
            #expect(error.code == .targetTooLong)
        }
    }
}

struct ReceivedAnnounceTests {
    @Test func parsesEveryField() throws {
        let request = try ReceivedAnnounce.parse(
            query: announceQuery("&event=started&compact=0&no_peer_id=1&numwant=7&ip=10.0.0.1&key=zz&corrupt=0"))
        #expect(request.infoHash == sampleHash)
        #expect(request.peerID == samplePeerID)
        #expect(request.port == 6881)
        #expect(request.uploaded == 1 && request.downloaded == 2 && request.left == 3)
        #expect(request.event == .started)
        #expect(request.compact == false)
        #expect(request.noPeerID)
        #expect(request.numwant == 7)
        #expect(request.ip == "10.0.0.1")
        #expect(request.signed == nil)
    }

    @Test func defaults() throws {
        let request = try ReceivedAnnounce.parse(query: announceQuery())
        #expect(request.event == .none)
        #expect(request.compact)
        #expect(request.numwant == RequestLimits().defaultNumwant)
        #expect(request.ip == nil)
    }

    @Test func plusIsALiteralByteAndPercentIsAnyByte() throws {
        // 19 literal bytes then '+': "+" must decode to 0x2B, not a space.
        let request = try ReceivedAnnounce.parse(query: announceQuery(hash: "ABCDEFGHIJKLMNOPQRS+"))
        #expect(request.infoHash.bytes == Array("ABCDEFGHIJKLMNOPQRS+".utf8))
        let mixed = try ReceivedAnnounce.parse(query: announceQuery(hash: "%ff%FEabc%00%2b%20%25" + "0123456789a"))
        #expect(Array(mixed.infoHash.bytes.prefix(9)) == [0xff, 0xfe, 0x61, 0x62, 0x63, 0x00, 0x2b, 0x20, 0x25])
    }

    @Test func signedFields() throws {
        let request = try ReceivedAnnounce.parse(query: announceQuery("&swt_key=ab&swt_ts=17&swt_sig=cd"))
        #expect(request.signed == SignedAnnounceFields(key: "ab", timestamp: "17", signature: "cd"))
    }

    @Test(arguments: [("stopped", AnnounceEvent.stopped), ("completed", .completed), ("", .none), ("paused", .paused)])
    func events(name: String, event: AnnounceEvent) throws {
        #expect(try ReceivedAnnounce.parse(query: announceQuery("&event=\(name)")).event == event)
    }

    @Test func numwantIsCapped() throws {
        #expect(
            try ReceivedAnnounce.parse(query: announceQuery("&numwant=100000")).numwant == RequestLimits().maxNumwant)
    }

    @Test func stoppedNeedsNoLeft() throws {
        let query = "info_hash=\(sampleHashQuery)&peer_id=-SW0001-abcdefghijkl&port=1&event=stopped"
        #expect(try ReceivedAnnounce.parse(query: query).event == .stopped)
    }

    @Test(arguments: [
        (announceQuery(hash: "%00%01"), TrackerError.Code.wrongLength, "info_hash"),
        (announceQuery(hash: sampleHashQuery + "%00"), .wrongLength, "info_hash"),
        (announceQuery(hash: String(repeating: "%00", count: 200)), .wrongLength, "info_hash"),
        (announceQuery(hash: "%0g" + String(repeating: "a", count: 19)), .badPercentEncoding, "info_hash"),
        (announceQuery(hash: String(repeating: "a", count: 19) + "%0"), .badPercentEncoding, "info_hash"),
        (announceQuery(hash: String(repeating: "a", count: 19) + "%"), .badPercentEncoding, "info_hash"),
        ("peer_id=-SW0001-abcdefghijkl&port=1&left=0", .missingParameter, "info_hash"),
        ("info_hash=\(sampleHashQuery)&port=1&left=0", .missingParameter, "peer_id"),
        ("info_hash=\(sampleHashQuery)&peer_id=-SW0001-abcdefghijkl&left=0", .missingParameter, "port"),
        ("info_hash=\(sampleHashQuery)&peer_id=-SW0001-abcdefghijkl&port=5", .missingParameter, "left"),
        (announceQuery("&port=7"), .duplicateParameter, "port"),
        (announceQuery("&info_hash=\(sampleHashQuery)"), .duplicateParameter, "info_hash"),
        (announceQuery("&event=finished"), .badEvent, "event"),
        (announceQuery("&numwant=-1"), .badNumber, "numwant"),
        (announceQuery("&numwant=99999999999999999999999"), .badNumber, "numwant"),
        (announceQuery("&compact=yes"), .badNumber, "compact"),
        (announceQuery("&swt_key=ab&swt_ts=1"), .missingParameter, "swt_key/swt_ts/swt_sig"),
        (announceQuery().replacingOccurrences(of: "port=6881", with: "port=0"), .badNumber, "port"),
        (announceQuery().replacingOccurrences(of: "port=6881", with: "port=65536"), .badNumber, "port"),
        (announceQuery().replacingOccurrences(of: "left=3", with: "left="), .badNumber, "left"),
        (announceQuery().replacingOccurrences(of: "left=3", with: "left=18446744073709551616"), .badNumber, "left"),
    ])
    func malformed(query: String, code: TrackerError.Code, subject: String) {
        do {
            let parsed = try ReceivedAnnounce.parse(query: query)
            Issue.record("accepted \(query) as \(parsed)")
        } catch {
            #expect(error.code == code)
            #expect(error.subject == subject)
        }
    }

    @Test func parameterCountIsBounded() {
        var limits = RequestLimits()
        limits.maxParameters = 10
        let query = announceQuery(String(repeating: "&x=1", count: 10))
        do {
            _ = try ReceivedAnnounce.parse(query: query, limits: limits)
            Issue.record("accepted too many parameters")
        } catch {
            #expect(error.code == .tooManyParameters)
        }
    }

    @Test func emptySegmentsAreSkipped() throws {
        #expect(try ReceivedAnnounce.parse(query: "&&" + announceQuery("&&")).port == 6881)
    }
}

struct ScrapeRequestTests {
    @Test func multipleHashesDeduplicated() throws {
        let other = String(repeating: "b", count: 20)
        let request = try ScrapeRequest.parse(
            query: "info_hash=\(sampleHashQuery)&info_hash=\(other)&info_hash=\(sampleHashQuery)")
        #expect(request.infoHashes == [sampleHash, InfoHash(Array(other.utf8))!])
    }

    @Test(arguments: [
        ("", TrackerError.Code.missingParameter),
        ("info_hash=abc", .wrongLength),
        ("info_hash=%zz" + String(repeating: "a", count: 19), .badPercentEncoding),
        ((0..<65).map { "info_hash=" + twentyBytes($0) }.joined(separator: "&"), .tooManyParameters),
    ])
    func malformed(query: String, code: TrackerError.Code) {
        do {
            _ = try ScrapeRequest.parse(query: query)
            Issue.record("accepted \(query)")
        } catch {
            #expect(error.code == code)
        }
    }
}

/// Twenty printable bytes unique to `n`.
func twentyBytes(_ n: Int) -> String {
    let digits = String(n)
    return String(repeating: "x", count: 20 - digits.count) + digits
}
