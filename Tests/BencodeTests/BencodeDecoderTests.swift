import Bencode
import Testing

struct BencodeDecoderTests {
    @Test(arguments: [
        ("i0e", BencodeValue.integer(0)),
        ("i-42e", .integer(-42)),
        ("i9223372036854775807e", .integer(.max)),
        ("i-9223372036854775808e", .integer(.min)),
        ("0:", .bytes([])),
        ("4:spam", .string("spam")),
        ("le", .list([])),
        ("l4:spami7ee", .list([.string("spam"), .integer(7)])),
        ("de", .dictionary([])),
        ("d3:cow3:moo4:spam4:eggse", .dict(["cow": .string("moo"), "spam": .string("eggs")])),
    ])
    func decodesCanonicalInput(input: String, expected: BencodeValue) throws {
        let value = try BencodeDecoder().decode(Array(input.utf8))
        #expect(value == expected)
        #expect(value.encoded() == Array(input.utf8))
    }

    @Test(arguments: [
        ("", BencodeError.Code.emptyInput),
        ("i", .unexpectedEnd),
        ("ie", .invalidInteger),
        ("i-e", .invalidInteger),
        ("i-0e", .negativeZero),
        ("i03e", .leadingZero),
        ("i1x2e", .invalidInteger),
        ("i9223372036854775808e", .integerOverflow),
        ("i-9223372036854775809e", .integerOverflow),
        ("03:abc", .leadingZero),
        ("5:abc", .stringPastEnd),
        ("99999999999999999999:a", .stringPastEnd),
        ("-1:a", .unexpectedByte),
        ("l", .unexpectedEnd),
        ("di1e1:ae", .nonStringKey),
        ("d1:b0:1:a0:e", .unsortedKeys),
        ("d1:a0:1:a0:e", .duplicateKey),
        ("i1ei2e", .trailingBytes),
        ("x", .unexpectedByte),
    ])
    func rejectsMalformedInput(input: String, code: BencodeError.Code) {
        #expect(throws: BencodeError.self) { try BencodeDecoder().decode(Array(input.utf8)) }
        do {
            _ = try BencodeDecoder().decode(Array(input.utf8))
        } catch {
            #expect(error.code == code, "\(input): \(error)")
        }
    }

    @Test func lenientAcceptsUnsortedKeysButNotDuplicates() throws {
        let unsorted = Array("d1:bi1e1:ai2ee".utf8)
        let value = try BencodeDecoder(options: .lenient).decode(unsorted)
        #expect(value["a"] == .integer(2))
        #expect(value.encoded() == Array("d1:ai2e1:bi1ee".utf8))
        #expect(throws: BencodeError.self) {
            try BencodeDecoder(options: .lenient).decode(Array("d1:bi1e1:ai2e1:bi3ee".utf8))
        }
    }

    @Test func depthAndElementLimitsHold() {
        var options = BencodeDecoder.Options()
        options.maxDepth = 10
        let deep = Array(String(repeating: "l", count: 11).utf8) + Array(String(repeating: "e", count: 11).utf8)
        #expect(throws: BencodeError(.depthLimit, at: 10)) { try BencodeDecoder(options: options).decode(deep) }
        options.maxElements = 3
        #expect(throws: BencodeError.self) {
            try BencodeDecoder(options: options).decode(Array("li1ei2ei3ee".utf8))
        }
    }

    @Test func documentKeepsRawRangeOfNonCanonicalValue() throws {
        // The info dictionary has unsorted keys: its raw bytes differ from its canonical encoding.
        let input = Array("d4:infod1:bi1e1:ai2ee4:name1:xe".utf8)
        let document = try BencodeDecoder(options: .lenient).decodeDocument(input)
        let raw = try #require(document.rawBytes(atPath: ["info"]))
        #expect(Array(raw) == Array("d1:bi1e1:ai2ee".utf8))
        #expect(document.value["info"]?.encoded() == Array("d1:ai2e1:bi1ee".utf8))
        #expect(document.rawBytes(atPath: ["missing"]) == nil)
    }
}
