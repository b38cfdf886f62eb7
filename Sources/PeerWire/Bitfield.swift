/// A compact set of piece indexes `0..<count`: which pieces a peer (or this side) has.
///
/// Stored as 64-bit words so that counting, searching and set algebra touch 64 pieces at a time. The bit order
/// matches the wire (BEP 3): piece 0 is the most significant bit of the first byte, so ``wireBytes`` is the words
/// written big-endian and cut to `ceil(count / 8)` bytes. Bits past `count` are always zero.
///
/// Value type, `Sendable`; it does not depend on NIO, so the engine's picker and the storage use it as well.
public struct Bitfield: Sendable, Hashable {
    /// The number of pieces the set ranges over.
    public let count: Int
    private var words: [UInt64]
    /// How many pieces are in the set, kept up to date on every change.
    public private(set) var setCount: Int

    /// An empty set over `count` pieces.
    public init(count: Int) {
        precondition(count >= 0, "Bitfield count must not be negative")
        self.count = count
        self.words = [UInt64](repeating: 0, count: (count + 63) >> 6)
        self.setCount = 0
    }

    /// A set over `count` pieces holding all of them when `allSet` is true, none otherwise.
    public init(count: Int, allSet: Bool) {
        self.init(count: count)
        if allSet {
            for index in words.indices { words[index] = ~0 }
            clearSpareBits()
            setCount = count
        }
    }

    /// Reads a bitfield as it appears on the wire.
    ///
    /// - Parameters:
    ///   - wireBytes: exactly `ceil(count / 8)` bytes, piece 0 in the top bit of the first byte.
    ///   - count: the torrent's piece count.
    /// - Throws: ``PeerWireError`` with code `invalidBitfield` when the size is wrong or a spare bit (past `count`)
    ///   is set.
    public init<Bytes: Collection>(wireBytes: Bytes, count: Int) throws(PeerWireError) where Bytes.Element == UInt8 {
        let expected = (count + 7) >> 3
        guard wireBytes.count == expected else {
            throw PeerWireError(
                .invalidBitfield,
                "bitfield has \(wireBytes.count) bytes, the torrent's \(count) pieces need exactly \(expected)"
            )
        }
        self.init(count: count)
        var byteIndex = 0
        var total = 0
        var last: UInt8 = 0
        for byte in wireBytes {
            last = byte
            let shift = UInt64(56 - ((byteIndex & 7) << 3))
            words[byteIndex >> 3] |= UInt64(byte) << shift
            total += byte.nonzeroBitCount
            byteIndex += 1
        }
        let spare = count & 7
        if spare != 0, last & (0xFF >> UInt8(spare)) != 0 {
            throw PeerWireError(
                .invalidBitfield,
                "bitfield has spare bits set past piece \(count - 1) (last byte 0x\(String(last, radix: 16)))"
            )
        }
        setCount = total
    }

    /// The bitfield as it appears on the wire: `ceil(count / 8)` bytes, piece 0 in the top bit of the first byte.
    public var wireBytes: [UInt8] {
        let byteCount = (count + 7) >> 3
        var out = [UInt8]()
        out.reserveCapacity(byteCount)
        for index in 0..<byteCount {
            out.append(UInt8(truncatingIfNeeded: words[index >> 3] >> UInt64(56 - ((index & 7) << 3))))
        }
        return out
    }

    /// Whether piece `index` is in the set.
    public subscript(index: Int) -> Bool {
        get {
            precondition(index >= 0 && index < count, "piece \(index) out of range 0..<\(count)")
            return words[index >> 6] & Self.mask(index) != 0
        }
        set {
            if newValue { insert(index) } else { remove(index) }
        }
    }

    /// Adds piece `index`. Returns true when it was not in the set before.
    @discardableResult
    public mutating func insert(_ index: Int) -> Bool {
        precondition(index >= 0 && index < count, "piece \(index) out of range 0..<\(count)")
        let mask = Self.mask(index)
        if words[index >> 6] & mask != 0 { return false }
        words[index >> 6] |= mask
        setCount += 1
        return true
    }

