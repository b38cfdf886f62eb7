import Foundation
import Logging
import Operations
import Testing

struct JSONLogHandlerTests {
    @Test(arguments: [
        ("plain", "plain"),
        ("a \"quoted\" word", "a \"quoted\" word"),
        ("back\\slash and\nnewline\tand tab", "back\\slash and\nnewline\tand tab"),
        ("bell \u{07} and nul \u{00}", "bell \u{07} and nul \u{00}"),
        ("unicode: ünïcødé ✓", "unicode: ünïcødé ✓"),
    ])
    func messagesRoundTripThroughAJSONParser(message: String, expected: String) throws {
        let line = JSONLogHandler.line(
            time: "2026-12-02T17:50:03.123Z", level: .warning, label: "swtorrent.seed", source: "Engine",
            message: message, metadata: ["peer": "127.0.0.1:6881", "why": "a \"bad\"\nhandshake"])
        #expect(!line.contains("\n"), "one record is one line")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["message"] as? String == expected)
        #expect(object["level"] as? String == "warning")
        #expect(object["label"] as? String == "swtorrent.seed")
        #expect(object["source"] as? String == "Engine")
        #expect(object["time"] as? String == "2026-12-02T17:50:03.123Z")
        #expect(object["metadata"] as? [String: String] == ["peer": "127.0.0.1:6881", "why": "a \"bad\"\nhandshake"])
    }

    @Test func aRecordWithoutMetadataHasNoMetadataField() throws {
        let line = JSONLogHandler.line(
            time: "t", level: .info, label: "l", source: "s", message: "m", metadata: [:])
        #expect(line == #"{"time":"t","level":"info","label":"l","source":"s","message":"m"}"#)
    }
}
