/// An `http://` announce URL split into the parts an HTTP GET needs. Passkey URLs (`/announce/KEY` or
/// `?passkey=KEY`) keep their path and query unchanged.
public struct AnnounceURL: Sendable, Hashable, CustomStringConvertible {
    /// The URL as written in the torrent.
    public var text: String
    /// Host name or numeric address (IPv6 without brackets).
    public var host: String
    public var port: Int
    /// Path and any query, starting with `/`.
    public var pathAndQuery: String

    /// Parses an announce URL. Only `http://` is supported (no TLS stack in the engine); other schemes are
    /// refused with a message that says so.
    public init(_ text: String) throws(EngineError) {
        self.text = text
        let lower = text.lowercased()
        guard lower.hasPrefix("http://") else {
            let scheme = text.split(separator: ":", maxSplits: 1).first.map(String.init) ?? text
            throw EngineError(
                .badAnnounceURL,
                "announce URL '\(text)': scheme '\(scheme)' is not supported; use an http:// tracker")
        }
        let rest = text.dropFirst("http://".count)
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        if path.isEmpty { path = "/" } else if path.hasPrefix("?") { path = "/" + path }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var host: Substring
        var port = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw EngineError(.badAnnounceURL, "announce URL '\(text)': unterminated IPv6 address")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw EngineError(.badAnnounceURL, "announce URL '\(text)': bad port")
                }
                port = p
            } else if !after.isEmpty {
                throw EngineError(.badAnnounceURL, "announce URL '\(text)': junk after the IPv6 address")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else {
                throw EngineError(.badAnnounceURL, "announce URL '\(text)': bad port")
            }
            port = p
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw EngineError(.badAnnounceURL, "announce URL '\(text)': no host") }
        if let hash = path.firstIndex(of: "#") { path = String(path[..<hash]) }
        self.host = String(host)
        self.port = port
        self.pathAndQuery = path
    }

    /// The `Host:` header value.
    public var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? h : "\(h):\(port)"
    }

    public var description: String { text }
}
