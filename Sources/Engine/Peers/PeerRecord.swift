import SwarmPrimitives

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
public enum PeerSource: String, Sendable, Hashable, Codable, CodingKeyRepresentable, CaseIterable {
    /// From a tracker's announce response.
    case tracker
    /// From local service discovery (BEP 14).
    case lsd
    /// Given on the command line (`--peer`).
    case manual
    /// The peer connected to us.
    case incoming
    /// Not a peer: an HTTP mirror or BEP 19 web seed (a ``BlockSource`` the picker knows like a peer that has
    /// every piece; its locality is classified from its URL's host like a peer's address).
    case mirror
}

/// Whether a peer sits on the local network. LAN-first piece selection uses it; plain BitTorrent ignores it.
public enum PeerLocality: String, Sendable, Hashable, Codable, CodingKeyRepresentable, CaseIterable {
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
    public var peerID: PeerID?

    public init(address: PeerAddress, source: PeerSource, locality: PeerLocality = .unknown, peerID: PeerID? = nil) {
        self.address = address
        self.source = source
        self.locality = locality
        self.peerID = peerID
    }
}
