/// Which tracker endpoint a request target names.
public enum TrackerEndpoint: Sendable, Hashable {
    /// `GET /announce` (signed, from swtorrent nodes) or `GET /<passkey>/announce` (third-party clients).
    case announce(passkey: String?)
    /// `GET /scrape` or `GET /<passkey>/scrape` (BEP 48).
    case scrape(passkey: String?)
}

/// A request target (`/path?query`) split into its endpoint and the byte range of its query.
public struct RequestTarget: Sendable, Hashable {
    /// The endpoint the path names.
    public var endpoint: TrackerEndpoint
    /// Where the query starts and ends in the target (empty when there is no `?`).
    public var query: Range<Int>

    /// The longest passkey accepted in a path segment.
    public static let maxPasskeyLength = 128

    /// Splits `target` into endpoint and query.
    ///
    /// Accepted paths: `/announce`, `/scrape`, `/<passkey>/announce`, `/<passkey>/scrape`. A passkey is one
    /// path segment of URL-safe characters (`A-Z a-z 0-9 - _ . ~`), at most 128 bytes.
    /// - Throws: `TrackerError` with `.targetTooLong` or `.unknownPath`.
    public static func parse(_ target: UnsafeRawBufferPointer, limits: RequestLimits) throws(TrackerError)
        -> RequestTarget
    {
        guard target.count <= limits.maxTargetLength else {
            throw TrackerError(
                .targetTooLong, "request target", "\(target.count) bytes; at most \(limits.maxTargetLength) accepted")
        }
        var pathEnd = 0
        while pathEnd < target.count && target[pathEnd] != UInt8(ascii: "?") { pathEnd += 1 }
        let query = pathEnd < target.count ? (pathEnd + 1)..<target.count : target.count..<target.count
        let path = UnsafeRawBufferPointer(rebasing: target[0..<pathEnd])
        if let endpoint = endpoint(path) { return RequestTarget(endpoint: endpoint, query: query) }
        let shown = String(decoding: path.prefix(64), as: UTF8.self)
        throw TrackerError(.unknownPath, shown, "use /announce, /scrape, /<passkey>/announce or /<passkey>/scrape")
    }

    /// Convenience for tests and tools: parses a target held in a `String`.
    public static func parse(_ target: String, limits: RequestLimits = RequestLimits()) throws(TrackerError)
        -> RequestTarget
    {
        try withUTF8Bytes(target) { (buffer) throws(TrackerError) in try parse(buffer, limits: limits) }
    }

    private static func endpoint(_ path: UnsafeRawBufferPointer) -> TrackerEndpoint? {
        guard path.count >= 2, path[0] == UInt8(ascii: "/") else { return nil }
        var slash = path.count - 1
        while slash > 0 && path[slash] != UInt8(ascii: "/") { slash -= 1 }
        let last = UnsafeRawBufferPointer(rebasing: path[(slash + 1)...])
        let isAnnounce = last.elementsEqual("announce".utf8)
        guard isAnnounce || last.elementsEqual("scrape".utf8) else { return nil }
        var passkey: String? = nil
        if slash > 0 {
            let segment = path[1..<slash]
            guard !segment.isEmpty, segment.count <= maxPasskeyLength, segment.allSatisfy(isPasskeyByte) else {
                return nil
            }
            passkey = String(decoding: segment, as: UTF8.self)
        }
        return isAnnounce ? .announce(passkey: passkey) : .scrape(passkey: passkey)
    }

    private static func isPasskeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
            UInt8(ascii: "~"):
            true
        default: false
        }
    }
}
