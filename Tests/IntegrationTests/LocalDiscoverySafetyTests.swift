import Foundation
import Testing
import TestSupport

/// Local discovery is on by default and multicasts on every suitable interface; nothing in the suite, the benchmarks
/// or the demo may do that on this machine's real interfaces (Docs/local-discovery.md, "Tests and safety").
@Suite struct LocalDiscoverySafetyTests {
    static let bin = "/build/debug/swtorrent"

    /// What the harness starts: `--no-lsd` is added to every `seed`/`leech` that does not choose discovery itself,
    /// also behind a wrapper; other commands and other programs are left alone.
    @Test(arguments: [
        (bin, ["seed", "t", "--data", "d"], ["seed", "--no-lsd", "t", "--data", "d"]),
        (bin, ["leech", "t", "--out", "o"], ["leech", "--no-lsd", "t", "--out", "o"]),
        ("ip", ["netns", "exec", "ns", bin, "leech", "t"], ["netns", "exec", "ns", bin, "leech", "--no-lsd", "t"]),
        ("setpriv", ["--reuid=65534", "--", "/tmp/x/swtorrent", "seed", "t"],
         ["--reuid=65534", "--", "/tmp/x/swtorrent", "seed", "--no-lsd", "t"]),
        (bin, ["seed", "t", "--lsd-interface", "veth0"], ["seed", "t", "--lsd-interface", "veth0"]),
        (bin, ["seed", "t", "--lsd-interface=veth0"], ["seed", "t", "--lsd-interface=veth0"]),
        ("ip", ["netns", "exec", "ns", bin, "seed", "t", "--lsd"], ["netns", "exec", "ns", bin, "seed", "t", "--lsd"]),
        (bin, ["leech", "t", "--no-lsd"], ["leech", "t", "--no-lsd"]),
        (bin, ["make", "f", "-o", "t"], ["make", "f", "-o", "t"]),
        (bin, ["tracker", "--listen", "127.0.0.1:0"], ["tracker", "--listen", "127.0.0.1:0"]),
        ("python3", ["lt.py", "seed", "t"], ["lt.py", "seed", "t"]),
    ])
    func harnessTurnsDiscoveryOff(executable: String, arguments: [String], started: [String]) {
        #expect(TestProcess.withoutLocalDiscovery(executable, arguments) == started)
    }

    /// Every `seed`/`leech` in the scripts (the demo, the benchmarks) says `--no-lsd`; the lab (scripts/lab/) runs
    /// its nodes inside network namespaces it creates and is not checked here.
    @Test func scriptsTurnDiscoveryOff() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts")
            .standardized
        let files = try FileManager.default.subpathsOfDirectory(atPath: root.path)
            .filter { $0.hasSuffix(".sh") && !$0.hasPrefix("lab/") }
        #expect(files.contains("demo.sh") && files.contains("bench/transfer.sh"), "\(files)")
        let command = try Regex(#"(\$bin"?|swtorrent"?)\s+(seed|leech)\s"#)
        var offenders: [String] = []
        for file in files {
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            // Continuation lines are one command.
            let commands = text.replacingOccurrences(of: "\\\n", with: " ").split(separator: "\n")
            for line in commands {
                let code = line.trimmingCharacters(in: .whitespaces)
                guard !code.hasPrefix("#"), !code.hasPrefix("step "), code.contains(command) else { continue }
                if !code.contains("--no-lsd") && !code.contains("--lsd-interface") { offenders.append("\(file): \(code)") }
            }
        }
        #expect(offenders.isEmpty, "start seed/leech with --no-lsd: \(offenders)")
    }
}
