import CryptoPrimitives
import Testing

struct Base64Tests {
    // RFC 4648 §10 test vectors.
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ])
    func matchesRFC4648(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
        #expect(Base64.decode(lenient: " \(encoded)\r\n") == Array(plain.utf8))
    }

    @Test func strictDecodingAcceptsOnlyTheCanonicalForm() {
        #expect(Base64.decode("Zh==") == nil, "non-zero bits left over by the padding")
        #expect(Base64.decode("Zm9=") == nil, "non-zero bits left over by the padding")
        #expect(Base64.decode(" Zg==") == nil, "whitespace")
        #expect(Base64.decode("Zg") == nil, "missing padding")
        #expect(Base64.decode("Zg=a") == nil, "padding in the middle")
        #expect(Base64.decode("Z!==") == nil, "not in the alphabet")
    }

    @Test func lenientDecodingToleratesWhatOtherToolsWrite() {
        #expect(Base64.decode(lenient: "Zh==") == Array("f".utf8))
        #expect(Base64.decode(lenient: "\tZm9v\n") == Array("foo".utf8))
        #expect(Base64.decode(lenient: "Zg") == nil, "padding is still required")
        #expect(Base64.decode(lenient: "Zm 9v") == nil, "inner whitespace is not skipped")
    }

    @Test func unpaddedEncodingDropsTheEqualsSigns() {
        #expect(Base64.encode(Array("f".utf8), padding: false) == "Zg")
        #expect(Base64.encode([UInt8](repeating: 0xff, count: 32)).count == 44)
    }
}
