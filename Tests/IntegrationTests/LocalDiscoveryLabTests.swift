import Foundation
import Testing
import TestSupport

/// BEP 14 local discovery end to end: two `swtorrent` processes in a network namespace the test creates, with local
/// discovery on the namespace's end of its veth pair (`SWTORRENT_LSD_INTERFACE`, test-only). Nothing multicasts on
/// the machine's own interfaces: the datagrams stay on the test's veth link (TTL 1).
@Suite(.serialized) struct LocalDiscoveryLabTests {
    static let variable = "SWTORRENT_LSD_INTERFACE"

    /// A seed and a leech with no tracker and no `--peer`: the leech completes because local discovery found the
    /// seed, and it says the peer's source was `lsd`. The namespace is deleted afterwards, pass or fail.
    @Test func leechFindsTheSeedThroughLocalDiscovery() throws {
        let namespace: NetworkNamespace
        do {
            namespace = try NetworkNamespace()
        } catch let unavailable as NetworkNamespace.Unavailable {
            try Conformance.labMissing("leechFindsTheSeedThroughLocalDiscovery", "\(unavailable)")
            try Test.cancel("DID NOT RUN: \(unavailable)")
        }
        defer { namespace.remove() }
        let dir = try TestFiles.makeTemporaryDirectory("swt-lsd")
        defer { TestFiles.cleanup(dir) }
        let name = "release.bin"
        try FileManager.default.createDirectory(atPath: dir.path + "/seed", withIntermediateDirectories: true)
        let content = dir.path + "/seed/\(name)"
        try TestFiles.writeRandomFile(URL(fileURLWithPath: content), size: 3 << 20, seed: 0x15d)
        let torrent = dir.path + "/t.torrent"
        // A public torrent whose tracker does not exist; both sides run with --no-tracker anyway.
        let made = try TestProcess.swtorrent(
            ["make", content, "-a", "http://127.0.0.1:1/announce", "--piece-length", "64K", "--no-date", "-o", torrent],
            timeout: 60)
        try #require(made.exitCode == 0, "swtorrent make: \(made.stderr)")

        let binary = try TestProcess.swtorrentBinary()
        let environment = [Self.variable: namespace.namespaceInterface]
        // The leech listens first: the seed's announcements at start, +2 s and +6 s must find it listening (the next
        // comes 300 s later), however long a loaded machine takes to start a process.
        let leech = try BackgroundProcess(
            "ip",
            try namespace.command(
                binary,
                ["leech", torrent, "--out", dir.path + "/out", "--no-tracker", "--json", "--verbose", "--stall-timeout",
                 "60s", "--allow-unsigned"]),
            name: "lsd-leech", environment: environment, logDirectory: dir)
        defer { leech.stop() }
        let listening = TestFiles.waitUntil(timeout: 30) { leech.stderr.contains("local discovery running") }
        try #require(listening, "leech: \(leech.stderr.suffix(2000))")
        let seed = try BackgroundProcess(
            "ip",
            try namespace.command(binary, ["seed", torrent, "--data", dir.path + "/seed", "--no-tracker", "--verbose"]),
            name: "lsd-seed", environment: environment, logDirectory: dir)
        defer { seed.stop() }

        let exit = leech.wait(timeout: 90)
        #expect(exit == 0, "leech: \(leech.stderr.suffix(3000))\nseed: \(seed.stderr.suffix(2000))")
        let original = try Data(contentsOf: URL(fileURLWithPath: content))
        let copy = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/out/\(name)"))
        #expect(copy == original)
        // The only way the leech could know the seed: its connection's source is local discovery.
        let connected = leech.stderr.split(separator: "\n").filter { $0.contains("peer connected") }
        #expect(!connected.isEmpty && connected.allSatisfy { $0.contains("source=lsd") }, "\(connected)")
        #expect(seed.stderr.contains("local discovery running"), "seed: \(seed.stderr.suffix(2000))")

        seed.stop()
        let namespaceName = namespace.name
        namespace.remove()
        #expect(!NetworkNamespace.exists(namespaceName), "namespace \(namespaceName) is still there")
    }

    /// An interface that does not exist: the seed refuses to start, naming the interface, and sends nothing.
    @Test func unknownInterfaceIsRefusedClearly() throws {
        let dir = try TestFiles.makeTemporaryDirectory("swt-lsd")
        defer { TestFiles.cleanup(dir) }
        let content = dir.path + "/a.bin"
        try TestFiles.writeRandomFile(URL(fileURLWithPath: content), size: 64 << 10)
        let torrent = dir.path + "/t.torrent"
        let made = try TestProcess.swtorrent(
            ["make", content, "-a", "http://127.0.0.1:1/announce", "--no-date", "-o", torrent], timeout: 60)
        try #require(made.exitCode == 0, "swtorrent make: \(made.stderr)")
        let seed = try TestProcess.swtorrent(
            ["seed", torrent, "--data", dir.path, "--no-tracker"], environment: [Self.variable: "swtnosuch0"],
            timeout: 30)
        #expect(seed.exitCode == 1, "\(seed.stderr)")
        #expect(seed.stderr.contains("interface 'swtnosuch0' does not exist"), "\(seed.stderr)")
    }
}
