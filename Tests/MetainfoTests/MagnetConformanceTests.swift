import Foundation
import Metainfo
import TestSupport
import Testing

/// Parses every URI of `../shared/conformance/magnet/cases.tsv` and compares the outcome and every structured
/// column the row fills (info-hashes, name, trackers, web seeds, select-only, peers, other parameters). Rows where
/// we differ on purpose are listed in ``disagreements`` and in `Docs/conformance.md`; any other difference fails.
struct MagnetConformanceTests {
    /// A row we disagree with on purpose: its source, the first 48 characters of its URI, and why.
    typealias Listed = ListedDisagreement

    static let listed: [Listed] = [
        Listed(
            "webtorrent/magnet-uri:test/decode.js#"
                + "empty string as keys is okay",
            "magnet:?a=&b=&c=",
            "no BitTorrent info-hash: a client has nothing to fetch"),
        Listed(
            "webtorrent/magnet-uri:test/decode.js#"
                + "decode: invalid magnet URIs return only valid keys (ignoring invalid ones)",
            "magnet:?a=a&===",
            "no BitTorrent info-hash: a client has nothing to fetch"),
        Listed(
            "webtorrent/magnet-uri:test/decode.js#"
                + "decode: invalid magnet URIs return only valid keys (ignoring invalid ones)",
            "magnet:?a==&b=b",
            "no BitTorrent info-hash: a client has nothing to fetch"),
        Listed(
            "webtorrent/magnet-uri:test/decode.js#"
                + "decode: invalid magnet URIs return only valid keys (ignoring invalid ones)",
            "magnet:?a=b=&c=c&d===",
            "no BitTorrent info-hash: a client has nothing to fetch"),
        Listed(
            "webtorrent/magnet-uri:test/decode.js#"
                + "multiple as, ws params",
            "magnet:?xt=urn:ed2k:354B15E68FB8F36D7CD88FF94116",
            "no BitTorrent info-hash: a client has nothing to fetch"),
        Listed(
            "webtorrent/magnet-uri:test/decode.js#"
                + "dedupe repeated trackers",
            "magnet:?xt=urn:ed2k:354B15E68FB8F36D7CD88FF94116",
            "no BitTorrent info-hash: a client has nothing to fetch"),
        Listed(
            "webtorrent/magnet-uri:test/decode.js#"
                + "decode: Extracts public key from xs",
            "magnet:?xs=urn:btpk:9a36edf0988ddc1a0fc02d4e8652",
            "no BitTorrent info-hash: a client has nothing to fetch"),
    ]

    /// Key: `source` + space + the first 48 characters of the URI as written in the table (a listed key must
    /// match one row only; checked).
    static let disagreements: [String: String] = Dictionary(
        uniqueKeysWithValues: listed.map { ($0.tableKey, $0.reason) })

    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"))
    func everyMagnetRowAgreesOrIsAListedDisagreement() throws {
        let directory = try Conformance.requireDirectory()
        let rows = try Conformance.table(directory.appendingPathComponent("magnet/cases.tsv"))
        #expect(rows.count > 80)
        var keys: Set<String> = []
        var found: [String] = []
        for row in rows {
            let key = "\(row["source"] ?? "") \((row["uri"] ?? "").prefix(48))"
            let isNew = keys.insert(key).inserted
            #expect(isNew || Self.disagreements[key] == nil, "two rows share the listed key \(key)")
            let problems = Self.problems(row)
            if let reason = Self.disagreements[key] {
                #expect(!problems.isEmpty, "\(key) is listed as a disagreement (\(reason)) but now agrees")
            } else if !problems.isEmpty {
                found.append("\(key.debugDescription): \(problems.joined(separator: "; ").debugDescription),")
            }
        }
        #expect(found.isEmpty, "unlisted disagreements:\n\(found.joined(separator: "\n"))")
        for key in Self.disagreements.keys {
            #expect(keys.contains(key), "\(key) is listed but is not a row of cases.tsv")
        }
        let undocumented = try Conformance.undocumented(Self.listed)
        #expect(undocumented.isEmpty, "Docs/conformance.md does not name \(undocumented)")
    }

    static func problems(_ row: [String: String]) -> [String] {
        let expect = row["expect"] ?? ""
        let link: MagnetLink
        do {
            link = try MagnetLink(parsing: unescape(row["uri"] ?? ""))
        } catch {
            return expect == "ok" ? ["refused: \(error)"] : []
        }
        guard expect == "ok" else { return expect == "error" ? ["parsed, but the source rejects it"] : [] }
        var problems: [String] = []
        let note = row["note"] ?? ""
        func compare(_ column: String, _ actual: [String], ordered: Bool = true) {
            guard let cell = row[column], !cell.isEmpty else { return }
            let expected = cell == "(none)" ? [] : cell.split(separator: "|").map(String.init)
            let same = ordered ? actual == expected : actual.sorted() == expected.sorted()
            if !same { problems.append("\(column) \(actual), source says \(expected)") }
        }
        compare("btih_hex", link.infoHash.map { [$0.hex] } ?? [])
        compare("btmh_digest_hex", link.infoHashV2.map { [$0.hex] } ?? [])
        compare("dn", link.displayName.map { [$0] } ?? [])
        compare("tr", link.trackers, ordered: !note.contains("order not asserted"))
        compare("ws", link.webSeeds)
        compare("x_pe", link.peers)
        if let cell = row["so"], !cell.isEmpty {
            let expected = cell == "(none)" ? [] : cell.split(separator: ",").map(String.init)
            let actual = link.selectedFiles.flatMap { $0.map(String.init) }
            if actual != expected { problems.append("so \(actual), source says \(expected)") }
        }
        // `other`: key=value items separated by |; an item without = continues the previous key's values.
        var other: [(key: String, values: [String])] = []
        for item in (row["other"] ?? "").split(separator: "|") {
            if let equals = item.firstIndex(of: "=") {
                other.append((String(item[..<equals]), [String(item[item.index(after: equals)...])]))
            } else if !other.isEmpty {
                other[other.count - 1].values.append(String(item))
            }
        }
        var merged: [String: [String]] = [:]
        for (key, values) in other { merged[key, default: []].append(contentsOf: values) }
        for (key, expected) in merged {
            var actual = link.otherParameters.filter { $0.name == key }.map(\.value)
            if key == "kt" { actual = actual.flatMap { $0.split(separator: "+").map(String.init) } }
            if actual != expected { problems.append("\(key) \(actual), source says \(expected)") }
        }
        return problems
    }

    /// The table writes bytes outside printable ASCII, and the backslash, as `\xNN`.
    static func unescape(_ text: String) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count, utf8[index + 1] == UInt8(ascii: "x"),
                let byte = UInt8(String(decoding: utf8[(index + 2)...(index + 3)], as: UTF8.self), radix: 16)
            {
                bytes.append(byte)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
