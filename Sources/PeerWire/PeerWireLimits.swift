/// The facts about one torrent and one connection that bound what a peer may send.
///
/// The decoder checks every frame against these: the frame length before anything is buffered, piece indexes
/// against ``pieceCount``, blocks against the size of their piece, bitfields against the piece count.
public struct PeerWireLimits: Sendable, Hashable {
    /// The standard block size every client requests (BEP 3 practice; libtorrent and Transmission refuse more).
    public static let standardBlockLength = 16 * 1024
    /// The largest block this implementation will accept a request for.
    public static let largestBlockLength = 128 * 1024

    /// The torrent's nominal piece length (every piece but the last).
    public let pieceLength: Int
    /// The torrent's total content length in bytes.
    public let totalLength: Int
    /// The number of pieces: `ceil(totalLength / pieceLength)`.
    public let pieceCount: Int
    /// The longest block a `request`, `cancel`, `reject request` or `piece` may carry.
    /// Between 16 KiB and 128 KiB; 16 KiB by default.
    public var maxBlockLength: Int {
        didSet {
            maxBlockLength = min(max(maxBlockLength, Self.standardBlockLength), Self.largestBlockLength)
        }
    }
    /// The longest payload an extended (BEP 10) message may carry, not counting its id byte. 64 KiB by default.
    public var maxExtendedPayloadLength: Int = 64 * 1024
    /// Whether the Fast extension (BEP 6) was negotiated: both handshakes set its reserved bit. When false, its
    /// messages are refused.
    public var fastExtension: Bool = true
    /// Whether the extension protocol (BEP 10) was negotiated. When false, extended messages are refused.
    public var extensionProtocol: Bool = true
    /// Whether ``pieceLength`` and ``totalLength`` are the torrent's. False while a magnet link's info dictionary is
    /// fetched (BEP 9): the piece facts are not known yet, so messages about pieces (have, bitfield, request,
    /// piece, cancel and the Fast extension's piece messages) are framed (within ``maxFrameLength``) but not
    /// checked, and parse as keep-alives.
    public var pieceFactsKnown: Bool = true

    /// Limits for a torrent.
    ///
    /// - Parameters:
    ///   - pieceLength: the nominal piece length (positive).
    ///   - totalLength: the total content length (positive).
    ///   - maxBlockLength: the longest block accepted; clamped to 16 KiB ... 128 KiB.
    public init(pieceLength: Int, totalLength: Int, maxBlockLength: Int = PeerWireLimits.standardBlockLength) {
        precondition(pieceLength > 0 && totalLength > 0, "piece length and total length must be positive")
        self.pieceLength = pieceLength
        self.totalLength = totalLength
        self.pieceCount = (totalLength + pieceLength - 1) / pieceLength
        self.maxBlockLength = min(max(maxBlockLength, Self.standardBlockLength), Self.largestBlockLength)
    }

    /// The size of piece `index` in bytes (the last piece may be shorter).
    public func pieceSize(_ index: Int) -> Int {
        precondition(index >= 0 && index < pieceCount, "piece \(index) out of range 0..<\(pieceCount)")
        return index == pieceCount - 1 ? totalLength - index * pieceLength : pieceLength
    }

    /// The longest frame (length prefix not counted) a peer may send: the largest of a `piece` message with the
    /// longest block (9 + block), a bitfield (1 + ceil(pieces / 8)) and an extended message (2 + payload).
    public var maxFrameLength: Int {
        max(9 + maxBlockLength, 1 + (pieceCount + 7) / 8, 2 + maxExtendedPayloadLength)
    }

    /// Checks that a block lies inside its piece, is not empty and is no longer than ``maxBlockLength``.
    ///
    /// - Throws: ``PeerWireError`` with code `pieceOutOfRange`, `blockTooLarge` or `blockOutOfRange`.
    public func validateBlock(piece: Int, begin: Int, length: Int) throws(PeerWireError) {
        try validatePiece(piece)
        guard length <= maxBlockLength else {
            throw PeerWireError(
                .blockTooLarge,
                "block of \(length) bytes at piece \(piece) offset \(begin) is over the \(maxBlockLength)-byte limit"
            )
        }
        let size = pieceSize(piece)
        guard length > 0, begin >= 0, begin < size, length <= size - begin else {
            throw PeerWireError(
                .blockOutOfRange,
                "block of \(length) bytes at offset \(begin) does not lie inside piece \(piece) of \(size) bytes"
            )
        }
    }

    /// Checks that a piece index is inside the torrent.
    ///
    /// - Throws: ``PeerWireError`` with code `pieceOutOfRange`.
    public func validatePiece(_ piece: Int) throws(PeerWireError) {
        guard piece >= 0 && piece < pieceCount else {
            throw PeerWireError(.pieceOutOfRange, "piece \(piece) is not in the torrent's 0..<\(pieceCount)")
        }
    }
}
