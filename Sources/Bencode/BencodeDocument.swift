/// Where a decoded value sat in the input: its byte range and, for lists and dictionaries, its children's spans
/// (for a dictionary, the spans of the entries' values, in entry order).
public struct BencodeSpan: Sendable, Hashable {
    public var range: Range<Int>
    public var children: [BencodeSpan]

    public init(range: Range<Int>, children: [BencodeSpan] = []) {
        self.range = range
        self.children = children
    }
}

/// A decoded value together with the input it came from and the byte range of every value in it.
///
/// Use it where the raw bytes matter: a torrent's info-hash is the SHA-1 of the info dictionary exactly as it
/// appeared in the file, whether or not that was canonical.
public struct BencodeDocument: Sendable {
    /// The whole input.
    public let bytes: [UInt8]
    public let value: BencodeValue
    public let span: BencodeSpan

    /// The raw bytes of the value reached by following dictionary keys from the root, or nil if the path does not
    /// exist.
    public func rawBytes(atPath path: [String]) -> ArraySlice<UInt8>? {
        guard let range = range(atPath: path) else { return nil }
        return bytes[range]
    }

    /// The byte range of the value reached by following dictionary keys from the root.
    public func range(atPath path: [String]) -> Range<Int>? {
        var value = self.value
        var span = self.span
        for key in path {
            let keyBytes = Array(key.utf8)
            guard case .dictionary(let entries) = value,
                let index = entries.firstIndex(where: { $0.key == keyBytes })
            else { return nil }
            value = entries[index].value
            span = span.children[index]
        }
        return span.range
    }
}
