import Foundation
import TestSupport

/// Reads the tab-separated tables of `../shared/conformance` (header row, no quoting).
struct ConformanceTable {
    let header: [String]
    let rows: [[String: String]]

    init(_ url: URL) throws {
        let text = try String(contentsOf: url, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        let header = lines.first?.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) ?? []
        self.header = header
        rows = lines.dropFirst().map { line in
            let cells = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            var row: [String: String] = [:]
            for (index, name) in header.enumerated() { row[name] = index < cells.count ? cells[index] : "" }
            return row
        }
    }

    /// The conformance directory, or nil after printing that the tests using it did not run.
    static func directory(for suite: String) -> URL? {
        guard let directory = Conformance.directory() else {
            print(
                "\(suite): DID NOT RUN - conformance data not found (expected ../shared/conformance beside the "
                    + "package, or SWTORRENT_CONFORMANCE)")
            return nil
        }
        return directory
    }
}

/// `Docs/conformance.md` of this package, which must name every row a test lists as a deliberate disagreement.
func conformanceDoc(filePath: String = #filePath) throws -> String {
    let url = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Docs/conformance.md")
    return try String(contentsOf: url, encoding: .utf8)
}
