@testable import Node
import Testing

/// The HTTP mirror's pure parts: `Range` headers (RFC 9110 §14) and request targets.
struct MirrorRequestTests {
    @Test(arguments: [
        (nil, ByteRangeRequest.whole),
        ("bytes=0-9", .partial(0...9)),
        ("bytes=990-", .partial(990...999)),
        ("bytes=990-5000", .partial(990...999)),
        ("bytes=-10", .partial(990...999)),
        ("bytes=-5000", .partial(0...999)),
        (" bytes=5-5 ", .partial(5...5)),
        ("BYTES=1-2", .partial(1...2)),
        ("bytes=1000-", .unsatisfiable),
        ("bytes=-0", .unsatisfiable),
        ("bytes=1000-2000, 3000-", .unsatisfiable),
        ("bytes=0-1,5-6", .whole),
        ("bytes=0-1, 2000-", .whole),
        ("bytes=9-1", .whole),
        ("bytes=a-b", .whole),
        ("bytes=", .whole),
        ("items=0-9", .whole),
        ("bytes=99999999999999999999-", .whole),
    ] as [(String?, ByteRangeRequest)])
    func rangeHeaders(header: String?, expected: ByteRangeRequest) {
        #expect(ByteRangeRequest(header: header, size: 1000) == expected)
    }

    /// RFC 9110 §14.1.1: of an empty file only a non-zero suffix range is satisfiable; it is served whole (200).
    @Test func anEmptyFileHasOnlyASuffixRangeSatisfiable() {
        #expect(ByteRangeRequest(header: "bytes=0-", size: 0) == .unsatisfiable)
        #expect(ByteRangeRequest(header: "bytes=-0", size: 0) == .unsatisfiable)
        #expect(ByteRangeRequest(header: "bytes=-1", size: 0) == .whole)
        #expect(ByteRangeRequest(header: "bytes=0-, -5", size: 0) == .whole)
    }

    static let hash = String(repeating: "ab", count: 20)

    @Test(arguments: [
        ("/t/\(hash)/name", MirrorRequest.Route.torrentFile(infoHash: hash, path: ["name"])),
        ("/t/\(hash)/name/sub/f%20g.bin?x=1", .torrentFile(infoHash: hash, path: ["name", "sub", "f g.bin"])),
        ("/t/\(hash)/a%2Fb", .torrentFile(infoHash: hash, path: ["a/b"])),
        ("/t/\(hash)/%C3%A9", .torrentFile(infoHash: hash, path: ["é"])),
        ("/t/\(hash)/..", .torrentFile(infoHash: hash, path: [".."])),
        ("/sha256/" + String(repeating: "Ab", count: 32), .digest(String(repeating: "Ab", count: 32))),
    ])
    func targetsThatNameATorrentFile(target: String, expected: MirrorRequest.Route) {
        #expect(MirrorRequest.route(target) == expected)
    }

    @Test(arguments: [
        "/", "/t/\(hash)", "/t/\(hash.dropLast())/x", "/t/\(hash)z/x", "/x/\(hash)/name", "t/\(hash)/name",
        "/t/\(hash)/%zz", "/t/\(hash)/%C3", "/t/\(hash)/%", "http://host/t/\(hash)/name",
        "/t/\(hash)/" + String(repeating: "a", count: 9000), "/sha256/\(hash)", "/sha256/", "/sha256/\(hash)\(hash)/x",
    ])
    func targetsThatAreRefused(target: String) {
        var refused = false
        if case .invalid = MirrorRequest.route(target) { refused = true }
        #expect(refused, "\(target.prefix(80)) was routed")
    }

    @Test func aPasskeyPrefixIsTakenOffTheTarget() {
        #expect(MirrorRequest.passkey(in: "/p/KEY/t/x/y") == ("KEY", "/t/x/y"))
        #expect(MirrorRequest.passkey(in: "/t/x/y") == (nil, "/t/x/y"))
        #expect(MirrorRequest.passkey(in: "/p/KEY") == ("KEY", "/"))
    }

    @Test func ifNoneMatchComparesWeakly() {
        #expect(MirrorRequest.matches("\"x\"", etag: "\"x\""))
        #expect(MirrorRequest.matches("W/\"x\"", etag: "\"x\""))
        #expect(MirrorRequest.matches("\"a\", \"x\"", etag: "\"x\""))
        #expect(MirrorRequest.matches("*", etag: "\"x\""))
        #expect(!MirrorRequest.matches("\"y\"", etag: "\"x\""))
    }
}
