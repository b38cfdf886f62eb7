import SwarmPrimitives

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 network: an address prefix and its length (`10.1.0.0/16`, `fd00:1::/48`).
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The network address, 4 bytes (IPv4) or 16 bytes (IPv6), with the host bits cleared.
    public let address: [UInt8]
    /// How many leading bits of an address must match: 0…32 for IPv4, 0…128 for IPv6.
    public let prefixLength: Int

    /// - Parameters:
    ///   - address: 4 or 16 bytes; host bits are cleared.
    ///   - prefixLength: at most 8 × the address length.
    public init?(address: [UInt8], prefixLength: Int) {
        guard address.count == 4 || address.count == 16, (0...address.count * 8).contains(prefixLength) else {
            return nil
        }
        self.address = Self.masked(address, prefixLength)
        self.prefixLength = prefixLength
    }

    /// The network of an interface address and its netmask (`getifaddrs`); nil when the netmask is not a run of
    /// leading ones or does not match the address family.
    public init?(address: [UInt8], netmask: [UInt8]) {
        guard address.count == netmask.count else { return nil }
        var length = 0
        var seenZero = false
        for byte in netmask {
            for bit in (0..<8).reversed() {
                if byte & (1 << bit) != 0 {
                    if seenZero { return nil }
                    length += 1
                } else {
                    seenZero = true
                }
            }
        }
        self.init(address: address, prefixLength: length)
    }

    /// Parses `ADDRESS/LENGTH`, or a single address (a /32 or /128 network).
    ///
    /// - Throws: ``EngineError`` `.badNetwork` naming the text and the expected form.
    public init(parsing text: String) throws(EngineError) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.addressBytes(String(parts[0])) else {
            throw EngineError(
                .badNetwork, "network '\(text)': '\(parts[0])' is not an IPv4 or IPv6 address; write e.g. 10.0.0.0/8")
        }
        var length = bytes.count * 8
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...bytes.count * 8).contains(parsed) else {
                throw EngineError(
                    .badNetwork,
                    "network '\(text)': the prefix length must be a number from 0 to \(bytes.count * 8)")
            }
            length = parsed
        }
        self.init(address: bytes, prefixLength: length)!
    }

    /// Whether `address` (4 or 16 bytes) is inside the network. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`)
    /// counts as its IPv4 address.
    public func contains(_ address: [UInt8]) -> Bool {
        let candidate = address.count == 16 && self.address.count == 4 ? Self.unmappedIPv4(address) ?? address : address
        guard candidate.count == self.address.count else { return false }
        return Self.masked(candidate, prefixLength) == self.address
    }

    public var description: String {
        let text =
            address.count == 4 ? IPAddressText.ipv4(address) : IPAddressText.ipv6(address)
        return "\(text)/\(prefixLength)"
    }

    /// The bytes of a numeric IPv4 or IPv6 address (brackets and an IPv6 zone `%eth0` allowed), nil for anything
    /// else (host names are not resolved).
    public static func addressBytes(_ text: String) -> [UInt8]? {
        var host = Substring(text)
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        if let percent = host.firstIndex(of: "%") { host = host[..<percent] }
        let plain = String(host)
        if plain.contains(":") {
            var bytes = [UInt8](repeating: 0, count: 16)
            let ok = bytes.withUnsafeMutableBytes { inet_pton(AF_INET6, plain, $0.baseAddress) }
            return ok == 1 ? bytes : nil
        }
        var bytes = [UInt8](repeating: 0, count: 4)
        let ok = bytes.withUnsafeMutableBytes { inet_pton(AF_INET, plain, $0.baseAddress) }
        return ok == 1 ? bytes : nil
    }

    /// The IPv4 address inside an IPv4-mapped IPv6 address, nil for any other.
    static func unmappedIPv4(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff else {
            return nil
        }
        return Array(bytes[12..<16])
    }

    private static func masked(_ bytes: [UInt8], _ prefixLength: Int) -> [UInt8] {
        var result = bytes
        for index in result.indices {
            let keep = min(8, max(0, prefixLength - index * 8))
            result[index] &= keep == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - keep))
        }
        return result
    }
}
