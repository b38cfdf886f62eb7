import Bencode
import NIOCore

/// A BEP 9 `ut_metadata` message: the payload of an extended message on the id the receiver chose for
/// `ut_metadata` in its extended handshake. A bencoded dictionary (`msg_type`, `piece`, and for data `total_size`),
/// followed for data by the piece's bytes.
///
/// The info dictionary travels in 16 KiB pieces (``pieceLength``); every piece but the last is full.
public enum MetadataMessage: Sendable, Hashable {
    /// `msg_type` 0: asks for one piece.
    case request(piece: Int)
    /// `msg_type` 1: one piece, and the size of the whole info dictionary.
    case data(piece: Int, totalSize: Int, bytes: [UInt8])
    /// `msg_type` 2: the sender will not send that piece.
    case reject(piece: Int)

    /// The extension name in the extended handshake's `m` dictionary.
    public static let extensionName = "ut_metadata"
    /// The size of every metadata piece but the last (BEP 9).
    public static let pieceLength = 16 * 1024
    /// The largest info dictionary this implementation fetches or serves: 8 MiB (about 400 000 pieces of
    /// a v1 torrent). A peer that advertises a larger `metadata_size` is not asked.
    public static let maximumMetadataSize = 8 << 20

    /// How many pieces an info dictionary of `size` bytes travels in.
    public static func pieceCount(size: Int) -> Int { (size + pieceLength - 1) / pieceLength }

    /// The length of piece `piece` of an info dictionary of `size` bytes.
    public static func pieceSize(_ piece: Int, size: Int) -> Int {
        min(pieceLength, size - piece * pieceLength)
    }

    /// The payload (dictionary, then the piece's bytes for data).
    public func encoded() -> [UInt8] {
        switch self {
        case .request(let piece):
            return BencodeValue.dict(["msg_type": .integer(0), "piece": .integer(Int64(piece))]).encoded()
        case .data(let piece, let totalSize, let bytes):
            return BencodeValue.dict([
                "msg_type": .integer(1), "piece": .integer(Int64(piece)), "total_size": .integer(Int64(totalSize)),
            ]).encoded() + bytes
        case .reject(let piece):
            return BencodeValue.dict(["msg_type": .integer(2), "piece": .integer(Int64(piece))]).encoded()
        }
    }

    /// The message as a ready-to-send extended message on the receiver's `ut_metadata` id.
    public func message(id: UInt8, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> PeerMessage {
        .extended(id: id, payload: allocator.buffer(bytes: encoded()))
    }

    /// Parses a `ut_metadata` payload.
    ///
    /// A data message's `total_size` must be in 1...``maximumMetadataSize``, its `piece` inside that size and its
    /// bytes exactly that piece's length; request and reject carry no bytes after the dictionary.
    ///
    /// - Throws: ``PeerWireError`` with code `invalidMetadataMessage` naming what is wrong.
    public init(payload: ByteBuffer) throws(PeerWireError) {
        var options = BencodeDecoder.Options.lenient
        options.maxInputSize = max(payload.readableBytes, 1)
        options.maxDepth = 2
        options.allowTrailingBytes = true
        let bytes = Array(payload.readableBytesView)
        let document: BencodeDocument
        do {
            document = try BencodeDecoder(options: options).decodeDocument(bytes)
        } catch {
            throw PeerWireError(.invalidMetadataMessage, "ut_metadata message is not valid bencode: \(error)")
        }
        guard document.value.entries != nil, let type = document.value["msg_type"]?.integer,
            let piece = document.value["piece"]?.integer, piece >= 0,
            piece < Int64(Self.pieceCount(size: Self.maximumMetadataSize))
        else {
            throw PeerWireError(
                .invalidMetadataMessage, "ut_metadata message without an integer msg_type and a piece in range")
        }
        let index = Int(piece)
        let rest = bytes[document.span.range.upperBound...]
        switch type {
        case 0, 2:
            guard rest.isEmpty else {
                throw PeerWireError(.invalidMetadataMessage, "ut_metadata request or reject followed by bytes")
            }
            self = type == 0 ? .request(piece: index) : .reject(piece: index)
        case 1:
            guard let total = document.value["total_size"]?.integer, total > 0,
                total <= Int64(Self.maximumMetadataSize)
            else {
                throw PeerWireError(
                    .invalidMetadataMessage,
                    "ut_metadata data without a total_size in 1...\(Self.maximumMetadataSize)")
            }
            let size = Int(total)
            guard index < Self.pieceCount(size: size), rest.count == Self.pieceSize(index, size: size) else {
                throw PeerWireError(
                    .invalidMetadataMessage,
                    "ut_metadata data for piece \(index) of a \(size)-byte info dictionary carries \(rest.count) bytes")
            }
            self = .data(piece: index, totalSize: size, bytes: Array(rest))
        default:
            throw PeerWireError(.invalidMetadataMessage, "ut_metadata msg_type \(type) is not 0, 1 or 2")
        }
    }
}
