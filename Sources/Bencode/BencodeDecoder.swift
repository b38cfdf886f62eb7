/// A strict, bounded bencode decoder.
///
/// By default it accepts only canonical bencode: no leading zeros, no `-0`, dictionary keys unique and sorted
/// as raw bytes, nothing after the value. Nesting depth, element count and input size are capped, and a declared
/// string length is checked against the remaining input before anything is allocated.
///
/// Leniency is opt-in (``Options/allowUnsortedKeys``, ``Options/allowTrailingBytes``) for inputs that real
/// clients accept; see `Docs/bencode.md`.
public struct BencodeDecoder: Sendable {
    public struct Options: Sendable, Hashable {
        /// Maximum nesting of lists and dictionaries. libtorrent's default is 100.
        public var maxDepth: Int = 100
        /// Maximum number of values (every integer, string, list and dictionary counts one).
        public var maxElements: Int = 4_000_000
        /// Maximum input size in bytes.
        public var maxInputSize: Int = 128 << 20
        /// Accept dictionaries whose keys are unsorted (still rejects duplicates). libtorrent and Transmission do.
        public var allowUnsortedKeys: Bool = false
        /// Stop after the first value and ignore the rest, as Transmission does.
        public var allowTrailingBytes: Bool = false

        public init() {}

        /// Strict canonical bencode with the default limits.
        public static let strict = Options()

        /// What real .torrent files need: unsorted keys are accepted (the info-hash is still taken over the raw
        /// bytes, so nothing is lost by it).
        public static var lenient: Options {
            var options = Options()
            options.allowUnsortedKeys = true
            return options
        }
    }

    public var options: Options

    public init(options: Options = .strict) {
        self.options = options
    }

    /// Decodes one value.
    public func decode<Bytes: Collection>(_ input: Bytes) throws(BencodeError) -> BencodeValue
    where Bytes.Element == UInt8 {
        try decodeDocument(input).value
    }

    /// Decodes one value and keeps the byte range every value occupied in the input.
    public func decodeDocument<Bytes: Collection>(_ input: Bytes) throws(BencodeError) -> BencodeDocument
    where Bytes.Element == UInt8 {
        let bytes = Array(input)
        guard !bytes.isEmpty else { throw BencodeError(.emptyInput, at: 0) }
        guard bytes.count <= options.maxInputSize else { throw BencodeError(.sizeLimit, at: options.maxInputSize) }
        var parser = Parser(bytes: bytes, options: options)
        let (value, span) = try parser.parseValue(depth: 0)
        if parser.position != bytes.count && !options.allowTrailingBytes {
            throw BencodeError(.trailingBytes, at: parser.position)
        }
        return BencodeDocument(bytes: bytes, value: value, span: span)
    }
}

