import CryptoPrimitives

/// A secret token for third-party clients that can only put a secret in the announce URL
/// (`http://tracker/<passkey>/announce`), as private trackers do.
///
/// A token is 22 to 128 characters from the URL-safe set `A-Z a-z 0-9 - _`, so it needs no percent-encoding in a
/// URL path. `generate()` makes 32 lower-case base32 characters (RFC 4648 alphabet `a-z2-7`): 160 random bits.
/// Comparison is constant-time; `description` never shows the token.
public struct Passkey: Sendable, Equatable, CustomStringConvertible {
    /// The shortest token accepted: 22 characters of a 64-letter alphabet carry 132 bits.
    public static let minimumLength = 22
    /// The longest token accepted.
    public static let maximumLength = 128

    /// The secret token as it appears in URLs and in the allowlist.
    public let token: String

    /// Validates a token; nil if it is too short, too long or holds a character outside `A-Z a-z 0-9 - _`.
    public init?(token: some StringProtocol) {
        guard Self.problem(with: token) == nil else { return nil }
        self.token = String(token)
    }

    /// Returns nil if `token` is an acceptable passkey, else why not.
    public static func problem(with token: some StringProtocol) -> String? {
        let count = token.utf8.count
        if count < minimumLength {
            return "a passkey needs at least \(minimumLength) characters (128 bits), this one has \(count); "
                + "use a random token (`swtorrent keygen` makes passkeys)"
        }
        if count > maximumLength { return "a passkey is at most \(maximumLength) characters, this one has \(count)" }
        if !token.utf8.allSatisfy(isTokenByte) {
            return "a passkey may only hold the URL-safe characters A-Z a-z 0-9 - _"
        }
        return nil
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default: false
        }
    }

    private static let base32 = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    /// A new random passkey: 20 bytes from libsodium's CSPRNG as 32 lower-case base32 characters (160 bits).
    public static func generate() -> Passkey {
        let random = secureRandomBytes(20)
        var chars = [UInt8]()
        chars.reserveCapacity(32)
        // 20 bytes = 4 groups of 5 bytes = 4 groups of 8 base32 digits; no padding.
        for group in 0..<4 {
            var value: UInt64 = 0
            for byte in random[(group * 5)..<(group * 5 + 5)] { value = value << 8 | UInt64(byte) }
            for digit in (0..<8).reversed() { chars.append(base32[Int(value >> (UInt64(digit) * 5) & 31)]) }
        }
        return Passkey(token: String(decoding: chars, as: UTF8.self))!
    }

    /// The SHA-256 of the token: how the allowlist indexes passkeys without comparing secrets byte by byte.
    public var digest: PasskeyDigest { PasskeyDigest(token: Array(token.utf8)) }

    /// Constant-time comparison of the tokens.
    public static func == (lhs: Passkey, rhs: Passkey) -> Bool {
        constantTimeEquals(Array(lhs.token.utf8), Array(rhs.token.utf8))
    }

    /// `passkey(<redacted>)`: tokens never reach logs through string interpolation.
    public var description: String { "passkey(<redacted>)" }
}

/// SHA-256 of a passkey token: a hashable handle for a passkey that does not reveal it.
public struct PasskeyDigest: Sendable, Hashable {
    /// The 32-byte digest.
    public let bytes: [UInt8]

    /// Hashes a token's bytes.
    public init(token: some Collection<UInt8>) {
        bytes = DigestAlgorithm.sha256.hash(token)
    }
}
