import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Seed and leech as an unprivileged user. Operators run the daemons as a service account, and the engine once set
/// `TCP_NODELAY` at the socket level (where option 1 is `SO_DEBUG`, which only root may set): every dial failed and
/// every accepted connection closed, while every test, run as root, passed. When the suite runs as root, both
/// processes here drop to `nobody` with util-linux's `setpriv`; otherwise they already run unprivileged.
@Suite(.serialized) struct UnprivilegedEngineTests {
    /// The argument prefix that runs a program as `nobody` (empty when we are not root).
    static func unprivileged(_ executable: String) throws -> (String, [String]) {
        guard geteuid() == 0 else { return (executable, []) }
        try TestProcess.requireTool("setpriv")
        return (
            try TestProcess.resolve("setpriv").path,
            ["--reuid=65534", "--regid=65534", "--clear-groups", "--", executable]
        )
    }

    @Test func seedAndLeechAsNobody() throws {
        let swarm = try EngineInteropTests.Swarm()
        // The service account must read the torrent and the data and write the output directory.
        let out = swarm.path("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for path in [swarm.dir.path, swarm.path("seed"), out] {
            #expect(chmod(path, 0o777) == 0, "chmod \(path)")
        }
        for path in [swarm.torrent.path, swarm.content.path] {
            #expect(chmod(path, 0o644) == 0, "chmod \(path)")
        }

        // A copy of the binary where `nobody` can execute it (the build directory may sit under a private home).
        let binary = swarm.path("swtorrent")
        try FileManager.default.copyItem(atPath: try TestProcess.swtorrentBinary(), toPath: binary)
        #expect(chmod(binary, 0o755) == 0)
        let (launcher, prefix) = try Self.unprivileged(binary)
        let port = try TestFiles.freePort()
        let seed = try swarm.background(
            launcher,
            prefix + ["seed", swarm.torrent.path, "--data", swarm.path("seed"),
                                                   "--port", "\(port)", "--no-tracker"],
            name: "swtorrent-seed-nobody")
        defer { seed.stop() }
        #expect(waitForPort(port), "seed did not listen: \(seed.stderr)")

        let leech = try TestProcess.run(
            launcher,
            prefix + ["leech", swarm.torrent.path, "--out", out, "--json", "--stall-timeout", "20s", "--allow-unsigned",
                      "--no-tracker", "--peer", "127.0.0.1:\(port)"],
            timeout: 60)
        #expect(leech.exitCode == 0, "leech as nobody: \(leech.stderr)\nseed: \(seed.stderr)")
        try swarm.expectDownloaded(into: out)
    }
}
