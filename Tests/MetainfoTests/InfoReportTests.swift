import Bencode
import Foundation
import Metainfo
import Testing

struct InfoReportTests {
    static func torrent(creationDate: Int64) throws -> Torrent {
        let info = BencodeValue.dict([
            "length": .integer(5), "name": .string("a\"b"), "piece length": .integer(16384),
            "pieces": .bytes(Array(repeating: 1, count: 20)),
        ])
        let root = BencodeValue.dict([
            "comment": .string("line 1\nline 2\t\"q\" \\ \u{1}"), "creation date": .integer(creationDate),
            "info": info,
        ])
        return try Torrent(bytes: root.encoded())
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00Z (0)"),
        (1_700_000_000, "2023-11-14T22:13:20Z (1700000000)"),
        (-1, "1969-12-31T23:59:59Z (-1)"),
        (Int64.min, "-9223372036854775808 s after the epoch (-9223372036854775808)"),
        (Int64.max, "9223372036854775807 s after the epoch (9223372036854775807)"),
    ])
    func showsCreationDatesInUTCAndSurvivesHostileOnes(seconds: Int64, expected: String) throws {
        let text = InfoReport(source: "t", subject: .torrent(try Self.torrent(creationDate: seconds))).text()
        #expect(text.contains("Created on:    \(expected)"))
    }

    @Test func jsonEscapesStrings() throws {
        let json = InfoReport(source: "t", subject: .torrent(try Self.torrent(creationDate: 0))).json()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["name"] as? String == "a\"b")
        #expect(object["comment"] as? String == "line 1\nline 2\t\"q\" \\ \u{1}")
    }
}
