import Foundation

extension Conformance {
    /// The variable `.ci/run` sets: every test must run, so missing conformance data, a missing tool or a missing lab
    /// (network namespaces, a second file system) fails the tests that need it. Without it — a user's clone — those
    /// tests are skipped and say "DID NOT RUN" and why.
    public static let requireAllVariable = "SWTORRENT_REQUIRE_ALL"

    /// Whether `SWTORRENT_REQUIRE_ALL=1` is set.
    public static var everythingRequired: Bool {
        ProcessInfo.processInfo.environment[requireAllVariable] == "1"
    }

    /// For `@Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: …"))`: true when the data is here, or when CI
    /// requires it (the test then fails in `requireDirectory()`); otherwise Swift Testing reports the test skipped
    /// with that comment.
    public static var shouldRun: Bool { everythingRequired || directory() != nil }

    /// The conformance directory (or `subdirectory` of it).
    /// - Throws: `HarnessError` naming the missing directory and the fix.
    public static func requireDirectory(_ subdirectory: String? = nil) throws -> URL {
        guard let root = directory() else {
            throw HarnessError(
                "conformance data not found: expected ../shared/conformance beside the package (a README.md in it), "
                    + "or a directory named by SWTORRENT_CONFORMANCE (\(requireAllVariable)=1 makes its absence a "
                    + "failure)")
        }
        guard let subdirectory else { return root }
        let url = root.appendingPathComponent(subdirectory)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw HarnessError("conformance data incomplete: \(url.path) is missing; update ../shared/conformance")
        }
        return url
    }

    /// For a test whose lab (or tool) is not here: in a user's clone prints that `test` DID NOT RUN and why and
    /// returns normally; under `SWTORRENT_REQUIRE_ALL=1` throws, so the test fails.
    /// - Throws: `HarnessError` when every test is required to run.
    public static func labMissing(_ test: String, _ why: String) throws {
        guard !everythingRequired else {
            throw HarnessError("\(test): \(why); \(requireAllVariable)=1 requires every test to run")
        }
        print("\(test): DID NOT RUN - \(why)")
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
