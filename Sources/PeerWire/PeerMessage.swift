import NIOCore

/// A block of a piece: `length` bytes at offset `begin` of piece `piece`. What `request`, `cancel` and
/// `reject request` name.
public struct BlockRequest: Sendable, Hashable {
    /// The piece index.
    public var piece: Int
    /// The byte offset inside the piece.
    public var begin: Int
    /// The block length in bytes.
    public var length: Int

    /// A block request.
    public init(piece: Int, begin: Int, length: Int) {
        self.piece = piece
        self.begin = begin
        self.length = length
    }
}

/// One peer-wire message after the handshake: every BEP 3 message, the Fast extension (BEP 6) and extended
/// messages (BEP 10).
///
/// Piece data stays in the `ByteBuffer` it arrived in: ``piece(piece:begin:block:)`` carries a slice of the
/// receive buffer, not a copy.
public enum PeerMessage: Sendable, Hashable {
    /// A zero-length frame that keeps an idle connection open.
    case keepAlive
    /// id 0: the sender will not serve our requests.
    case choke
    /// id 1: the sender will serve our requests.
    case unchoke
    /// id 2: the sender wants pieces we have.
    case interested
    /// id 3: the sender wants nothing from us.
    case notInterested
    /// id 4: the sender now has a piece.
    case have(piece: Int)
    /// id 5: the pieces the sender has; only valid as its first message.
    case bitfield(Bitfield)
    /// id 6: the sender asks for a block.
    case request(BlockRequest)
    /// id 7: a block of data.
    case piece(piece: Int, begin: Int, block: ByteBuffer)
    /// id 8: the sender withdraws a request.
    case cancel(BlockRequest)
    /// id 9: the sender's DHT port (BEP 5); parsed, not acted on.
    case port(UInt16)
    /// id 13 (BEP 6): the sender suggests downloading a piece.
    case suggest(piece: Int)
    /// id 14 (BEP 6): the sender has every piece; replaces the bitfield.
    case haveAll
    /// id 15 (BEP 6): the sender has no piece; replaces the bitfield.
    case haveNone
    /// id 16 (BEP 6): the sender will not serve this request.
    case rejectRequest(BlockRequest)
    /// id 17 (BEP 6): the sender will serve this piece even while choking us.
    case allowedFast(piece: Int)
    /// id 20 (BEP 10): an extension message; `id` 0 is the extended handshake (see ``ExtendedHandshake``),
    /// other ids are the ones the receiver assigned in its handshake's `m` dictionary.
    case extended(id: UInt8, payload: ByteBuffer)

    /// Wire message ids.
    public enum ID: UInt8, Sendable {
        case choke = 0
        case unchoke = 1
        case interested = 2
        case notInterested = 3
        case have = 4
        case bitfield = 5
        case request = 6
        case piece = 7
        case cancel = 8
        case port = 9
        case suggest = 13
        case haveAll = 14
        case haveNone = 15
        case rejectRequest = 16
        case allowedFast = 17
        case extended = 20
    }

    /// The message id, or nil for a keep-alive.
    public var id: ID? {
        switch self {
        case .keepAlive: nil
        case .choke: .choke
        case .unchoke: .unchoke
        case .interested: .interested
        case .notInterested: .notInterested
        case .have: .have
        case .bitfield: .bitfield
        case .request: .request
        case .piece: .piece
        case .cancel: .cancel
        case .port: .port
        case .suggest: .suggest
        case .haveAll: .haveAll
        case .haveNone: .haveNone
        case .rejectRequest: .rejectRequest
        case .allowedFast: .allowedFast
        case .extended: .extended
        }
    }
}

extension PeerMessage {
    /// The encoded length of the message including its 4-byte length prefix.
    public var encodedLength: Int {
        switch self {
        case .keepAlive: 4
        case .choke, .unchoke, .interested, .notInterested, .haveAll, .haveNone: 5
        case .have, .suggest, .allowedFast: 9
        case .bitfield(let bits): 5 + (bits.count + 7) / 8
        case .request, .cancel, .rejectRequest: 17
        case .piece(_, _, let block): 13 + block.readableBytes
        case .port: 7
        case .extended(_, let payload): 6 + payload.readableBytes
        }
    }

