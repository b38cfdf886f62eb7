import CryptoPrimitives

/// Twenty bytes held inline (no heap allocation): the size of a v1 info-hash (a SHA-1 digest) and of a peer id.
/// PeerWire's handshake, the engine and the tracker all hold them as this one type.
public struct Bytes20: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The number of bytes.
    public static let byteCount = 20

    @usableFromInline var head: UInt64
    @usableFromInline var middle: UInt64
    @usableFromInline var tail: UInt32

    /// Twenty zero bytes.
    public static let zero = Bytes20(head: 0, middle: 0, tail: 0)

    @usableFromInline init(head: UInt64, middle: UInt64, tail: UInt32) {
        self.head = head
        self.middle = middle
        self.tail = tail
    }

    /// Creates the value from exactly 20 bytes; nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        self.init(bytes)
    }

    /// Creates the value from exactly 20 bytes; nil for any other length.
    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == 20 else { return nil }
        var value = Bytes20.zero
        withUnsafeMutableBytes(of: &value) { raw in
            var index = 0
            for byte in bytes {
                raw[index] = byte
                index += 1
            }
        }
        self = value
    }

    /// Parses 40 hex digits (either case); nil for anything else.
    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 2 * Self.byteCount, let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes)
    }

    /// Creates the value from the first 20 bytes of `raw`, which must hold at least 20.
    @inlinable
    public init(unsafeBytes raw: UnsafeRawBufferPointer) {
        var value = Bytes20.zero
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<20])) }
        self = value
    }

    /// The 20 bytes in order.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(20)
        append(to: &out)
        return out
    }

    /// Calls `body` with the 20 bytes in order.
    @inlinable
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try Swift.withUnsafeBytes(of: self) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<20])) }
    }

    /// Appends the 20 bytes to `out`.
    @inlinable
    public func append(to out: inout [UInt8]) {
        Swift.withUnsafeBytes(of: self) { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[0..<20])) }
    }

    /// Lower-case hex of the 20 bytes.
    public var hex: String { withUnsafeBytes { Hex.encode($0) } }

    public var description: String { hex }

    /// Byte-wise (lexicographic) order, the order scrape responses and sorted lists use.
    public static func < (lhs: Bytes20, rhs: Bytes20) -> Bool {
        Swift.withUnsafeBytes(of: lhs) { l in
            Swift.withUnsafeBytes(of: rhs) { r in
                UnsafeRawBufferPointer(rebasing: l[0..<20]).lexicographicallyPrecedes(
                    UnsafeRawBufferPointer(rebasing: r[0..<20]))
            }
        }
    }
}

/// A torrent's v1 info-hash: SHA-1 of the bencoded `info` dictionary, as sent in `info_hash`.
public typealias InfoHash = Bytes20

/// A peer's self-chosen 20-byte id, as sent in `peer_id`.
public typealias PeerID = Bytes20
