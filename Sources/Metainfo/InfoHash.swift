import CryptoPrimitives
import SwarmPrimitives

// A v1 info-hash — the SHA-1 of a torrent's bencoded `info` dictionary, exactly as its bytes appear in the file — is
// SwarmPrimitives' `InfoHash` (20 bytes inline), shared with PeerWire, the engine and the tracker. Metainfo adds
// how it is made and its base32 form.
extension InfoHash {
    /// Parses the 32-character RFC 4648 base32 form used by old magnet links (either case, no padding).
    public init?(base32: some StringProtocol) {
        guard base32.utf8.count == 32, let bytes = Base32.decode(base32), bytes.count == Self.byteCount else {
            return nil
        }
        self.init(bytes)
    }

    /// The SHA-1 of `infoBytes` (the raw bencoded info dictionary).
    public init<Bytes: Collection>(hashing infoBytes: Bytes) where Bytes.Element == UInt8 {
        self.init(DigestAlgorithm.sha1.hash(infoBytes))!
    }

    /// Upper-case RFC 4648 base32, 32 characters.
    public var base32: String { Base32.encode(bytes) }
}

/// A v2 info-hash (BEP 52): the SHA-256 of a torrent's bencoded `info` dictionary as it appears in the file.
public struct InfoHashV2: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 32 digest bytes.
    public let bytes: [UInt8]

    /// The number of bytes in a v2 info-hash.
    public static let byteCount = 32

    /// Wraps 32 digest bytes; nil for any other length.
    public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = Array(bytes)
    }

    /// Parses 64 hex digits (either case); nil for anything else.
    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 2 * Self.byteCount, let bytes = Hex.decode(hex) else { return nil }
        self.bytes = bytes
    }

    /// Parses the multihash form used in magnet links: `1220` (SHA2-256, 32 bytes) followed by 64 hex digits.
    public init?(multihashHex text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 4 + 2 * Self.byteCount, utf8[0..<4].elementsEqual("1220".utf8),
            let bytes = Hex.decode(String(decoding: utf8[4...], as: UTF8.self))
        else { return nil }
        self.bytes = bytes
    }

    /// The SHA-256 of `infoBytes` (the raw bencoded info dictionary).
    public init<Bytes: Collection>(hashing infoBytes: Bytes) where Bytes.Element == UInt8 {
        bytes = DigestAlgorithm.sha256.hash(infoBytes)
    }

    /// Lower-case hex, 64 digits.
    public var hex: String { Hex.encode(bytes) }

    /// The multihash form for magnet links: `1220` followed by the 64 hex digits.
    public var multihashHex: String { "1220" + hex }

    /// The first 20 bytes, which is what a v2 or hybrid swarm uses where the protocol has room for 20 bytes only
    /// (the handshake, tracker announces, DHT) — BEP 52 "truncated" info-hash.
    public var truncated: InfoHash { InfoHash(bytes: bytes[0..<InfoHash.byteCount])! }

    public var description: String { hex }

    public static func < (lhs: InfoHashV2, rhs: InfoHashV2) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }
}

/// RFC 4648 base32 without padding, as used by magnet links.
enum Base32 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var buffer = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[(buffer >> bits) & 31])
            }
            buffer &= (1 << bits) - 1
        }
        if bits > 0 { out.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes either case; nil on a character outside the alphabet. Leftover bits (fewer than 8) are dropped.
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer = 0
        var bits = 0
        for c in text.utf8 {
            let value: Int
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = Int(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = Int(c - UInt8(ascii: "a"))
            case UInt8(ascii: "2")...UInt8(ascii: "7"): value = Int(c - UInt8(ascii: "2")) + 26
            default: return nil
            }
            buffer = (buffer << 5) | value
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> bits) & 0xff))
                buffer &= (1 << bits) - 1
            }
        }
        return out
    }
}
