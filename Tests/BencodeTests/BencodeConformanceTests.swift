import Bencode
import Foundation
import TestSupport
import Testing

/// Decodes every input of `../shared/conformance/bencode/cases.tsv` with the strict decoder, as one whole document,
/// and compares the outcome (and the canonical re-encoding, where the row gives one) with the source's expectation.
/// Rows where we differ on purpose are listed in ``disagreements`` (and in `Docs/conformance.md`); any other
/// difference fails.
struct BencodeConformanceTests {
    /// A row we disagree with on purpose: its source, the first 96 hex digits of its input, and why.
    typealias Listed = ListedDisagreement

    static let listed: [Listed] = [
        Listed(
            "arvidn/libtorrent:test/test_bdecode.cpp#dict",
            "64313a6169313234353365313a62333a616161313a63333a626262313a5831303a3031323334353637383965",
            "STRICT: unsorted keys are refused by default (the torrent parser opts in to them)"),
        Listed(
            "arvidn/libtorrent:test/test_bdecode.cpp#dict_unordered_keys",
            "64323a6162693165323a616169326565",
            "STRICT: unsorted keys are refused by default (the torrent parser opts in to them)"),
        Listed(
            "arvidn/libtorrent:test/test_bdecode.cpp#dict_unordered_keys",
            "64323a6261693165323a616169326565",
            "STRICT: unsorted keys are refused by default (the torrent parser opts in to them)"),
        Listed(
            "arvidn/libtorrent:test/test_bdecode.cpp#dict_unordered_keys",
            "64323a6161693165313a6169326565",
            "STRICT: unsorted keys are refused by default (the torrent parser opts in to them)"),
        Listed(
            "arvidn/libtorrent:test/test_bdecode.cpp#dict_duplicate_key",
            "64323a6161693165323a616169326565",
            "STRICT: duplicate keys are refused"),
        Listed(
            "arvidn/libtorrent:test/test_bdecode.cpp#leading_zero_length_prefix",
            "30363a666f6f626172",
            "STRICT: leading zeros are refused"),
        Listed(
            "arvidn/libtorrent:test/test_bdecode.cpp#int_overflow",
            "69313834343637343430373337303935353136313565",
            "RANGE: integers are 64-bit"),
        Listed(
            "arvidn/libtorrent:test/test_bdecode.cpp#int_leading_zero",
            "69303165",
            "STRICT: leading zeros are refused"),
        Listed(
            "arvidn/libtorrent:test/test_bdecode.cpp#item_limit",
            "6c303a303a303a303a303a303a303a303a303a303a303a303a303a303a303a303a303a303a303a303a303a303a303a30",
            "LIMIT: our element limit is 4,000,000, not 1,000"),
        Listed(
            "arvidn/libtorrent:test/test_bdecode.cpp#dict_at",
            "64333a666f6f693165333a62617269326565",
            "STRICT: unsorted keys are refused by default (the torrent parser opts in to them)"),
        Listed(
            "breezy-team/fastbencode:tests/test_bencode.py#TestBencodeDecode.test_int",
            "693131313131313131313131313131313131313131313131313131313131313131313131313131313131313131313131",
            "RANGE: integers are 64-bit"),
        Listed(
            "breezy-team/fastbencode:tests/test_bencode.py#TestBencodeDecode.test_long",
            "69313233343536373839303132333435363738393065",
            "RANGE: integers are 64-bit"),
        Listed(
            "breezy-team/fastbencode:tests/test_bencode.py#TestBencodeDecode.test_long",
            "692d313233343536373839303132333435363738393065",
            "RANGE: integers are 64-bit"),
        Listed(
            "breezy-team/fastbencode:tests/test_bencode.py#TestBencodeDecode.test_list_deepnested",
            "@large/nested_lists_100000.bin",
            "LIMIT: nesting depth is capped at 100"),
        Listed(
            "breezy-team/fastbencode:tests/test_bencode.py#TestBencodeDecode.test_dict_deepnested",
            "@large/fastbencode_deep_dict_100000.bin",
            "LIMIT: nesting depth is capped at 100"),
        Listed(
            "breezy-team/fastbencode:tests/test_bencode.py#TestBdecodeUtf8.test_invalid_utf8",
            "333afffefd",
            "BYTES: strings are bytes; UTF-8 is not required"),
        Listed(
            "webtorrent/node-bencode:test/decode.buffer.test.js#decode a float (as int)",
            "6931322e3365",
            "STRICT: an integer is digits only"),
        Listed(
            "webtorrent/node-bencode:test/decode.buffer.test.js#decode a float (as int)",
            "692d31322e3365",
            "STRICT: an integer is digits only"),
        Listed(
            "webtorrent/node-bencode:test/null-values.test.js#decoding an empty value",
            "",
            "STRICT: empty input is an error"),
        Listed(
            "webtorrent/node-bencode:test/encode.test.js#encode large numbers with full digits",
            "6933343032383233363639323039333834363334363333373436303734333137363832313134353665",
            "RANGE: integers are 64-bit"),
        Listed(
            "anacrolix/torrent:bencode/decode_test.go#TestRandomDecode",
            "693630343931393731393436393338353635323938303534343139333239393332393432373730353632343335323038",
            "RANGE: integers are 64-bit"),
        Listed(
            "anacrolix/torrent:bencode/decode_test.go#TestDecoderConsecutive",
            "693165693265",
            "STRICT: one whole document, no trailing bytes"),
        Listed(
            "anacrolix/torrent:bencode/decode_test.go#TestDecoderConsecutiveDicts",
            "64343a68657270343a646572706564333a776174313a6b6531373a6f682062616279206120747269706c6521",
            "STRICT: one whole document, no trailing bytes"),
        Listed(
            "anacrolix/torrent:bencode/decode_test.go#TestDecodeCustomSlice",
            "333a0110ff323a040f",
            "STRICT: one whole document, no trailing bytes"),
        Listed(
            "anacrolix/torrent:bencode/encode_test.go#TestRandomEncode",
            "69363232303830303232303030303030303030303065",
            "RANGE: integers are 64-bit"),
        Listed(
            "transmission/transmission:tests/libtransmission/variant-test.cc#str",
            "333a626f6174",
            "STRICT: one whole document, no trailing bytes"),
        Listed(
            "transmission/transmission:tests/libtransmission/variant-test.cc#bencSortWhenSerializing",
            "6c6c64313a6269333265313a6169363465656565",
            "STRICT: unsorted keys are refused by default (the torrent parser opts in to them)"),
        Listed(
            "transmission/transmission:tests/libtransmission/variant-test.cc#bencMalformedTooManyEndings",
            "6c656565",
            "STRICT: one whole document, no trailing bytes"),
        Listed(
            "transmission/transmission:tests/libtransmission/variant-test.cc#bencToJson",
            "64353a68656c6c6f693165353a776f726c64693265333a666f6f6c6931656932656933656565",
            "STRICT: unsorted keys are refused by default (the torrent parser opts in to them)"),
        Listed(
            "transmission/transmission:tests/libtransmission/variant-test.cc#bencToJson",
            "64353a68656c6c6f693165353a776f726c64693265333a666f6f6c69316569326569336564313a61693065656565",
            "STRICT: unsorted keys are refused by default (the torrent parser opts in to them)"),
        Listed(
            "transmission/transmission:tests/libtransmission/variant-test.cc#serdeEnd",
            "64353a62656e63316931656564353a62656e633269326565",
            "STRICT: one whole document, no trailing bytes"),
    ]

