/// One HTTP/1.x request head (request line and header fields) as the tracker needs it: byte ranges into the
/// buffer it was parsed from, plus the few header values that change what the tracker does.
public struct RequestHead: Sendable, Hashable {
    /// The method is `GET` (the only one the tracker serves).
    public var isGET: Bool
    /// The request target's path and query (for an absolute-form target, what follows the authority).
    public var target: Range<Int>
    /// The `Host` to use: the authority of an absolute-form target, else the `Host` header's value; nil if neither.
    public var host: Range<Int>?
    /// The value of the last `X-Forwarded-For` field, if any.
    public var forwardedFor: Range<Int>?
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    /// Whether the connection stays open after the response: HTTP/1.1 unless `Connection: close`, HTTP/1.0 only
    /// with `Connection: keep-alive`.
    public var keepAlive: Bool
    /// The request announces a body (`Content-Length` above 0 or any `Transfer-Encoding`); the tracker serves none.
    public var hasBody: Bool
    /// Bytes the head occupies, including the blank line that ends it.
    public var length: Int
}

/// A bounded HTTP/1.x request-head parser for the tracker's announce listener.
///
/// Accepts what BitTorrent clients send: `GET` with an origin-form (`/path?query`) or absolute-form
/// (`http://host/path?query`) target, `HTTP/1.0` or `HTTP/1.1`, header lines ending in CRLF (a bare LF is
/// tolerated), empty lines before the request line skipped. Rejected: other versions, obsolete line folding,
/// whitespace before a field name's colon, field names that are not tokens, control bytes in the target, a second
/// `Host`, a non-numeric `Content-Length`. Bounds (`RequestLimits`): the head is at most `maxHeadLength` bytes, the
/// target at most `maxTargetLength`, at most `maxHeaderFields` fields. Work is linear in the bytes examined, and
/// with `scanned` kept between calls each byte is searched for the end of the head once.
public enum RequestHeadParser {
    /// Parses the head at the start of `bytes`.
    /// - Parameters:
    ///   - bytes: Received bytes, starting at the request line.
    ///   - limits: Size bounds.
    ///   - scanned: Where an earlier call on the same, since extended, bytes left the search for the end of the
    ///     head (an opaque position); start at 0 and reset to 0 after consuming a head.
    /// - Returns: The head, or nil when it is not complete yet (and still within the limits).
    /// - Throws: `TrackerError` with `.headTooLarge` (answer 431), `.targetTooLong` (414) or `.malformedHTTP` (400).
    public static func parse(_ bytes: UnsafeRawBufferPointer, limits: RequestLimits, scanned: inout Int)
        throws(TrackerError) -> RequestHead?
    {
        guard let end = endOfHead(bytes, limits: limits, scanned: &scanned) else {
            if bytes.count >= limits.maxHeadLength { throw overflow(bytes, limits: limits) }
            return nil
        }
        return try parseComplete(UnsafeRawBufferPointer(rebasing: bytes[0..<end]), limits: limits)
    }

    /// Parses a head held in `bytes` (convenience for tests and the fuzz target).
    public static func parse(_ bytes: UnsafeRawBufferPointer, limits: RequestLimits = RequestLimits())
        throws(TrackerError) -> RequestHead?
    {
        var scanned = 0
        return try parse(bytes, limits: limits, scanned: &scanned)
    }

    private static let lf = UInt8(ascii: "\n")
    private static let cr = UInt8(ascii: "\r")
    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")

    /// The index just past the blank line ending the head, searching at most `maxHeadLength` bytes.
    ///
    /// `scanned` is where to resume: a value ≤ 0 means the search is still skipping the empty lines a client may
    /// send before the request line (−`scanned` bytes of them skipped so far), a positive value is the next byte to
    /// examine.
    private static func endOfHead(_ bytes: UnsafeRawBufferPointer, limits: RequestLimits, scanned: inout Int) -> Int? {
        let limit = min(bytes.count, limits.maxHeadLength)
        var index: Int
        if scanned <= 0 {
            // Skip the empty lines before the request line (bounded by the head limit).
            index = -scanned
            while index < limit, bytes[index] == cr || bytes[index] == lf { index += 1 }
            if index >= limit {
                scanned = -index
                return nil
            }
        } else {
            index = scanned
        }
        while index < limit {
            if bytes[index] == lf {
                if index + 1 >= limit { break }
                let next = bytes[index + 1]
                if next == lf { return index + 2 }
                if next == cr {
                    if index + 2 >= limit { break }
                    if bytes[index + 2] == lf { return index + 3 }
                }
            }
            index += 1
        }
        scanned = index
        return nil
    }

