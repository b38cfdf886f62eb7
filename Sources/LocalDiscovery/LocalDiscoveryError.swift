// LocalDiscovery: BEP 14 local service discovery. The codec (Codec/) is pure; the announcer (Announcer/) owns the
// UDP multicast socket.

/// A local-discovery failure: a datagram that breaks the wire format or its bounds, or an announcer that cannot
/// start on the interfaces it was given.
public struct LocalDiscoveryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Hashable {
        /// The datagram is longer than ``LSDLimits/maximumDatagram``.
        case datagramTooLarge = "datagram too large"
        /// The first line is not `BT-SEARCH * HTTP/1.1`.
        case badRequestLine = "not a BT-SEARCH request"
        /// A line is longer than ``LSDLimits/maximumLineLength``.
        case lineTooLong = "line too long"
        /// More than ``LSDLimits/maximumHeaders`` header lines.
        case tooManyHeaders = "too many headers"
        /// A header line without `name: value`.
        case malformedHeader = "malformed header"
        /// No `Port` header.
        case missingPort = "missing port"
        /// A `Port` value that is not a decimal number in 1…65535 (`6,771` included).
        case badPort = "bad port"
        /// No `Infohash` header.
        case missingInfoHash = "missing info-hash"
        /// An `Infohash` value that is not 40 hexadecimal digits.
        case badInfoHash = "bad info-hash"
        /// More than ``LSDLimits/maximumInfoHashes`` `Infohash` headers.
        case tooManyInfoHashes = "too many info-hashes"
        /// A value this side was asked to encode does not fit the wire format.
        case unencodable = "value does not fit the wire format"
        /// An interface named in the configuration does not exist, is down, or has no IPv4 address.
        case unknownInterface = "unknown interface"
        /// The multicast socket could not be opened, bound or joined to the group.
        case socketFailed = "socket failed"
    }

    /// What went wrong.
    public var code: Code
    /// The details: the offending values and, where there is one, the fix.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "local discovery: \(code.rawValue): \(message)" }
}
