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
