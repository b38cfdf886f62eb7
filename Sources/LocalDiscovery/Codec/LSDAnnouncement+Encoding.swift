extension LSDAnnouncement {
    /// The datagrams that carry this announcement: one per info-hash, in order, each ending in two empty lines. The
    /// port and the hash are written digit by digit (no formatter, no locale: never `6,771`).
    ///
    /// One hash a datagram, as libtorrent and Transmission send: Transmission 3.00 reads only the first `Infohash` of
    /// a datagram and drops one over 200 bytes (tr-lpd.c), so several hashes in one datagram would reach it for one
    /// torrent at most. A datagram is at most 195 bytes (the longest cookie, the IPv6 `Host`, a 5-digit port).
    ///
    /// - Throws: ``LocalDiscoveryError`` `unencodable` for a port outside 1…65535, a cookie that is empty, too long or
    ///   not printable ASCII, or no info-hash at all.
    public func encode(family: Family) throws(LocalDiscoveryError) -> [[UInt8]] {
        guard (1...65535).contains(port) else {
            throw LocalDiscoveryError(.unencodable, "port \(port) is not a TCP port (1-65535)")
        }
        guard !infoHashes.isEmpty else { throw LocalDiscoveryError(.unencodable, "an announcement needs an info-hash") }
        if let cookie {
            guard !cookie.isEmpty, cookie.utf8.count <= 64, cookie.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw LocalDiscoveryError(.unencodable, "cookie '\(cookie)': expected 1-64 printable ASCII characters")
            }
        }
        var head: [UInt8] = []
        Self.append(&head, "BT-SEARCH * HTTP/1.1\r\nHost: ")
        Self.append(&head, family.hostHeader)
        Self.append(&head, "\r\nPort: ")
        Self.appendDecimal(&head, port)
        Self.append(&head, "\r\n")
        var tail: [UInt8] = []
        if let cookie {
            Self.append(&tail, "cookie: ")
            Self.append(&tail, cookie)
            Self.append(&tail, "\r\n")
        }
        // Two empty lines end the datagram, as BEP 14 writes it and libtorrent sends it: Transmission 3.00 drops a
        // datagram that does not end in `\r\n\r\n\r\n` (tr-lpd.c, lpd_extractHeader), so with one it never heard us.
        Self.append(&tail, "\r\n\r\n")
        return infoHashes.map { hash in
            var datagram = head
            Self.append(&datagram, "Infohash: ")
            Self.append(&datagram, hash.hex)
            Self.append(&datagram, "\r\n")
            return datagram + tail
        }
    }

    private static func append(_ bytes: inout [UInt8], _ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    /// `value` (≥ 0) in decimal ASCII digits.
    static func appendDecimal(_ bytes: inout [UInt8], _ value: Int) {
        var digits: [UInt8] = []
        var rest = value
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        bytes.append(contentsOf: digits.reversed())
    }
}
