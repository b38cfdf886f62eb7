import LocalDiscovery
import NIOCore
import SwarmPrimitives
import Testing

@Suite struct LSDAnnouncementTests {
    static let hashA = InfoHash([UInt8](0..<20))!
    static let hashB = InfoHash([UInt8](repeating: 0xAB, count: 20))!
    static let hexA = "000102030405060708090a0b0c0d0e0f10111213"

    static func datagram(_ lines: [String], terminator: String = "\r\n") -> [UInt8] {
        Array((lines.joined(separator: terminator) + terminator + terminator).utf8)
    }

    @Test func encodesTheWireFormatExactly() throws {
        let datagrams = try LSDAnnouncement(port: 6881, infoHashes: [Self.hashA], cookie: "5eed1e5").encode(
            family: .ipv4)
        let text = try #require(datagrams.first.map { String(decoding: $0, as: UTF8.self) })
        #expect(datagrams.count == 1)
        #expect(
            text == "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: \(Self.hexA)\r\n"
                + "cookie: 5eed1e5\r\n\r\n\r\n")
    }

    /// What Transmission 3.00 accepts (libtransmission/tr-lpd.c): at most 200 bytes, `BT-SEARCH * HTTP/1.1`, the
    /// only `\r\n\r\n\r\n` at the very end (two empty lines), and `\r\nPort: ` and `\r\nInfohash: ` spelt so (it
    /// searches for them case-sensitively, with one space). It reads the first `Infohash` only.
    @Test(arguments: [LSDAnnouncement.Family.ipv4, .ipv6])
    func oneTorrentsDatagramIsOneTransmissionAccepts(family: LSDAnnouncement.Family) throws {
        let datagrams = try LSDAnnouncement(port: 51413, infoHashes: [Self.hashB], cookie: "9f3c2a71").encode(
            family: family)
        let datagram = try #require(datagrams.first)
        #expect(datagrams.count == 1)
        #expect(datagram.count <= 200, "\(datagram.count) bytes")
        let text = String(decoding: datagram, as: UTF8.self)
        #expect(text.hasPrefix("BT-SEARCH * HTTP/1.1\r\n"))
        let end = try #require(text.range(of: "\r\n\r\n\r\n"))
        #expect(end.upperBound == text.endIndex, "\(text.debugDescription)")
        #expect(text.contains("\r\nPort: 51413\r\n"))
        #expect(text.contains("\r\nInfohash: \(String(repeating: "ab", count: 20))\r\n"))
    }

    @Test func ipv6HostHeaderNamesTheGroupInBrackets() throws {
        let datagrams = try LSDAnnouncement(port: 1, infoHashes: [Self.hashA], cookie: nil).encode(family: .ipv6)
        let text = String(decoding: try #require(datagrams.first), as: UTF8.self)
        #expect(text.contains("\r\nHost: [ff15::efc0:988f]:6771\r\n"))
        #expect(!text.contains("cookie"))
    }

    /// The port is written digit by digit: never `6,771` or `6 771`, whatever the locale.
    @Test(arguments: [1, 9, 10, 6771, 10000, 65535])
    func portIsPlainDecimal(port: Int) throws {
        let datagram = try #require(
            try LSDAnnouncement(port: port, infoHashes: [Self.hashB], cookie: "c").encode(family: .ipv4).first)
        #expect(String(decoding: datagram, as: UTF8.self).contains("\r\nPort: \(String(port, radix: 10))\r\n"))
        #expect(try LSDAnnouncement(decoding: datagram).port == port)
    }

    /// Many torrents: one datagram per hash, every hash sent once, in order, each one Transmission would take
    /// (at most 200 bytes, so also with the longest cookie and the IPv6 `Host`).
    @Test(arguments: [1, 2, 3, 26, 200])
    func oneDatagramPerHash(count: Int) throws {
        let hashes = (0..<count).map { i in InfoHash([UInt8](repeating: UInt8(i & 0xFF), count: 19) + [UInt8(i >> 8)])! }
        let cookie = String(repeating: "c", count: 64)
        let datagrams = try LSDAnnouncement(port: 65535, infoHashes: hashes, cookie: cookie).encode(family: .ipv6)
        #expect(datagrams.count == count)
        #expect(datagrams.allSatisfy { $0.count <= 200 }, "\(datagrams.map(\.count).max() ?? 0) bytes")
        let decoded = try datagrams.map { try LSDAnnouncement(decoding: $0) }
        #expect(decoded.map(\.infoHashes) == hashes.map { [$0] })
        #expect(decoded.allSatisfy { $0.port == 65535 && $0.cookie == cookie })
    }

    static let unencodable: [(Int, [InfoHash], String)] = [
        (0, [hashA], "c"), (65536, [hashA], "c"), (6881, [], "c"), (6881, [hashA], ""), (6881, [hashA], "has space"),
        (6881, [hashA], String(repeating: "c", count: 65)),
    ]

    @Test(arguments: unencodable)
    func refusesToEncodeWhatDoesNotFit(port: Int, hashes: [InfoHash], cookie: String) throws {
        let error = try #require(throws: LocalDiscoveryError.self) {
            try LSDAnnouncement(port: port, infoHashes: hashes, cookie: cookie).encode(family: .ipv4)
        }
        #expect(error.code == .unencodable)
    }

    /// What other clients send, as they send it.
    @Test func decodesOtherClientsSpellings() throws {
        // libtorrent: lower-case hex, a cookie, an extra empty line.
        let libtorrent = try LSDAnnouncement(
            decoding: Array(
                ("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: \(Self.hexA)\r\n"
                    + "cookie: 1a2b3c\r\n\r\n\r\n").utf8))
        #expect(libtorrent == LSDAnnouncement(port: 6881, infoHashes: [Self.hashA], cookie: "1a2b3c"))
        // Transmission 3.00, byte for byte as it sent it in the lab: upper-case hex, no cookie, two empty lines.
        let transmission = try LSDAnnouncement(
            decoding: Array(
                ("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 51999\r\n"
                    + "Infohash: \(Self.hexA.uppercased())\r\n\r\n\r\n").utf8))
        #expect(transmission == LSDAnnouncement(port: 51999, infoHashes: [Self.hashA], cookie: nil))
        // Upper-case hex, header names in other cases, bare \n, no cookie, extra spaces.
        let other = try LSDAnnouncement(
            decoding: Self.datagram(
                ["BT-SEARCH * HTTP/1.1", "HOST: 239.192.152.143:6771", "port:51413", "INFOHASH:   \(Self.hexA.uppercased())  "],
                terminator: "\n"))
        #expect(other == LSDAnnouncement(port: 51413, infoHashes: [Self.hashA], cookie: nil))
        // Through a ByteBuffer (the socket's form): same result, reader index untouched.
        let buffer = ByteBuffer(bytes: Self.datagram(["BT-SEARCH * HTTP/1.1", "Port: 7", "Infohash: \(Self.hexA)"]))
        #expect(try LSDAnnouncement(decoding: buffer).port == 7)
        #expect(buffer.readerIndex == 0)
    }

    /// A malformed datagram, shown by its name in test output.
    struct Malformed: Sendable, CustomTestStringConvertible {
        var name: String
        var datagram: [UInt8]
        var code: LocalDiscoveryError.Code
        var testDescription: String { name }
    }

    static let malformed: [Malformed] = [(String, [UInt8], LocalDiscoveryError.Code)]([
        ("empty", [], .badRequestLine),
        ("not BT-SEARCH", datagram(["M-SEARCH * HTTP/1.1", "Port: 1", "Infohash: \(hexA)"]), .badRequestLine),
        ("lower-case method", datagram(["bt-search * HTTP/1.1", "Port: 1", "Infohash: \(hexA)"]), .badRequestLine),
        ("comma port", datagram(["BT-SEARCH * HTTP/1.1", "Port: 6,771", "Infohash: \(hexA)"]), .badPort),
        ("spaced port", datagram(["BT-SEARCH * HTTP/1.1", "Port: 6 771", "Infohash: \(hexA)"]), .badPort),
        ("port 0", datagram(["BT-SEARCH * HTTP/1.1", "Port: 0", "Infohash: \(hexA)"]), .badPort),
        ("port 65536", datagram(["BT-SEARCH * HTTP/1.1", "Port: 65536", "Infohash: \(hexA)"]), .badPort),
        ("negative port", datagram(["BT-SEARCH * HTTP/1.1", "Port: -1", "Infohash: \(hexA)"]), .badPort),
        ("long port", datagram(["BT-SEARCH * HTTP/1.1", "Port: 0000006881", "Infohash: \(hexA)"]), .badPort),
        ("empty port", datagram(["BT-SEARCH * HTTP/1.1", "Port:", "Infohash: \(hexA)"]), .badPort),
        ("missing port", datagram(["BT-SEARCH * HTTP/1.1", "Infohash: \(hexA)"]), .missingPort),
        ("missing hash", datagram(["BT-SEARCH * HTTP/1.1", "Port: 1"]), .missingInfoHash),
        ("short hash", datagram(["BT-SEARCH * HTTP/1.1", "Port: 1", "Infohash: \(hexA.dropLast())"]), .badInfoHash),
        ("non-hex hash", datagram(["BT-SEARCH * HTTP/1.1", "Port: 1", "Infohash: \(hexA.dropLast())g"]), .badInfoHash),
        ("v2 hash", datagram(["BT-SEARCH * HTTP/1.1", "Port: 1", "Infohash: \(hexA)\(hexA.prefix(24))"]), .badInfoHash),
        ("no colon", datagram(["BT-SEARCH * HTTP/1.1", "Port 1", "Infohash: \(hexA)"]), .malformedHeader),
        ("empty name", datagram(["BT-SEARCH * HTTP/1.1", ": 1", "Infohash: \(hexA)"]), .malformedHeader),
        (
            "26 hashes, tersely",
            datagram(["BT-SEARCH * HTTP/1.1", "Port:1"] + Array(repeating: "Infohash:\(hexA)", count: 26), terminator: "\n"),
            .tooManyInfoHashes
        ),
        (
            "41 headers", datagram(["BT-SEARCH * HTTP/1.1", "Port: 1"] + Array(repeating: "X: y", count: 40)),
            .tooManyHeaders
        ),
        (
            "long line", datagram(["BT-SEARCH * HTTP/1.1", "X-Pad: " + String(repeating: "a", count: 250)]),
            .lineTooLong
        ),
        ("oversized", Array(repeating: UInt8(ascii: "a"), count: 1401), .datagramTooLarge),
    ]).map { Malformed(name: $0.0, datagram: $0.1, code: $0.2) }

    @Test(arguments: malformed)
    func malformedDatagramsAreTypedErrors(_ malformed: Malformed) throws {
        let error = try #require(throws: LocalDiscoveryError.self, "\(malformed.name)") {
            try LSDAnnouncement(decoding: malformed.datagram)
        }
        #expect(error.code == malformed.code, "\(malformed.name): \(error)")
        #expect(!error.message.isEmpty)
    }
}
