/// Every error the Tracker module raises: a `code` to test against plus the context a user needs to fix it.
public struct TrackerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Hashable {
        /// The request target (path and query) is longer than the configured maximum.
        case targetTooLong = "request target too long"
        /// The query has more parameters than the configured maximum.
        case tooManyParameters = "too many query parameters"
        /// A `%` is not followed by two hexadecimal digits.
        case badPercentEncoding = "bad percent-encoding"
        /// A required parameter is absent.
        case missingParameter = "missing parameter"
        /// A parameter that may appear once appears again.
        case duplicateParameter = "duplicate parameter"
        /// A fixed-length binary parameter (info_hash, peer_id) has the wrong length after decoding.
        case wrongLength = "wrong length"
        /// A numeric parameter is not a decimal number in range.
        case badNumber = "bad number"
        /// `event` is not one of started, completed, stopped, paused or empty.
        case badEvent = "unknown event"
        /// The path names no tracker endpoint.
        case unknownPath = "unknown path"
        /// The HTTP request line or a header field is not well-formed HTTP/1.x (answered 400).
        case malformedHTTP = "malformed HTTP request"
        /// The request head is larger than allowed or has too many header fields (answered 431).
        case headTooLarge = "request head too large"
        /// The allowlist or torrents directory could not be read or parsed.
        case configuration = "configuration"
    }

    /// What went wrong.
    public var code: Code
    /// The parameter, path or file concerned.
    public var subject: String
    /// A human-readable detail naming the fix.
    public var detail: String

    /// Creates an error.
    public init(_ code: Code, _ subject: String, _ detail: String = "") {
        self.code = code
        self.subject = subject
        self.detail = detail
    }

    public var description: String {
        detail.isEmpty ? "\(subject): \(code.rawValue)" : "\(subject): \(code.rawValue): \(detail)"
    }
}
