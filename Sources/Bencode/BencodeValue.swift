/// A bencoded value (BEP 3). Strings are bytes; dictionary keys are bytes.
///
/// Dictionaries keep their entries in the order they were decoded or built; ``BencodeValue/encoded()``
/// writes them sorted by raw key bytes, which is the canonical form.
public indirect enum BencodeValue: Sendable, Hashable {
    case integer(Int64)
    case bytes([UInt8])
    case list([BencodeValue])
    case dictionary([BencodeEntry])

    /// A byte string from UTF-8 text.
    public static func string(_ text: String) -> BencodeValue { .bytes(Array(text.utf8)) }

    /// A dictionary from `(key, value)` pairs with UTF-8 keys, in any order.
    public static func dict(_ pairs: KeyValuePairs<String, BencodeValue>) -> BencodeValue {
        .dictionary(pairs.map { BencodeEntry(key: Array($0.key.utf8), value: $0.value) })
    }
}

/// One dictionary entry.
public struct BencodeEntry: Sendable, Hashable {
    public var key: [UInt8]
    public var value: BencodeValue

    public init(key: [UInt8], value: BencodeValue) {
        self.key = key
        self.value = value
    }

    public init(_ key: String, _ value: BencodeValue) {
        self.init(key: Array(key.utf8), value: value)
    }
}

extension BencodeValue {
    /// The integer, if this is one.
    public var integer: Int64? {
        if case .integer(let v) = self { return v }
        return nil
    }

    /// The byte string, if this is one.
    public var bytes: [UInt8]? {
        if case .bytes(let v) = self { return v }
        return nil
    }

    /// The byte string decoded as UTF-8, if this is a byte string of valid UTF-8.
    public var utf8String: String? {
        guard case .bytes(let v) = self else { return nil }
        return String(validating: v, as: UTF8.self)
    }

    /// The list, if this is one.
    public var list: [BencodeValue]? {
        if case .list(let v) = self { return v }
        return nil
    }

    /// The entries, if this is a dictionary.
    public var entries: [BencodeEntry]? {
        if case .dictionary(let v) = self { return v }
        return nil
    }

    /// The value of a dictionary key (the first entry with that key), or nil.
    public subscript(key: String) -> BencodeValue? {
        self[bytes: Array(key.utf8)]
    }

    /// The value of a dictionary key given as bytes, or nil.
    public subscript(bytes key: [UInt8]) -> BencodeValue? {
        guard case .dictionary(let entries) = self else { return nil }
        return entries.first(where: { $0.key == key })?.value
    }
}