    private static func overflow(_ bytes: UnsafeRawBufferPointer, limits: RequestLimits) -> TrackerError {
        let window = UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, limits.maxHeadLength)])
        if let firstLF = window.firstIndex(of: lf), firstLF <= limits.maxTargetLength + 32 {
            return TrackerError(
                .headTooLarge, "request head",
                "more than \(limits.maxHeadLength) bytes or \(limits.maxHeaderFields) header fields")
        }
        return TrackerError(
            .targetTooLong, "request line", "longer than the \(limits.maxTargetLength)-byte request target limit")
    }

    private static func malformed(_ detail: String) -> TrackerError {
        TrackerError(.malformedHTTP, "HTTP request", detail)
    }

    /// One line: `[start, end)` without the line ending; `next` is where the following line starts.
    private static func line(_ bytes: UnsafeRawBufferPointer, from start: Int) -> (end: Int, next: Int)? {
        var index = start
        while index < bytes.count && bytes[index] != lf { index += 1 }
        guard index < bytes.count else { return nil }
        let end = index > start && bytes[index - 1] == cr ? index - 1 : index
        return (end, index + 1)
    }

    private static func parseComplete(_ bytes: UnsafeRawBufferPointer, limits: RequestLimits) throws(TrackerError)
        -> RequestHead
    {
        var start = 0
        while start < bytes.count && (bytes[start] == cr || bytes[start] == lf) { start += 1 }
        guard let requestLine = line(bytes, from: start) else { throw malformed("no request line") }

        // Request line: method SP target SP HTTP/1.x
        var index = start
        while index < requestLine.end && isTokenByte(bytes[index]) { index += 1 }
        let methodLength = index - start
        guard methodLength > 0, methodLength <= 16, index < requestLine.end, bytes[index] == space else {
            throw malformed("the request line must be `METHOD /target HTTP/1.1`")
        }
        let isGET =
            methodLength == 3 && bytes[start] == UInt8(ascii: "G") && bytes[start + 1] == UInt8(ascii: "E")
            && bytes[start + 2] == UInt8(ascii: "T")
        index += 1
        let targetStart = index
        while index < requestLine.end && bytes[index] > space && bytes[index] != 0x7F { index += 1 }
        let targetEnd = index
        guard targetEnd > targetStart, index < requestLine.end, bytes[index] == space else {
            throw malformed("the request line must be `METHOD /target HTTP/1.1`")
        }
        guard targetEnd - targetStart <= limits.maxTargetLength else {
            throw TrackerError(
                .targetTooLong, "request target",
                "\(targetEnd - targetStart) bytes; at most \(limits.maxTargetLength) accepted")
        }
        index += 1
        let version = UnsafeRawBufferPointer(rebasing: bytes[index..<requestLine.end])
        let minorVersion: Int
        if version.elementsEqual("HTTP/1.1".utf8) {
            minorVersion = 1
        } else if version.elementsEqual("HTTP/1.0".utf8) {
            minorVersion = 0
        } else {
            throw malformed("only HTTP/1.0 and HTTP/1.1 are served")
        }

        var target = targetStart..<targetEnd
        var host: Range<Int>? = nil
        var authority: Range<Int>? = nil
        if let schemeEnd = absoluteFormSchemeEnd(bytes, target) {
            var authorityEnd = schemeEnd
            while authorityEnd < targetEnd && bytes[authorityEnd] != UInt8(ascii: "/")
                && bytes[authorityEnd] != UInt8(ascii: "?")
            {
                authorityEnd += 1
            }
            authority = schemeEnd..<authorityEnd
            target = authorityEnd..<targetEnd
        }

        // Header fields.
        var forwardedFor: Range<Int>? = nil
        var close = false
        var keepAliveToken = false
        var hasBody = false
        var fields = 0
        var lineStart = requestLine.next
        while true {
            guard let field = line(bytes, from: lineStart) else { throw malformed("the head does not end") }
            if field.end == lineStart {
                lineStart = field.next
                break
            }
            fields += 1
            guard fields <= limits.maxHeaderFields else {
                throw TrackerError(.headTooLarge, "request head", "more than \(limits.maxHeaderFields) header fields")
            }
            guard bytes[lineStart] != space && bytes[lineStart] != tab else {
                throw malformed("obsolete header line folding")
            }
            var colon = lineStart
            while colon < field.end && isTokenByte(bytes[colon]) { colon += 1 }
            guard colon > lineStart, colon < field.end, bytes[colon] == UInt8(ascii: ":") else {
                throw malformed("a header line is not `Name: value`")
            }
            var valueStart = colon + 1
            var valueEnd = field.end
            while valueStart < valueEnd && (bytes[valueStart] == space || bytes[valueStart] == tab) { valueStart += 1 }
            while valueEnd > valueStart && (bytes[valueEnd - 1] == space || bytes[valueEnd - 1] == tab) {
                valueEnd -= 1
            }
            let name = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<colon])
            let value = valueStart..<valueEnd
            switch name.count {
            case 4 where equalsLowercase(name, "host"):
                guard host == nil else { throw malformed("more than one Host header") }
                host = value
            case 10 where equalsLowercase(name, "connection"):
                scanConnectionTokens(UnsafeRawBufferPointer(rebasing: bytes[value]), &close, &keepAliveToken)
            case 15 where equalsLowercase(name, "x-forwarded-for"):
                forwardedFor = value
            case 14 where equalsLowercase(name, "content-length"):
                let digits = UnsafeRawBufferPointer(rebasing: bytes[value])
                guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) else {
                    throw malformed("Content-Length is not a number")
                }
                if digits.contains(where: { $0 != UInt8(ascii: "0") }) { hasBody = true }
            case 17 where equalsLowercase(name, "transfer-encoding"):
                hasBody = true
            default:
                break
            }
            lineStart = field.next
        }
        let keepAlive = minorVersion == 1 ? !close : keepAliveToken && !close
        return RequestHead(
            isGET: isGET, target: target, host: authority ?? host, forwardedFor: forwardedFor,
            minorVersion: minorVersion, keepAlive: keepAlive, hasBody: hasBody, length: lineStart)
    }

    /// Where the authority starts if `target` begins with `http://` or `https://` (any case).
    private static func absoluteFormSchemeEnd(_ bytes: UnsafeRawBufferPointer, _ target: Range<Int>) -> Int? {
        guard bytes[target.lowerBound] != UInt8(ascii: "/") else { return nil }
        let schemes: [StaticString] = ["http://", "https://"]
        for scheme in schemes where target.count >= scheme.utf8CodeUnitCount {
            let end = target.lowerBound + scheme.utf8CodeUnitCount
            if equalsLowercase(UnsafeRawBufferPointer(rebasing: bytes[target.lowerBound..<end]), scheme) { return end }
        }
        return nil
    }

    /// Comma-separated tokens of a `Connection` value: `close` and `keep-alive`, any case.
    private static func scanConnectionTokens(_ value: UnsafeRawBufferPointer, _ close: inout Bool, _ keep: inout Bool) {
        var index = 0
        while index < value.count {
            while index < value.count && (value[index] == space || value[index] == UInt8(ascii: ",")) { index += 1 }
            let start = index
            while index < value.count && value[index] != UInt8(ascii: ",") { index += 1 }
            var end = index
            while end > start && (value[end - 1] == space || value[end - 1] == tab) { end -= 1 }
            let token = UnsafeRawBufferPointer(rebasing: value[start..<end])
            if token.count == 5 && equalsLowercase(token, "close") { close = true }
            if token.count == 10 && equalsLowercase(token, "keep-alive") { keep = true }
        }
    }

    /// `bytes` equals the lowercase ASCII `lowercase`, ignoring the case of letters in `bytes`.
    private static func equalsLowercase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        for index in 0..<bytes.count {
            var byte = bytes[index]
            if byte &- UInt8(ascii: "A") < 26 { byte |= 0x20 }
            if byte != expected[index] { return false }
        }
        return true
    }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default: false
        }
    }
}