    /// Key: `source` + space + the first 96 hex digits of the input (unique; the test checks).
    static let disagreements: [String: String] = Dictionary(
        uniqueKeysWithValues: listed.map { ($0.tableKey, $0.reason) })

    static func key(_ row: [String: String]) -> String {
        "\(row["source"] ?? "") \((row["hex_input"] ?? "").prefix(96))"
    }

    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"))
    func everyBencodeRowAgreesOrIsAListedDisagreement() throws {
        let directory = try Conformance.requireDirectory()
        let rows = try Conformance.table(directory.appendingPathComponent("bencode/cases.tsv"))
        #expect(rows.count > 200)
        var keys: Set<String> = []
        var found: [String] = []
        for row in rows {
            let key = Self.key(row)
            #expect(keys.insert(key).inserted, "two rows share the key \(key)")
            let input = try Self.input(row, directory: directory)
            var problem: String?
            switch (row["expect"], Result { () throws(BencodeError) in try BencodeDecoder().decode(input) }) {
            case ("ok", .failure(let error)):
                problem = "refused: \(error)"
            case ("ok", .success(let value)):
                let canonical = row["canonical_reencode_hex"] ?? ""
                if !canonical.isEmpty && Self.hex(value.encoded()) != canonical {
                    problem = "re-encodes to \(Self.hex(value.encoded())), source says \(canonical)"
                }
            case ("error", .success):
                problem = "decoded, but the source rejects it"
            default:
                break  // agreed error, or an `unknown` row (which only must not crash)
            }
            if let reason = Self.disagreements[key] {
                #expect(problem != nil, "\(key) is listed as a disagreement (\(reason)) but now agrees")
            } else if let problem {
                found.append("\"\(key)\": \"\(problem)\"")
            }
        }
        #expect(found.isEmpty, "unlisted disagreements:\n\(found.joined(separator: "\n"))")
        for key in Self.disagreements.keys {
            #expect(keys.contains(key), "\(key) is listed but is not a row of cases.tsv")
        }
        let undocumented = try Conformance.undocumented(Self.listed)
        #expect(undocumented.isEmpty, "Docs/conformance.md does not name \(undocumented)")
    }

    static func input(_ row: [String: String], directory: URL) throws -> [UInt8] {
        let field = row["hex_input"] ?? ""
        if field.hasPrefix("@") {
            return Array(try Data(contentsOf: directory.appendingPathComponent("bencode/\(field.dropFirst())")))
        }
        var bytes: [UInt8] = []
        var index = field.startIndex
        while index < field.endIndex {
            let next = field.index(index, offsetBy: 2)
            bytes.append(try #require(UInt8(field[index..<next], radix: 16)))
            index = next
        }
        return bytes
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0 >> 4, radix: 16) + String($0 & 0xf, radix: 16) }.joined()
    }
}
