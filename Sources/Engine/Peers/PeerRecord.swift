/// Where a peer can be dialled: a numeric IPv4 or IPv6 address (or a host name given by the user) and a port.
public struct PeerAddress: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 dotted quad, an IPv6 address without brackets, or a host name.
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, `[IPV6]:PORT` (as given to `--peer`).
    public init(parsing text: String) throws(EngineError) {
        let fail = EngineError(.badPeerAddress, "peer address '\(text)': expected HOST:PORT or [IPV6]:PORT")
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw fail }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw fail }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw fail }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { throw fail }
        }
        guard !host.isEmpty, let port = Int(portText), (1...65535).contains(port) else { throw fail }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// How the engine learned of a peer.
public enum PeerSource: String, Sendable, Hashable, Codable {
    /// From a tracker's announce response.
    case tracker
    /// From local service discovery (BEP 14).
    case lsd
    /// Given on the command line (`--peer`).
    case manual
    /// The peer connected to us.
    case incoming
}

/// Whether a peer sits on the local network. LAN-first piece selection uses it; plain BitTorrent ignores it.
public enum PeerLocality: String, Sendable, Hashable, Codable {
    case lan
    case wan
    case unknown
}

/// What the engine knows about one peer before and while it is connected.
public struct PeerRecord: Sendable, Hashable {
    public var address: PeerAddress
    public var source: PeerSource
    public var locality: PeerLocality
    /// The peer id from its handshake or the tracker, when known.
    public var peerID: [UInt8]?

    public init(address: PeerAddress, source: PeerSource, locality: PeerLocality = .unknown, peerID: [UInt8]? = nil) {
        self.address = address
        self.source = source
        self.locality = locality
        self.peerID = peerID
    }
}

extension PeerAddress {
    /// Formats 4 bytes as a dotted quad.
    static func ipv4String<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        bytes.map { String($0) }.joined(separator: ".")
    }

    /// Formats 16 bytes as an IPv6 address in RFC 5952 form (lower-case hex, the longest run of two or more zero
    /// groups shortened to `::`).
    static func ipv6String<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let b = Array(bytes)
        precondition(b.count == 16)
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
}
