import Foundation
import TestSupport
import Testing

/// scripts/systemd/swtorrent-seed.service: `systemd-analyze verify` accepts it without a warning, and its offline
/// security exposure stays "OK" (at most 2.0 of 10). Neither needs systemd running as PID 1.
struct SystemdUnitTests {
    static let unitPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("../../scripts/systemd/swtorrent-seed.service")
        .standardized.path

    /// The unit with ExecStart pointing at the binary under test (verify checks that the command is executable).
    func installedCopy(in dir: URL, edit: (String) -> String = { $0 }) throws -> String {
        let unit = try String(contentsOfFile: Self.unitPath, encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/swtorrent", with: try TestProcess.swtorrentBinary())
        let path = dir.appendingPathComponent("swtorrent-seed.service").path
        try edit(unit).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theUnitVerifiesCleanly() throws {
        try TestProcess.requireTool("systemd-analyze")
        let dir = try TestFiles.makeTemporaryDirectory("systemd-unit")
        defer { TestFiles.cleanup(dir) }
        let result = try TestProcess.run("systemd-analyze", ["verify", try installedCopy(in: dir)], timeout: 60)
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty && result.stdout.isEmpty, "verify warned: \(result.stderr)\(result.stdout)")

        // The check sees a broken directive (a warning, exit 0) and a missing binary (exit 1).
        let broken = try installedCopy(in: dir) {
            $0.replacingOccurrences(of: "ProtectSystem=strict", with: "ProtectSystem=bogus")
        }
        let warned = try TestProcess.run("systemd-analyze", ["verify", broken], timeout: 60)
        #expect(warned.stderr.contains("Failed to parse protect system value"), "\(warned.stderr)")
        let missing = try installedCopy(in: dir) {
            $0.replacingOccurrences(of: try! TestProcess.swtorrentBinary(), with: "/nonexistent/swtorrent")
        }
        #expect(try TestProcess.run("systemd-analyze", ["verify", missing], timeout: 60).exitCode != 0)
    }

    @Test func theUnitIsHardened() throws {
        try TestProcess.requireTool("systemd-analyze")
        let unit = try String(contentsOfFile: Self.unitPath, encoding: .utf8)
        let lines = Set(unit.split(separator: "\n").map(String.init))
        for directive in [
            "User=swtorrent", "ProtectSystem=strict", "ReadWritePaths=/var/lib/swtorrent", "NoNewPrivileges=true",
            "CapabilityBoundingSet=", "AmbientCapabilities=", "PrivateTmp=true", "ProtectHome=true",
        ] {
            #expect(lines.contains(directive), "missing \(directive)")
        }
        let dir = try TestFiles.makeTemporaryDirectory("systemd-security")
        defer { TestFiles.cleanup(dir) }
        // --threshold is in tenths of the printed exposure: 20 is 2.0, the top of systemd's "OK".
        let security = try TestProcess.run(
            "systemd-analyze", ["security", "--offline=true", "--threshold=20", try installedCopy(in: dir)],
            timeout: 60)
        #expect(security.exitCode == 0, "\(security.stdout.suffix(3000))")
        #expect(security.stdout.contains("Overall exposure level"), "\(security.stdout.suffix(500))")

        // Without its hardening section the same unit is far above the threshold: the measure is not vacuous.
        let bare = try installedCopy(in: dir) { unit in
            unit.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
                line.hasPrefix("[") || line.hasPrefix("Description") || line.hasPrefix("ExecStart=")
                    || line.hasPrefix("User=") || line.hasPrefix("WantedBy")
            }.joined(separator: "\n") + "\n"
        }
        let exposed = try TestProcess.run(
            "systemd-analyze", ["security", "--offline=true", "--threshold=20", bare], timeout: 60)
        #expect(exposed.exitCode != 0, "\(exposed.stdout.suffix(500))")
    }
}