    /// Removes piece `index`. Returns true when it was in the set before.
    @discardableResult
    public mutating func remove(_ index: Int) -> Bool {
        precondition(index >= 0 && index < count, "piece \(index) out of range 0..<\(count)")
        let mask = Self.mask(index)
        if words[index >> 6] & mask == 0 { return false }
        words[index >> 6] &= ~mask
        setCount -= 1
        return true
    }

    /// Whether piece `index` is in the set (same as the subscript).
    public func contains(_ index: Int) -> Bool { self[index] }

    /// True when every piece is in the set.
    public var isComplete: Bool { setCount == count }

    /// True when no piece is in the set.
    public var isEmpty: Bool { setCount == 0 }

    /// The number of pieces not in the set.
    public var missingCount: Int { count - setCount }

    /// The lowest piece index at or after `start` that is in the set, or nil.
    public func firstSet(from start: Int = 0) -> Int? {
        scan(from: start, invert: false)
    }

    /// The lowest piece index at or after `start` that is not in the set, or nil.
    public func firstMissing(from start: Int = 0) -> Int? {
        scan(from: start, invert: true)
    }

    /// The indexes in the set, in increasing order.
    public var setIndices: [Int] {
        var out = [Int]()
        out.reserveCapacity(setCount)
        for (wordIndex, word) in words.enumerated() {
            var bits = word
            while bits != 0 {
                let bit = bits.leadingZeroBitCount
                out.append(wordIndex << 6 + bit)
                bits &= ~(UInt64(1) << UInt64(63 - bit))
            }
        }
        return out
    }

    /// The pieces in either set. Both sets must range over the same count.
    public func union(_ other: Bitfield) -> Bitfield {
        combine(other) { $0 | $1 }
    }

    /// The pieces in both sets. Both sets must range over the same count.
    public func intersection(_ other: Bitfield) -> Bitfield {
        combine(other) { $0 & $1 }
    }

    /// The pieces in this set and not in `other` (for example: what a peer has that we lack is
    /// `peer.subtracting(ours)`). Both sets must range over the same count.
    public func subtracting(_ other: Bitfield) -> Bitfield {
        combine(other) { $0 & ~$1 }
    }

    /// Whether this set and `other` share at least one piece, without building the intersection.
    public func intersects(_ other: Bitfield) -> Bool {
        precondition(count == other.count, "bitfields over \(count) and \(other.count) pieces")
        for index in words.indices where words[index] & other.words[index] != 0 { return true }
        return false
    }

    private func combine(_ other: Bitfield, _ operation: (UInt64, UInt64) -> UInt64) -> Bitfield {
        precondition(count == other.count, "bitfields over \(count) and \(other.count) pieces")
        var result = Bitfield(count: count)
        var total = 0
        for index in words.indices {
            let word = operation(words[index], other.words[index])
            result.words[index] = word
            total += word.nonzeroBitCount
        }
        result.setCount = total
        return result
    }

    private func scan(from start: Int, invert: Bool) -> Int? {
        guard start < count else { return nil }
        var wordIndex = max(start, 0) >> 6
        var word = invert ? ~words[wordIndex] : words[wordIndex]
        word &= ~UInt64(0) >> UInt64(max(start, 0) & 63)
        while true {
            if word != 0 {
                let index = wordIndex << 6 + word.leadingZeroBitCount
                return index < count ? index : nil
            }
            wordIndex += 1
            if wordIndex >= words.count { return nil }
            word = invert ? ~words[wordIndex] : words[wordIndex]
        }
    }

    private mutating func clearSpareBits() {
        let spare = count & 63
        if spare != 0 { words[words.count - 1] &= ~(~UInt64(0) >> UInt64(spare)) }
    }

    private static func mask(_ index: Int) -> UInt64 {
        UInt64(1) << UInt64(63 - (index & 63))
    }
}

extension Bitfield: CustomStringConvertible {
    /// `have 3/10` followed by the bits for short sets.
    public var description: String {
        var text = "have \(setCount)/\(count)"
        if count <= 64 {
            text += " " + String((0..<count).map { self[$0] ? "1" : "0" })
        }
        return text
    }
}
