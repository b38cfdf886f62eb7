import Testing

@testable import Tracker

/// Parses `text` as one request head with default limits.
func parseHead(_ text: String, limits: RequestLimits = RequestLimits()) throws(TrackerError) -> RequestHead? {
    try withUTF8Bytes(text) { (raw) throws(TrackerError) in try RequestHeadParser.parse(raw, limits: limits) }
}

/// The text of `range` in `text`'s UTF-8 bytes.
func slice(_ text: String, _ range: Range<Int>?) -> String? {
    range.map { String(decoding: Array(text.utf8)[$0], as: UTF8.self) }
}

let longTargetLine = "GET /" + String(repeating: "a", count: 8200) + " HTTP/1.1\r\n\r\n"
let manyFieldsHead = "GET /a HTTP/1.1\r\n" + (0..<65).map { "X-\($0): y\r\n" }.joined() + "\r\n"

let malformedHeadCases: [(String, TrackerError.Code)] = [
    ("\u{1}\u{2}\u{3} nonsense\r\n\r\n", .malformedHTTP),
    ("GET /a HTTP/2.0\r\n\r\n", .malformedHTTP),
    ("GET /a\r\n\r\n", .malformedHTTP),
    ("GET  /a HTTP/1.1\r\n\r\n", .malformedHTTP),
    ("GET /a HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", .malformedHTTP),
    ("GET /a HTTP/1.1\r\nHost : a\r\n\r\n", .malformedHTTP),
    ("GET /a HTTP/1.1\r\nno colon\r\n\r\n", .malformedHTTP),
    ("GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", .malformedHTTP),
    ("GET /a HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", .malformedHTTP),
    ("GET /a\u{7F} HTTP/1.1\r\n\r\n", .malformedHTTP),
    (longTargetLine, .targetTooLong),
    (manyFieldsHead, .headTooLarge),
]

/// What real clients send (shapes taken from their sources and captures): the head, whether the connection stays
/// open, and the host.
let clientHeadCases: [(String, Bool, String?)] = [
    // libtorrent (rasterbar): HTTP/1.1, Connection: close, Accept-Encoding, no Accept.
    (
        "GET /pk/announce?info_hash=%01&port=1 HTTP/1.1\r\nHost: 127.0.0.1:6969\r\nUser-Agent: "
            + "libtorrent/2.0.8.0\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n", false, "127.0.0.1:6969"
    ),
    // aria2: HTTP/1.1 keep-alive with Pragma and Cache-Control.
    (
        "GET /pk/announce?info_hash=%01&port=1 HTTP/1.1\r\nUser-Agent: aria2/1.37.0\r\nAccept: */*\r\n"
            + "Host: 127.0.0.1:6969\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n\r\n", true, "127.0.0.1:6969"
    ),
    // Transmission (libcurl).
    (
        "GET /pk/announce?info_hash=%01&port=1 HTTP/1.1\r\nHost: tracker.example:443\r\nUser-Agent: "
            + "Transmission/4.0.5\r\nAccept: */*\r\nAccept-Encoding: deflate, gzip, br, zstd\r\n\r\n", true,
        "tracker.example:443"
    ),
    // A minimal HTTP/1.0 client without Host, bare LF line endings.
    ("GET /pk/announce?info_hash=%01&port=1 HTTP/1.0\n\n", false, nil),
    // HTTP/1.0 asking for keep-alive; header names in any case, values with spaces around.
    ("GET /pk/announce?info_hash=%01&port=1 HTTP/1.0\r\nCONNECTION:  Keep-Alive \r\nhost:x\r\n\r\n", true, "x"),
    // Absolute-form target (as through a proxy): the authority is the host.
    ("GET http://t.example:80/pk/announce?info_hash=%01&port=1 HTTP/1.1\r\nHost: other\r\n\r\n", true, "t.example:80"),
    // Empty lines before the request line are skipped; `Connection: foo, close` closes.
    ("\r\n\r\nGET /pk/announce?info_hash=%01&port=1 HTTP/1.1\r\nConnection: te, close\r\n\r\n", false, nil),
]

struct RequestHeadTests {
    /// Real client request shapes parse, keep-alive as the client expects, and the target is the path and query.
    @Test(arguments: clientHeadCases)
    func realClientShapes(text: String, keepAlive: Bool, host: String?) throws {
        let head = try #require(try parseHead(text))
        #expect(head.isGET)
        #expect(slice(text, head.target) == "/pk/announce?info_hash=%01&port=1")
        #expect(head.keepAlive == keepAlive)
        #expect(slice(text, head.host) == host)
        #expect(head.length == text.utf8.count)
        #expect(!head.hasBody)
    }

