import Foundation
import TestSupport
import Testing

/// `scripts/demo.sh`, the README's main job, run as a user runs it (with this build's binary instead of a release
/// build): every step passes, and the lines it prints tell the story the README says it tells.
struct DemoScriptTests {
    @Test func demoTellsTheWholeStoryOnLoopback() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/demo.sh").standardized.path
        // The demo bounds each of its own waits (20 s each, 120 s for the leech); this is the outer limit.
        let result = try TestProcess.run(
            "bash", [script], environment: ["SWTORRENT_BIN": try TestProcess.swtorrentBinary()], timeout: 240)
        #expect(result.exitCode == 0, "\(result.stdout)\n\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        func line(_ prefix: String) -> String { lines.first { $0.hasPrefix(prefix) } ?? "" }
        #expect(line("1. build host:").contains("signed with minisign key minisign:"), "\(result.stdout)")
        #expect(line("2. tracker").contains("admits two node keys: seed-01, fleet-07"), "\(result.stdout)")
        #expect(line("3. seed daemon").contains("over TLS") && line("3. seed daemon").contains("announced it"), "\(result.stdout)")
        #expect(line("4. node 'intruder'").contains("unknown node key"), "\(result.stdout)")
        #expect(line("4. node 'intruder'").contains("the seed its"), "\(result.stdout)")
        #expect(line("4. node 'intruder'").contains("nothing released"), "\(result.stdout)")
        #expect(!line("   released release-1.0.0.tar: signed by minisign:").isEmpty, "\(result.stdout)")
        let audit = line("   audit log: released release-1.0.0.tar")
        #expect(audit.contains("bytes from seed-01 (SHA256:") && audit.hasSuffix(": 25165824 bytes"), "\(result.stdout)")
        #expect(!line("6. released copy is byte-identical").isEmpty, "\(result.stdout)")
        #expect(lines.contains { $0.contains("release-1.0.0.tar") && $0.contains("seeding") && $0.contains("100.0%") })
        #expect(lines.last == "demo: every step passed; stopping the seed daemon and the tracker.", "\(result.stdout)")
        #expect(lines.count <= 16, "the demo should print a few lines, not pages: \(result.stdout)")
        let work = try #require(lines.first?.split(separator: " ").last.map(String.init))
        #expect(!FileManager.default.fileExists(atPath: work), "the demo left \(work) behind")
    }
}
