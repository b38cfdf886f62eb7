/// Walks `name=value` pairs of a query string and percent-decodes values into bytes.
///
/// Decoding follows the tracker convention rather than HTML forms: `%xx` is any byte, `+` is the literal byte
/// `+` (not a space), and every other byte stands for itself.
struct QueryScanner {
    let query: UnsafeRawBufferPointer
    var position: Int = 0
    var count: Int = 0
    let maxParameters: Int

    init(_ query: UnsafeRawBufferPointer, maxParameters: Int) {
        self.query = query
        self.maxParameters = maxParameters
    }

    /// One parameter: byte ranges of its name and (still encoded) value within the query.
    struct Parameter {
        var name: Range<Int>
        var value: Range<Int>
    }

    /// The next parameter, or nil at the end. Empty segments (`a=1&&b=2`) are skipped.
    mutating func next() throws(TrackerError) -> Parameter? {
        while position < query.count {
            let start = position
            var end = start
            var equals = -1
            while end < query.count {
                let byte = query[end]
                if byte == UInt8(ascii: "&") { break }
                if byte == UInt8(ascii: "=") && equals < 0 { equals = end }
                end += 1
            }
            position = end + 1
            if end == start { continue }
            count += 1
            if count > maxParameters {
                throw TrackerError(.tooManyParameters, "query", "at most \(maxParameters) parameters are accepted")
            }
            if equals < 0 { return Parameter(name: start..<end, value: end..<end) }
            return Parameter(name: start..<equals, value: (equals + 1)..<end)
        }
        return nil
    }

    /// True if the parameter's name is exactly `literal` (names are compared as raw bytes, not decoded).
    func name(_ parameter: Parameter, is literal: StaticString) -> Bool {
        let length = literal.utf8CodeUnitCount
        guard parameter.name.count == length else { return false }
        let base = query.baseAddress! + parameter.name.lowerBound
        return memcmpBytes(base, UnsafeRawPointer(literal.utf8Start), length)
    }

    /// Percent-decodes `range` into `scratch` (which must be at least as long) and returns the decoded length.
    func decode(_ range: Range<Int>, into scratch: UnsafeMutableRawBufferPointer, name: StaticString)
        throws(TrackerError)
        -> Int
    {
        var out = 0
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = query[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < range.upperBound,
                    let high = hexValue(query[index + 1]), let low = hexValue(query[index + 2])
                else {
                    throw TrackerError(
                        .badPercentEncoding, "\(name)", "'%' must be followed by two hex digits (encode bytes as %xx)")
                }
                scratch[out] = high << 4 | low
                index += 3
            } else {
                scratch[out] = byte
                index += 1
            }
            out += 1
        }
        return out
    }
}

func memcmpBytes(_ lhs: UnsafeRawPointer, _ rhs: UnsafeRawPointer, _ count: Int) -> Bool {
    for offset in 0..<count
    where lhs.load(fromByteOffset: offset, as: UInt8.self)
        != rhs.load(fromByteOffset: offset, as: UInt8.self)
    {
        return false
    }
    return true
}

func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): c &- UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): c &- UInt8(ascii: "a") &+ 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): c &- UInt8(ascii: "A") &+ 10
    default: nil
    }
}

/// Parses an unsigned decimal number of at most 20 digits; nil on anything else or overflow.
func parseDecimal(_ bytes: UnsafeRawBufferPointer, count: Int) -> UInt64? {
    guard count > 0, count <= 20 else { return nil }
    var value: UInt64 = 0
    for index in 0..<count {
        let byte = bytes[index]
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        let (times, o1) = value.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
        if o1 || o2 { return nil }
        value = sum
    }
    return value
}

/// Runs `body` over the UTF-8 bytes of `text`, keeping the typed error.
func withUTF8Bytes<R>(_ text: String, _ body: (UnsafeRawBufferPointer) throws(TrackerError) -> R) throws(TrackerError)
    -> R
{
    var copy = text
    let result: Result<R, TrackerError> = copy.withUTF8 { buffer in
        Result { () throws(TrackerError) in try body(UnsafeRawBufferPointer(buffer)) }
    }
    return try result.get()
}
