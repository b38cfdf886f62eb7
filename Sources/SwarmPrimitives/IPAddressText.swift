/// The textual form of an IP address given as its bytes in network order, as peers are written in compact peer
/// lists (BEP 23, BEP 7) and as the tracker and the engine print them.
public enum IPAddressText {
    /// Formats 4 bytes as a dotted quad.
    public static func ipv4(_ bytes: some Collection<UInt8>) -> String {
        bytes.map { String($0) }.joined(separator: ".")
    }

    /// Formats 16 bytes as an IPv6 address in RFC 5952 form: lower-case hex without leading zeros, the longest run
    /// of two or more zero groups (the first of equal runs) shortened to `::`.
    /// - Precondition: `bytes` holds 16 bytes.
    public static func ipv6(_ bytes: some Collection<UInt8>) -> String {
        let b = Array(bytes)
        precondition(b.count == 16, "an IPv6 address is 16 bytes, got \(b.count)")
        let groups = (0..<8).map { UInt16(b[2 * $0]) << 8 | UInt16(b[2 * $0 + 1]) }
        var bestStart = -1
        var bestLength = 0
        var index = 0
        while index < 8 {
            if groups[index] == 0 {
                let start = index
                while index < 8 && groups[index] == 0 { index += 1 }
                if index - start > bestLength && index - start >= 2 {
                    bestStart = start
                    bestLength = index - start
                }
            } else {
                index += 1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }

    /// Formats 4 bytes as IPv4 and 16 as IPv6; nil for any other length.
    public static func format(_ bytes: some Collection<UInt8>) -> String? {
        switch bytes.count {
        case 4: ipv4(bytes)
        case 16: ipv6(bytes)
        default: nil
        }
    }
}
