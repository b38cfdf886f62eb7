import Metainfo

/// The pure parts of a ``MirrorServer`` request: which file a request target names, and `If-None-Match`.
enum MirrorRequest {
    /// What a request target names.
    enum Route: Sendable, Hashable {
        /// `/t/<hex>/<path…>`: the info-hash's hex digits and the percent-decoded path components.
        case torrentFile(infoHash: String, path: [String])
        /// `/sha256/<hex>`: a served file by the SHA-256 of its content (64 hex digits).
        case digest(String)
        /// Not a path this server answers; the reason is sent to the client (400).
        case invalid(String)
    }

    /// A request target's passkey prefix, `/p/<passkey>/…` (for clients that can only put a secret in a URL: a
    /// web seed's `url-list` entry keeps the prefix as clients append the file's path): the passkey and the target
    /// without the prefix; nil passkey and the target unchanged without one.
    static func passkey(in target: String) -> (passkey: String?, target: String) {
        guard target.hasPrefix("/p/") else { return (nil, target) }
        let rest = target.dropFirst(3)
        guard let slash = rest.firstIndex(of: "/") else { return (String(rest), "/") }
        return (String(rest[..<slash]), String(rest[slash...]))
    }

    /// The longest request target looked at.
    static let maximumTargetLength = 8192

    /// Routes a request target (`/t/<hex>/name/dir/file?query`; the query is ignored).
    ///
    /// Each component is percent-decoded on its own (an encoded `/` stays inside its component, so it matches no
    /// file) and must be UTF-8.
    static func route(_ target: String) -> Route {
        guard target.utf8.count <= maximumTargetLength else {
            return .invalid("the request target is longer than \(maximumTargetLength) bytes")
        }
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        if components.count == 3, components[0].isEmpty, components[1] == "sha256" {
            let digest = components[2]
            guard digest.utf8.count == 64, digest.allSatisfy(\.isHexDigit) else {
                return .invalid("'\(digest.prefix(80))' is not a SHA-256 digest (64 hex digits)")
            }
            return .digest(String(digest))
        }
        // "", "t", hex, name, ...
        guard components.count >= 4, components[0].isEmpty, components[1] == "t" else {
            return .invalid("paths here are [/p/<passkey>]/t/<info-hash-hex>/<name>[/<path>] and [/p/<passkey>]/sha256/<hex>")
        }
        let infoHash = components[2]
        guard infoHash.utf8.count == 40, infoHash.allSatisfy(\.isHexDigit) else {
            return .invalid("'\(infoHash.prefix(64))' is not a v1 info-hash (40 hex digits)")
        }
        var decoded: [String] = []
        for component in components[3...] {
            guard let text = percentDecoded(component) else {
                return .invalid("the path has a malformed percent-escape or is not UTF-8")
            }
            decoded.append(text)
        }
        return .torrentFile(infoHash: String(infoHash), path: decoded)
    }

    /// `%XX` decoded into bytes, read as UTF-8; nil for a bad escape or bytes that are not UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        guard let bytes = MagnetLink.percentDecode(ArraySlice(text.utf8), plusAsSpace: false) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Whether an `If-None-Match` value (`*` or a list of entity tags, weak ones included: RFC 9110 §13.1.2 compares
    /// weakly) matches `etag`.
    static func matches(_ header: String, etag: String) -> Bool {
        if header.trimmingSpaces == "*" { return true }
        return header.split(separator: ",").contains { tag in
            var tag = tag.trimmingSpaces
            if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
            return tag == etag
        }
    }
}
