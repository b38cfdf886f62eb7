import struct Foundation.URL

/// Where a mirror serves each of a torrent's files, by BEP 19 (`url-list`): for a multi-file torrent the URL is a
/// directory and a file's URL is the URL, `/` if it lacks one, and the file's path (the torrent's name first) with
/// each component percent-encoded; for a single-file torrent a URL ending in `/` is a directory that holds the file
/// under the torrent's name, and any other URL is the file itself.
public struct MirrorLocation: Sendable, Hashable {
    /// The URL as given (the mirror's name in progress, logs and the audit log).
    public let url: String
    /// The host part of the URL (a numeric address or a name), for its locality.
    public let host: String
    /// The port (the scheme's default when the URL names none).
    public let port: Int
    /// Per file of the layout, in order: the URL to fetch it from; nil for pad files (zeros, never fetched).
    public let fileURLs: [String?]

    /// - Parameters:
    ///   - url: an `http://` or `https://` URL.
    ///   - layout: the torrent's files.
    ///   - isSingleFile: the torrent has one file (`length` rather than `files`).
    /// - Throws: ``EngineError`` `badMirrorURL` naming the URL when it is not an absolute http(s) URL with a host.
    public init(url: String, layout: StorageLayout, isSingleFile: Bool) throws(EngineError) {
        (self.host, self.port) = try Self.check(url)
        self.url = url
        let encode = { (components: [String]) in components.map(Self.percentEncode).joined(separator: "/") }
        if isSingleFile {
            let file = url.hasSuffix("/") ? url + encode(layout.files[0].path) : url
            fileURLs = layout.files.map { $0.isPadFile ? nil : file }
        } else {
            let base = url.hasSuffix("/") ? url : url + "/"
            fileURLs = layout.files.map { $0.isPadFile ? nil : base + encode($0.path) }
        }
    }

    /// Checks that `url` can be a mirror (the CLI's check of `--mirror`).
    ///
    /// - Returns: its host (IPv6 without brackets) and port.
    /// - Throws: ``EngineError`` `badMirrorURL` naming the URL when it is not an absolute http(s) URL with a host
    ///   and without a query.
    @discardableResult
    public static func check(_ url: String) throws(EngineError) -> (host: String, port: Int) {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = parsed.host, !host.isEmpty, parsed.query == nil
        else {
            throw EngineError(
                .badMirrorURL, "mirror '\(url)': expected an http:// or https:// URL with a host and no query")
        }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return (bare, parsed.port ?? (scheme == "https" ? 443 : 80))
    }

    /// RFC 3986 percent-encoding of one path component: unreserved characters stay, every other byte is `%XX`.
    static func percentEncode(_ component: String) -> String {
        var out = ""
        for byte in component.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return out
    }
}