    @Test func pipelinedHeadsParseOneAtATime() throws {
        let first = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
        let text = first + "GET /b HTTP/1.1\r\n\r\n"
        let head = try #require(try parseHead(text))
        #expect(head.length == first.utf8.count)
        #expect(slice(text, head.target) == "/a")
    }

    @Test func lastForwardedForAndBodies() throws {
        let text = "GET /a HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1\r\nx-forwarded-for: 2.2.2.2, 3.3.3.3\r\n"
            + "Content-Length: 0\r\n\r\n"
        let head = try #require(try parseHead(text))
        #expect(slice(text, head.forwardedFor) == "2.2.2.2, 3.3.3.3")
        #expect(!head.hasBody)
        #expect(try parseHead("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")?.hasBody == true)
        #expect(try parseHead("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")?.isGET == false)
    }

    /// Every prefix of a complete head is incomplete (nil), never an error, and resuming the end-of-head search
    /// from where the previous call stopped gives the same head.
    @Test func incompleteThenResumed() throws {
        let text = Array("GET /announce?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: b\r\n\r\n".utf8)
        var scanned = 0
        for end in 0..<text.count {
            let partial = try text[0..<end].withUnsafeBytes { (raw) throws(TrackerError) in
                try RequestHeadParser.parse(raw, limits: RequestLimits(), scanned: &scanned)
            }
            #expect(partial == nil)
        }
        let whole = try text.withUnsafeBytes { (raw) throws(TrackerError) in
            try RequestHeadParser.parse(raw, limits: RequestLimits(), scanned: &scanned)
        }
        #expect(whole?.length == text.count)
    }

    /// Found by FuzzTrackerHead: a search resumed inside the empty lines before the request line must keep skipping
    /// them, and so give the same answer as parsing all the bytes at once.
    @Test func resumingInsideLeadingEmptyLines() throws {
        let bytes = [UInt8](repeating: 0x0A, count: 27) + [0x20, 0x0A]
        let whole = try bytes.withUnsafeBytes { (raw) throws(TrackerError) in try RequestHeadParser.parse(raw) }
        #expect(whole == nil)
        var scanned = 0
        let limits = RequestLimits()
        let half = try bytes[0..<14].withUnsafeBytes { (raw) throws(TrackerError) in
            try RequestHeadParser.parse(raw, limits: limits, scanned: &scanned)
        }
        #expect(half == nil)
        let resumed = try bytes.withUnsafeBytes { (raw) throws(TrackerError) in
            try RequestHeadParser.parse(raw, limits: limits, scanned: &scanned)
        }
        #expect(resumed == nil)
        // Empty lines, then (in a later read) the request: one head, empty lines included.
        let request = Array("GET /a HTTP/1.1\r\n\r\n".utf8)
        var resumeAt = 0
        _ = try bytes[0..<14].withUnsafeBytes { (raw) throws(TrackerError) in
            try RequestHeadParser.parse(raw, limits: limits, scanned: &resumeAt)
        }
        let completed = try (bytes[0..<14] + request).withUnsafeBytes { (raw) throws(TrackerError) in
            try RequestHeadParser.parse(raw, limits: limits, scanned: &resumeAt)
        }
        #expect(completed?.length == 14 + request.count)
    }

    @Test(arguments: malformedHeadCases)
    func malformedHeads(text: String, code: TrackerError.Code) {
        do {
            let head = try parseHead(text)
            Issue.record("parsed \(String(describing: head))")
        } catch {
            #expect(error.code == code, "\(error)")
        }
    }

    /// Without the end of the head, the parser gives up at `maxHeadLength` bytes: 414 while still in the request
    /// line, 431 in the header fields.
    @Test func unterminatedHeadsAreBounded() throws {
        var limits = RequestLimits()
        limits.maxHeadLength = 1024
        limits.maxTargetLength = 512
        let cases: [(String, TrackerError.Code)] = [
            ("GET /" + String(repeating: "a", count: 2000), .targetTooLong),
            ("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 2000), .headTooLarge),
            ("GET / HTTP/1.1\r\n" + String(repeating: "X: y\r\n", count: 400), .headTooLarge),
        ]
        for (text, code) in cases {
            do {
                let head = try parseHead(text, limits: limits)
                Issue.record("parsed \(String(describing: head)) from an unterminated head")
            } catch {
                #expect(error.code == code)
            }
        }
        // Under the limit and unterminated: not yet complete.
        #expect(try parseHead("GET / HTTP/1.1\r\nX: y\r\n", limits: limits) == nil)
    }
}
