// PeerWire: the BitTorrent peer protocol (BEP 3, BEP 6, BEP 10) as NIOCore codecs; opens no sockets.

/// A peer-wire protocol failure: what a peer sent that breaks the protocol or this side's limits.
///
/// A peer that causes one of these should be disconnected; the ``code`` says why, ``message`` says what exactly.
public struct PeerWireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Hashable {
        /// The handshake's protocol string length or protocol string is not `19` / `BitTorrent protocol`.
        case invalidHandshake = "invalid handshake"
        /// A length prefix announces a frame longer than the maximum frame length.
        case frameTooLarge = "frame longer than the maximum"
        /// A message id this side does not know.
        case unknownMessage = "unknown message id"
        /// A message's payload length does not match its type.
        case invalidLength = "message has the wrong length"
        /// A piece index at or past the torrent's piece count.
        case pieceOutOfRange = "piece index out of range"
        /// A block (request, cancel, reject or piece data) that lies outside its piece, or is empty.
        case blockOutOfRange = "block outside its piece"
        /// A request, cancel or reject asking for more than the maximum block length.
        case blockTooLarge = "block longer than the maximum"
        /// A bitfield whose size does not match the piece count, or with spare bits set.
        case invalidBitfield = "invalid bitfield"
        /// A Fast extension (BEP 6) message on a connection that did not negotiate it.
        case fastExtensionNotNegotiated = "Fast extension message without the Fast extension"
        /// An extended (BEP 10) message on a connection that did not negotiate the extension protocol.
        case extensionProtocolNotNegotiated = "extended message without the extension protocol"
        /// An extended handshake that is not a bencoded dictionary of the documented shape.
        case invalidExtendedHandshake = "invalid extended handshake"
        /// A BEP 9 `ut_metadata` message of the wrong shape (see ``MetadataMessage``).
        case invalidMetadataMessage = "invalid ut_metadata message"
        /// A value this side was asked to encode does not fit the wire format.
        case unencodable = "value does not fit the wire format"
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

    public var description: String { "peer wire: \(code.rawValue): \(message)" }
}
