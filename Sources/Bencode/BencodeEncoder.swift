extension BencodeValue {
    /// The canonical encoding: dictionary keys sorted by raw bytes, no leading zeros.
    ///
    /// For input that was canonical, `decode(x).encoded() == x` byte for byte.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// Appends the canonical encoding to `out`.
    public func encode(into out: inout [UInt8]) {
        switch self {
        case .integer(let v):
            out.append(UInt8(ascii: "i"))
            out.append(contentsOf: String(v).utf8)
            out.append(UInt8(ascii: "e"))
        case .bytes(let b):
            out.append(contentsOf: String(b.count).utf8)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: b)
        case .list(let values):
            out.append(UInt8(ascii: "l"))
            for value in values { value.encode(into: &out) }
            out.append(UInt8(ascii: "e"))
        case .dictionary(let entries):
            out.append(UInt8(ascii: "d"))
            let sorted =
                entries.isSortedByKey ? entries : entries.sorted { $0.key.lexicographicallyPrecedes($1.key) }
            for entry in sorted {
                out.append(contentsOf: String(entry.key.count).utf8)
                out.append(UInt8(ascii: ":"))
                out.append(contentsOf: entry.key)
                entry.value.encode(into: &out)
            }
            out.append(UInt8(ascii: "e"))
        }
    }
}

extension Array where Element == BencodeEntry {
    fileprivate var isSortedByKey: Bool {
        var index = 1
        while index < count {
            if !self[index - 1].key.lexicographicallyPrecedes(self[index].key) { return false }
            index += 1
        }
        return true
    }
}