extension BencodeDecoder {
    fileprivate struct Parser {
        let bytes: [UInt8]
        let options: BencodeDecoder.Options
        var position = 0
        var elements = 0

        init(bytes: [UInt8], options: BencodeDecoder.Options) {
            self.bytes = bytes
            self.options = options
        }

        mutating func countElement() throws(BencodeError) {
            elements += 1
            if elements > options.maxElements { throw BencodeError(.elementLimit, at: position) }
        }

        func peek() throws(BencodeError) -> UInt8 {
            guard position < bytes.count else { throw BencodeError(.unexpectedEnd, at: position) }
            return bytes[position]
        }

        mutating func parseValue(depth: Int) throws(BencodeError) -> (BencodeValue, BencodeSpan) {
            let start = position
            let byte = try peek()
            try countElement()
            switch byte {
            case UInt8(ascii: "i"):
                position += 1
                let value = try parseInteger(terminator: UInt8(ascii: "e"))
                return (.integer(value), BencodeSpan(range: start..<position))
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                let string = try parseString()
                return (.bytes(string), BencodeSpan(range: start..<position))
            case UInt8(ascii: "l"):
                guard depth < options.maxDepth else { throw BencodeError(.depthLimit, at: position) }
                position += 1
                var values: [BencodeValue] = []
                var spans: [BencodeSpan] = []
                while try peek() != UInt8(ascii: "e") {
                    let (value, span) = try parseValue(depth: depth + 1)
                    values.append(value)
                    spans.append(span)
                }
                position += 1
                return (.list(values), BencodeSpan(range: start..<position, children: spans))
            case UInt8(ascii: "d"):
                guard depth < options.maxDepth else { throw BencodeError(.depthLimit, at: position) }
                position += 1
                var entries: [BencodeEntry] = []
                var spans: [BencodeSpan] = []
                var seen: Set<[UInt8]> = []
                while try peek() != UInt8(ascii: "e") {
                    let keyOffset = position
                    let first = try peek()
                    guard first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9") else {
                        throw BencodeError(.nonStringKey, at: keyOffset)
                    }
                    try countElement()
                    let key = try parseString()
                    if let previous = entries.last?.key {
                        if key == previous { throw BencodeError(.duplicateKey, at: keyOffset) }
                        if key.lexicographicallyPrecedes(previous) && !options.allowUnsortedKeys {
                            throw BencodeError(.unsortedKeys, at: keyOffset)
                        }
                    }
                    // Sorted keys cannot repeat; only lenient decoding needs to remember them all.
                    if options.allowUnsortedKeys && !seen.insert(key).inserted {
                        throw BencodeError(.duplicateKey, at: keyOffset)
                    }
                    let (value, span) = try parseValue(depth: depth + 1)
                    entries.append(BencodeEntry(key: key, value: value))
                    spans.append(span)
                }
                position += 1
                return (.dictionary(entries), BencodeSpan(range: start..<position, children: spans))
            default:
                throw BencodeError(.unexpectedByte, at: position)
            }
        }

        /// Parses `[-]digits<terminator>` starting at `position`; leaves `position` after the terminator.
        mutating func parseInteger(terminator: UInt8) throws(BencodeError) -> Int64 {
            let start = position
            var negative = false
            if try peek() == UInt8(ascii: "-") {
                negative = true
                position += 1
            }
            let digitsStart = position
            var magnitude: UInt64 = 0
            while true {
                let c = try peek()
                if c == terminator { break }
                guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else {
                    throw BencodeError(.invalidInteger, at: position)
                }
                let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (m2, o2) = m1.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
                if o1 || o2 || m2 > UInt64(Int64.max) + (negative ? 1 : 0) {
                    throw BencodeError(.integerOverflow, at: start)
                }
                magnitude = m2
                position += 1
            }
            let digitCount = position - digitsStart
            guard digitCount > 0 else { throw BencodeError(.invalidInteger, at: start) }
            if digitCount > 1 && bytes[digitsStart] == UInt8(ascii: "0") {
                throw BencodeError(.leadingZero, at: digitsStart)
            }
            if negative && magnitude == 0 { throw BencodeError(.negativeZero, at: start) }
            position += 1  // terminator
            if negative {
                return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
            }
            return Int64(magnitude)
        }

        mutating func parseString() throws(BencodeError) -> [UInt8] {
            let start = position
            let length: Int64
            do {
                length = try parseInteger(terminator: UInt8(ascii: ":"))
            } catch {
                switch error.code {
                case .leadingZero, .unexpectedEnd: throw error
                case .integerOverflow: throw BencodeError(.stringPastEnd, at: start)
                default: throw BencodeError(.invalidStringLength, at: start)
                }
            }
            guard length >= 0 else { throw BencodeError(.invalidStringLength, at: start) }
            // Checked against what is left before anything is allocated.
            guard length <= Int64(bytes.count - position) else { throw BencodeError(.stringPastEnd, at: start) }
            let end = position + Int(length)
            let string = Array(bytes[position..<end])
            position = end
            return string
        }
    }
}
