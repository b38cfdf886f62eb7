import SwarmPrimitives
import Testing

struct Bytes20Tests {
    static let sample = Array(UInt8(1)...UInt8(20))

    @Test func holdsExactlyTwentyBytes() throws {
        let value = try #require(Bytes20(Self.sample))
        #expect(value.bytes == Self.sample)
        #expect(value.withUnsafeBytes { Array($0) } == Self.sample)
        var out: [UInt8] = [0xff]
        value.append(to: &out)
        #expect(out == [0xff] + Self.sample)
        #expect(Bytes20(Array(Self.sample.dropLast())) == nil)
        #expect(Bytes20(Self.sample + [21]) == nil)
        #expect(Bytes20(bytes: Self.sample) == value)
    }

    @Test func hexRoundTripsInEitherCase() throws {
        let value = try #require(Bytes20(Self.sample))
        #expect(value.hex == "0102030405060708090a0b0c0d0e0f1011121314")
        #expect(value.description == value.hex)
        #expect(InfoHash(hex: value.hex) == value)
        #expect(InfoHash(hex: value.hex.uppercased()) == value)
        #expect(InfoHash(hex: String(value.hex.dropLast())) == nil)
        #expect(InfoHash(hex: String(repeating: "g", count: 40)) == nil)
    }

    /// Order is byte-wise from the first byte, whatever the in-memory words' endianness.
    @Test func ordersLexicographically() throws {
        var low = [UInt8](repeating: 0, count: 20)
        var high = low
        low[19] = 0xff
        high[0] = 0x01
        let a = try #require(Bytes20(low))
        let b = try #require(Bytes20(high))
        #expect(a < b)
        #expect([b, a].sorted() == [a, b])
        #expect(!(a < a))
    }

    @Test func equalBytesAreEqualAndHashAlike() throws {
        let a = try #require(PeerID(Array("-SW0100-abcdefghijkl".utf8)))
        let b = try #require(PeerID(Array("-SW0100-abcdefghijkl".utf8)))
        #expect(a == b && Set([a, b]).count == 1)
        #expect(a != Bytes20.zero)
    }
}

struct IPAddressTextTests {
    @Test(arguments: [
        ([UInt8](repeating: 0, count: 16), "::"),
        ([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 0, 1], "::ffff:c0a8:1"),
        ([0x20, 0x01, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "2001:0:1::1"),
        ([0xfe, 0x80, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7], "fe80:1:2:3:4:5:6:7"),
        // Two zero runs of equal length: the first is shortened (RFC 5952 §4.2.3).
        ([0x20, 0x01, 0xd, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1], "2001:db8::1:0:0:1"),
        // A single zero group is not shortened (RFC 5952 §4.2.2).
        ([0x20, 0x01, 0xd, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1], "2001:db8:0:1:1:1:1:1"),
    ])
    func ipv6IsRFC5952(bytes: [UInt8], expected: String) {
        #expect(IPAddressText.ipv6(bytes) == expected)
        #expect(IPAddressText.format(bytes) == expected)
    }

    @Test func ipv4IsADottedQuad() {
        #expect(IPAddressText.ipv4([10, 0, 255, 1]) == "10.0.255.1")
        #expect(IPAddressText.format([127, 0, 0, 1]) == "127.0.0.1")
        #expect(IPAddressText.format([1, 2, 3]) == nil)
    }
}

struct FastRandomTests {
    @Test func aSeedGivesOneSequenceAndTheSequenceVaries() {
        var a = FastRandom(seed: 42)
        var b = FastRandom(seed: 42)
        let first = (0..<64).map { _ in a.next() }
        #expect(first == (0..<64).map { _ in b.next() })
        #expect(Set(first).count == 64)
        var zero = FastRandom(seed: 0)
        #expect(zero.next() != zero.next(), "seed 0 is not a fixed point")
        var c = FastRandom()
        var d = FastRandom()
        #expect((0..<4).map { _ in c.next() } != (0..<4).map { _ in d.next() }, "system seeds differ")
    }
}
