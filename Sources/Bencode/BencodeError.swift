/// A bencode decoding failure: what went wrong and at which byte offset of the input.
public struct BencodeError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case emptyInput = "empty input"
        case unexpectedEnd = "unexpected end of input"
        case unexpectedByte = "expected a value (i, l, d or a digit)"
        case invalidInteger = "malformed integer"
        case leadingZero = "leading zero in a number"
        case negativeZero = "negative zero"
        case integerOverflow = "integer does not fit in 64 bits"
        case invalidStringLength = "malformed string length"
        case stringPastEnd = "string runs past the end of the input"
        case nonStringKey = "dictionary key is not a string"
        case unsortedKeys = "dictionary keys are not sorted"
        case duplicateKey = "duplicate dictionary key"
        case trailingBytes = "trailing bytes after the value"
        case depthLimit = "nesting deeper than the limit"
        case elementLimit = "more elements than the limit"
        case sizeLimit = "input larger than the limit"
    }

    public var code: Code
    /// Byte offset in the input where the problem was found.
    public var offset: Int

    public init(_ code: Code, at offset: Int) {
        self.code = code
        self.offset = offset
    }

    public var description: String { "\(code.rawValue) at byte \(offset)" }
}
