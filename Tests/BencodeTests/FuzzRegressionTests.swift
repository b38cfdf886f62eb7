import Bencode
import Testing

/// Inputs found by `scripts/fuzz.sh` (FuzzBencode), kept as regression cases. Each runs the fuzz target's checks:
/// strictly decoded input re-encodes byte for byte, and a leniently decoded value's canonical encoding is a
/// canonical fixed point.
struct FuzzRegressionTests {
    @Test(arguments: [
        // Unsorted keys: the lenient value keeps input order, so comparing values (not encodings) was wrong in
        // the first harness; the canonical form must still be a fixed point.
        Array("d1:b0:1:a0:e".utf8),
    ])
    func bencodeFuzzFinding(input: [UInt8]) throws {
        if let value = try? BencodeDecoder().decode(input) {
            #expect(value.encoded() == input)
        }
        var lenient = BencodeDecoder.Options.lenient
        lenient.allowTrailingBytes = true
        let document = try BencodeDecoder(options: lenient).decodeDocument(input)
        #expect(document.span.range.lowerBound == 0 && document.span.range.upperBound <= input.count)
        let canonical = document.value.encoded()
        #expect(try BencodeDecoder().decode(canonical).encoded() == canonical)
    }
}
