import NIOCore
import SwarmPrimitives

extension LSDAnnouncement {
    /// Parses one datagram, within ``LSDLimits``: the request line `BT-SEARCH * HTTP/1.1`, then header lines up to
    /// an empty line (or the end of the datagram). Lines end with `\r\n` (a bare `\n` is accepted). Header names are
    /// case-insensitive and values are trimmed of spaces and tabs; `Host` and unknown headers are ignored; `Port`
    /// must be decimal digits in 1…65535; each `Infohash` must be 40 hexadecimal digits (either case); the last
    /// `cookie` wins.
    ///
    /// - Throws: ``LocalDiscoveryError`` naming the first bound or rule the datagram breaks.
    public init<Bytes: Collection>(decoding datagram: Bytes) throws(LocalDiscoveryError) where Bytes.Element == UInt8 {
        guard datagram.count <= LSDLimits.maximumDatagram else {
            throw LocalDiscoveryError(
                .datagramTooLarge, "\(datagram.count) bytes: at most \(LSDLimits.maximumDatagram) are accepted")
        }
        let bytes = Array(datagram)
        var lines = LineReader(bytes: bytes)
        guard let requestLine = try lines.next(), requestLine.elementsEqual("BT-SEARCH * HTTP/1.1".utf8) else {
            throw LocalDiscoveryError(.badRequestLine, "expected 'BT-SEARCH * HTTP/1.1' as the first line")
        }
        var port: Int?
        var hashes: [InfoHash] = []
        var cookie: String?
        var headers = 0
        while let line = try lines.next(), !line.isEmpty {
            headers += 1
            guard headers <= LSDLimits.maximumHeaders else {
                throw LocalDiscoveryError(.tooManyHeaders, "more than \(LSDLimits.maximumHeaders) header lines")
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
                throw LocalDiscoveryError(.malformedHeader, "header line without 'name: value'")
            }
            let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
            let value = Self.trimmed(line[(colon + 1)...])
            switch name {
            case "port":
                port = try Self.port(value)
            case "infohash":
                guard hashes.count < LSDLimits.maximumInfoHashes else {
                    throw LocalDiscoveryError(
                        .tooManyInfoHashes, "more than \(LSDLimits.maximumInfoHashes) Infohash headers in one datagram")
                }
                hashes.append(try Self.infoHash(value))
            case "cookie":
                cookie = String(decoding: value, as: UTF8.self)
            default:
                continue
            }
        }
        guard let port else { throw LocalDiscoveryError(.missingPort, "no Port header") }
        guard !hashes.isEmpty else { throw LocalDiscoveryError(.missingInfoHash, "no Infohash header") }
        self.init(port: port, infoHashes: hashes, cookie: cookie)
    }

    /// Parses one datagram's readable bytes (the reader index does not move).
    public init(decoding buffer: ByteBuffer) throws(LocalDiscoveryError) {
        try self.init(decoding: buffer.readableBytesView)
    }

    private static func trimmed(_ value: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let blank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        guard let first = value.firstIndex(where: { !blank($0) }), let last = value.lastIndex(where: { !blank($0) })
        else { return [] }
        return value[first...last]
    }

    private static func port(_ value: ArraySlice<UInt8>) throws(LocalDiscoveryError) -> Int {
        let text = String(decoding: value, as: UTF8.self)
        guard !value.isEmpty, value.count <= 5, value.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else {
            throw LocalDiscoveryError(.badPort, "Port '\(text)': expected decimal digits only (1-65535)")
        }
        let port = value.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard (1...65535).contains(port) else {
            throw LocalDiscoveryError(.badPort, "Port \(port): expected 1-65535")
        }
        return port
    }

    private static func infoHash(_ value: ArraySlice<UInt8>) throws(LocalDiscoveryError) -> InfoHash {
        let text = String(decoding: value, as: UTF8.self)
        guard value.count == 40, let hash = InfoHash(hex: text) else {
            throw LocalDiscoveryError(.badInfoHash, "Infohash '\(text.prefix(80))': expected 40 hex digits")
        }
        return hash
    }
}

/// Splits a datagram into lines (`\r\n` or `\n`), each at most ``LSDLimits/maximumLineLength`` bytes.
private struct LineReader {
    let bytes: [UInt8]
    var position = 0

    /// The next line without its terminator; nil at the end of the datagram. A final line without a terminator is
    /// returned as it is.
    mutating func next() throws(LocalDiscoveryError) -> ArraySlice<UInt8>? {
        guard position < bytes.count else { return nil }
        let end = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
        var line = bytes[position..<end]
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        guard line.count <= LSDLimits.maximumLineLength else {
            throw LocalDiscoveryError(
                .lineTooLong, "a line of \(line.count) bytes: at most \(LSDLimits.maximumLineLength) are accepted")
        }
        position = end + 1
        return line
    }
}
