/// Standard base64 (RFC 4648 §4, with `=` padding).
///
/// `decode(_:)` is strict, for keys in key files and allowlists: it rejects whitespace, missing or extra padding and
/// non-zero trailing bits, so every value has exactly one textual form and two lines that name the same key always
/// compare equal as text. `decode(lenient:)` is for what other tools write (cosign, sigstore bundles, minisign, PEM
/// bodies): surrounding whitespace is ignored and the padding's leftover bits need not be zero.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xff, count: 256)
        for (index, char) in alphabet.enumerated() { table[Int(char)] = UInt8(index) }
        return table
    }()

    /// Encodes with padding; `padding: false` drops the trailing `=` (as OpenSSH fingerprints do).
    public static func encode(_ bytes: some Collection<UInt8>, padding: Bool = true) -> String {
        let bytes = Array(bytes)
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(alphabet[Int(value >> 18 & 63)])
            out.append(alphabet[Int(value >> 12 & 63)])
            out.append(alphabet[Int(value >> 6 & 63)])
            out.append(alphabet[Int(value & 63)])
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let value = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            out.append(alphabet[Int(value >> 18 & 63)])
            out.append(alphabet[Int(value >> 12 & 63)])
            if rest == 2 { out.append(alphabet[Int(value >> 6 & 63)]) }
            if padding { out.append(contentsOf: Array(repeating: UInt8(ascii: "="), count: 3 - rest)) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes padded base64; nil if the text is not the canonical encoding of some bytes.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        decode(Array(text.utf8), canonical: true)
    }

    /// Decodes padded base64 after dropping whitespace (spaces, tabs, CR, LF) at both ends; the bits the padding
    /// leaves over may be anything. Nil if what remains is not padded base64.
    public static func decode(lenient text: some StringProtocol) -> [UInt8]? {
        var chars = Array(text.utf8)[...]
        let space: Set<UInt8> = [0x20, 0x09, 0x0D, 0x0A]
        while let first = chars.first, space.contains(first) { chars = chars.dropFirst() }
        while let last = chars.last, space.contains(last) { chars = chars.dropLast() }
        return decode(Array(chars), canonical: false)
    }

    private static func decode(_ chars: [UInt8], canonical: Bool) -> [UInt8]? {
        guard chars.count % 4 == 0 else { return nil }
        var padding = 0
        if chars.last == UInt8(ascii: "=") { padding += 1 }
        if chars.count >= 2, chars[chars.count - 2] == UInt8(ascii: "=") { padding += 1 }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 4 * 3)
        var index = 0
        while index < chars.count {
            var value: UInt32 = 0
            let isLast = index + 4 == chars.count
            let significant = isLast ? 4 - padding : 4
            for offset in 0..<4 {
                let char = chars[index + offset]
                if offset >= significant {
                    guard char == UInt8(ascii: "=") else { return nil }
                    value <<= 6
                    continue
                }
                let digit = reverse[Int(char)]
                guard digit != 0xff else { return nil }
                value = value << 6 | UInt32(digit)
            }
            out.append(UInt8(value >> 16 & 0xff))
            if significant >= 3 { out.append(UInt8(value >> 8 & 0xff)) }
            if significant == 4 { out.append(UInt8(value & 0xff)) }
            // Canonical form: the bits the padding leaves over must be zero.
            if canonical, significant == 3, value & 0xff != 0 { return nil }
            if canonical, significant == 2, value & 0xffff != 0 { return nil }
            index += 4
        }
        return out
    }
}