    /// Appends the framed message (length prefix, id, payload) to `buffer`.
    ///
    /// - Throws: ``PeerWireError`` with code `unencodable` when an index or offset does not fit in 32 bits.
    public func write(to buffer: inout ByteBuffer) throws(PeerWireError) {
        buffer.reserveCapacity(minimumWritableBytes: encodedLength)
        try writeHeader(to: &buffer)
        if case .piece(_, _, var block) = self {
            buffer.writeBuffer(&block)
        }
    }

    /// Appends everything but a `piece` message's block: the whole message for every other type. Lets an encoder
    /// hand the block to the channel as its own buffer instead of copying it.
    func writeHeader(to buffer: inout ByteBuffer) throws(PeerWireError) {
        let length = UInt32(encodedLength - 4)
        buffer.writeInteger(length)
        guard let id else { return }
        buffer.writeInteger(id.rawValue)
        switch self {
        case .keepAlive, .choke, .unchoke, .interested, .notInterested, .haveAll, .haveNone:
            break
        case .have(let piece), .suggest(let piece), .allowedFast(let piece):
            buffer.writeInteger(try Self.wire(piece, "piece index"))
        case .bitfield(let bits):
            buffer.writeBytes(bits.wireBytes)
        case .request(let block), .cancel(let block), .rejectRequest(let block):
            buffer.writeMultipleIntegers(
                try Self.wire(block.piece, "piece index"),
                try Self.wire(block.begin, "block offset"),
                try Self.wire(block.length, "block length")
            )
        case .piece(let piece, let begin, _):
            buffer.writeMultipleIntegers(try Self.wire(piece, "piece index"), try Self.wire(begin, "block offset"))
        case .port(let port):
            buffer.writeInteger(port)
        case .extended(let extendedID, let payload):
            buffer.writeInteger(extendedID)
            buffer.writeImmutableBuffer(payload)
        }
    }

    private static func wire(_ value: Int, _ what: String) throws(PeerWireError) -> UInt32 {
        guard let wire = UInt32(exactly: value) else {
            throw PeerWireError(.unencodable, "\(what) \(value) does not fit in an unsigned 32-bit field")
        }
        return wire
    }
}

