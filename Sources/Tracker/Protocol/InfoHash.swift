/// Twenty bytes held inline (no heap allocation): the size of an info-hash and of a peer id.
public struct Bytes20: Sendable, Hashable {
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

    /// Creates the value from the first 20 bytes of `raw`, which must hold at least 20.
    @inlinable
    init(unsafeBytes raw: UnsafeRawBufferPointer) {
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

    /// Appends the 20 bytes to `out`.
    @inlinable
    public func append(to out: inout [UInt8]) {
        withUnsafeBytes(of: self) { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[0..<20])) }
    }

    /// Lower-case hex of the 20 bytes.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(40)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A torrent's v1 info-hash: SHA-1 of the bencoded `info` dictionary, as sent in `info_hash`.
public typealias InfoHash = Bytes20

/// A peer's self-chosen 20-byte id, as sent in `peer_id`.
public typealias PeerID = Bytes20
