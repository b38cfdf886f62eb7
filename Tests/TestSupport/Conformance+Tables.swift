import Foundation

extension Conformance {
    /// The conformance directory, or nil after printing that `suite` did not run (no data beside this clone).
    public static func directory(for suite: String) -> URL? {
        guard let directory = directory() else {
            print(
                "\(suite): DID NOT RUN - conformance data not found (expected ../shared/conformance beside the "
                    + "package, or SWTORRENT_CONFORMANCE)")
            return nil
        }
        return directory
    }

    /// Reads one of the tab-separated tables (header row, no quoting): a dictionary per row, keyed by column name;
    /// a missing trailing cell reads as "".
    public static func table(_ url: URL) throws -> [[String: String]] {
        let text = try String(contentsOf: url, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard let first = lines.first else { return [] }
        let header = first.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        return lines.dropFirst().map { line in
            let cells = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            var row: [String: String] = [:]
            for (index, name) in header.enumerated() { row[name] = index < cells.count ? cells[index] : "" }
            return row
        }
    }

    /// This package's `Docs/conformance.md`, which must name every row a test lists as a deliberate disagreement.
    public static func disagreementsDoc(filePath: String = #filePath) throws -> String {
        let url = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Docs/conformance.md")
        return try String(contentsOf: url, encoding: .utf8)
    }
}

/// A conformance row we disagree with on purpose: the row's `source` column, a key that picks the row out within
/// that source (a prefix of its input), and why we differ.
public struct ListedDisagreement: Sendable {
    public var source: String
    public var key: String
    public var reason: String

    public init(_ source: String, _ key: String, _ reason: String) {
        self.source = source
        self.key = key
        self.reason = reason
    }

    /// `source` + space + `key`: how the tests index rows.
    public var tableKey: String { "\(source) \(key)" }

    /// The test name in `source` (after `#`), which `Docs/conformance.md` must mention.
    public var testName: String { String(source.split(separator: "#").last ?? "") }
}

extension Conformance {
    /// The test names of `listed` that `Docs/conformance.md` does not mention (empty when the doc is complete).
    public static func undocumented(_ listed: [ListedDisagreement]) throws -> [String] {
        let doc = try disagreementsDoc()
        return listed.map(\.testName).filter { !doc.contains($0) }
    }
}