extension PeerMessage {
    /// Parses one frame's body (everything after the 4-byte length prefix) and checks it against `limits`.
    ///
    /// - Parameters:
    ///   - frame: the frame body; an empty frame is a keep-alive. `piece` blocks and extended payloads are slices
    ///     of it.
    ///   - limits: the torrent's facts and the negotiated extensions.
    /// - Throws: ``PeerWireError`` for an unknown id, a wrong payload length, a piece or block outside the torrent,
    ///   a bad bitfield, or an extension message that was not negotiated.
    public static func parse(frame: ByteBuffer, limits: PeerWireLimits) throws(PeerWireError) -> PeerMessage {
        var frame = frame
        guard let rawID = frame.readInteger(as: UInt8.self) else { return .keepAlive }
        guard let id = ID(rawValue: rawID) else {
            throw PeerWireError(
                .unknownMessage,
                "message id \(rawID) with \(frame.readableBytes) payload bytes is not a BitTorrent message this "
                    + "client knows"
            )
        }
        if !limits.pieceFactsKnown {
            switch id {
            case .have, .bitfield, .request, .piece, .cancel, .suggest, .rejectRequest, .allowedFast: return .keepAlive
            default: break
            }
        }
        let payload = frame.readableBytes
        func expect(_ length: Int) throws(PeerWireError) {
            guard payload == length else {
                throw PeerWireError(.invalidLength, "\(id) message has a \(payload)-byte payload, expected \(length)")
            }
        }
        func fast() throws(PeerWireError) {
            guard limits.fastExtension else {
                throw PeerWireError(
                    .fastExtensionNotNegotiated,
                    "\(id) message, but the handshakes did not both set the Fast extension bit"
                )
            }
        }
        func block() throws(PeerWireError) -> BlockRequest {
            try expect(12)
            let (piece, begin, length) = frame.readMultipleIntegers(as: (UInt32, UInt32, UInt32).self)!
            let request = BlockRequest(piece: Int(piece), begin: Int(begin), length: Int(length))
            try limits.validateBlock(piece: request.piece, begin: request.begin, length: request.length)
            return request
        }
        func pieceIndex() throws(PeerWireError) -> Int {
            try expect(4)
            let piece = Int(frame.readInteger(as: UInt32.self)!)
            try limits.validatePiece(piece)
            return piece
        }

        switch id {
        case .choke:
            try expect(0)
            return .choke
        case .unchoke:
            try expect(0)
            return .unchoke
        case .interested:
            try expect(0)
            return .interested
        case .notInterested:
            try expect(0)
            return .notInterested
        case .have:
            return .have(piece: try pieceIndex())
        case .bitfield:
            let bits = frame.readableBytesView
            return .bitfield(try Bitfield(wireBytes: bits, count: limits.pieceCount))
        case .request:
            return .request(try block())
        case .piece:
            guard payload > 8 else {
                throw PeerWireError(.invalidLength, "piece message has a \(payload)-byte payload, expected over 8")
            }
            let (piece, begin) = frame.readMultipleIntegers(as: (UInt32, UInt32).self)!
            let length = frame.readableBytes
            try limits.validateBlock(piece: Int(piece), begin: Int(begin), length: length)
            return .piece(piece: Int(piece), begin: Int(begin), block: frame.readSlice(length: length)!)
        case .cancel:
            return .cancel(try block())
        case .port:
            try expect(2)
            return .port(frame.readInteger(as: UInt16.self)!)
        case .suggest:
            try fast()
            return .suggest(piece: try pieceIndex())
        case .haveAll:
            try fast()
            try expect(0)
            return .haveAll
        case .haveNone:
            try fast()
            try expect(0)
            return .haveNone
        case .rejectRequest:
            try fast()
            return .rejectRequest(try block())
        case .allowedFast:
            try fast()
            return .allowedFast(piece: try pieceIndex())
        case .extended:
            guard limits.extensionProtocol else {
                throw PeerWireError(
                    .extensionProtocolNotNegotiated,
                    "extended message, but the handshakes did not both set the extension protocol bit"
                )
            }
            guard let extendedID = frame.readInteger(as: UInt8.self) else {
                throw PeerWireError(.invalidLength, "extended message without its extended id byte")
            }
            guard frame.readableBytes <= limits.maxExtendedPayloadLength else {
                throw PeerWireError(
                    .frameTooLarge,
                    "extended message \(extendedID) carries \(frame.readableBytes) bytes, over the "
                        + "\(limits.maxExtendedPayloadLength)-byte limit"
                )
            }
            return .extended(id: extendedID, payload: frame.readSlice(length: frame.readableBytes)!)
        }
    }
}

extension PeerMessage: CustomStringConvertible {
    public var description: String {
        switch self {
        case .keepAlive: "keep-alive"
        case .choke: "choke"
        case .unchoke: "unchoke"
        case .interested: "interested"
        case .notInterested: "not interested"
        case .have(let piece): "have \(piece)"
        case .bitfield(let bits): "bitfield \(bits)"
        case .request(let b): "request \(b.piece):\(b.begin)+\(b.length)"
        case .piece(let piece, let begin, let block): "piece \(piece):\(begin)+\(block.readableBytes)"
        case .cancel(let b): "cancel \(b.piece):\(b.begin)+\(b.length)"
        case .port(let port): "port \(port)"
        case .suggest(let piece): "suggest \(piece)"
        case .haveAll: "have all"
        case .haveNone: "have none"
        case .rejectRequest(let b): "reject \(b.piece):\(b.begin)+\(b.length)"
        case .allowedFast(let piece): "allowed fast \(piece)"
        case .extended(let id, let payload): "extended \(id) (\(payload.readableBytes) bytes)"
        }
    }
}
