/// A fixed-size set of piece indices, one bit each.
public struct PieceSet: Sendable, Hashable {
    public let count: Int
    private var words: [UInt64]
    /// How many indices are in the set.
    public private(set) var cardinality = 0

    /// An empty set of `count` pieces, or a full one.
    public init(count: Int, full: Bool = false) {
        self.count = count
        self.words = [UInt64](repeating: 0, count: (count + 63) / 64)
        if full {
            for i in 0..<count { insert(i) }
        }
    }

    public subscript(index: Int) -> Bool {
        words[index >> 6] & (1 << UInt64(index & 63)) != 0
    }

    /// Adds `index`; returns whether it was new.
    @discardableResult
    public mutating func insert(_ index: Int) -> Bool {
        let mask: UInt64 = 1 << UInt64(index & 63)
        if words[index >> 6] & mask != 0 { return false }
        words[index >> 6] |= mask
        cardinality += 1
        return true
    }

    /// Removes `index`; returns whether it was there.
    @discardableResult
    public mutating func remove(_ index: Int) -> Bool {
        let mask: UInt64 = 1 << UInt64(index & 63)
        if words[index >> 6] & mask == 0 { return false }
        words[index >> 6] &= ~mask
        cardinality -= 1
        return true
    }

    public var isFull: Bool { cardinality == count }
    public var isEmpty: Bool { cardinality == 0 }

    /// The indices in the set, ascending.
    public var indices: [Int] { (0..<count).filter { self[$0] } }
}
