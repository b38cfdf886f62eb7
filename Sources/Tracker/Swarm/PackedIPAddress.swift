import SwarmPrimitives

/// A peer's IP address in 16 bytes (IPv4 held as an IPv4-mapped IPv6 address, `::ffff:a.b.c.d`).
///
/// Kept inline so a stored peer costs no heap allocation for its address.
public struct PackedIPAddress: Sendable, Hashable {
    private var high: UInt64
    private var low: UInt64

    /// An IPv4 address from its four bytes in network order.
    public init(ipv4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        high = 0
        low = 0
        withUnsafeMutableBytes(of: &self) { raw in
            raw[10] = 0xff
            raw[11] = 0xff
            raw[12] = a
            raw[13] = b
            raw[14] = c
            raw[15] = d
        }
    }

    /// An address from 4 (IPv4) or 16 (IPv6) bytes in network order; nil for any other length.
    /// An IPv4-mapped IPv6 address is treated as the IPv4 address it maps.
    public init?(bytes: some Collection<UInt8>) {
        let b = Array(bytes)
        switch b.count {
        case 4:
            self.init(ipv4: b[0], b[1], b[2], b[3])
        case 16:
            var value = PackedIPAddress(ipv4: 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &value) { raw in
                for index in 0..<16 { raw[index] = b[index] }
            }
            self = value
        default:
            return nil
        }
    }

    /// True for an IPv4 address (stored mapped).
    public var isIPv4: Bool {
        withUnsafeBytes(of: self) { raw in
            raw[0] == 0 && raw[1] == 0 && raw[2] == 0 && raw[3] == 0 && raw[4] == 0 && raw[5] == 0
                && raw[6] == 0 && raw[7] == 0 && raw[8] == 0 && raw[9] == 0 && raw[10] == 0xff && raw[11] == 0xff
        }
    }

    /// Appends the address in network order: 4 bytes for IPv4, 16 for IPv6 (the BEP 23 / BEP 7 compact forms).
    public func appendCompact(to out: inout [UInt8]) {
        withUnsafeBytes(of: self) { raw in
            out.append(contentsOf: isIPv4 ? UnsafeRawBufferPointer(rebasing: raw[12..<16]) : raw)
        }
    }

    /// The textual form: dotted quad for IPv4, RFC 5952 style (lower-case hex, `::` for the longest zero run)
    /// for IPv6.
    public var text: String {
        withUnsafeBytes(of: self) { raw in
            isIPv4 ? IPAddressText.ipv4(raw[12..<16]) : IPAddressText.ipv6(raw)
        }
    }
}
