import Foundation
import TestSupport
import Testing

/// A relay between a leech and a seed flips one byte the seed sends. Over TLS the record's authentication tag
/// fails, the connection is closed and the leech, reconnecting, ends with the right bytes and no piece that failed
/// its hash; the same relay on a plain (public) torrent shows the flip does land in piece data (a hash failure).
@Suite(.serialized)
struct TamperingTests {
    @Test(arguments: [true, false])
    func aFlippedByteFailsTheTLSConnectionRatherThanAPiece(overTLS: Bool) async throws {
        let dir = try TestFiles.makeTemporaryDirectory("tamper")
        defer { TestFiles.cleanup(dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let size = 2 << 20
        try FileManager.default.createDirectory(atPath: path("data"), withIntermediateDirectories: true)
        try TestFiles.writeRandomFile(URL(fileURLWithPath: path("data/app.bin")), size: size, seed: 0xf11b)
        let made = try TestProcess.swtorrent(
            ["make", path("data/app.bin"), "-a", "http://127.0.0.1:1/announce", "-o", path("app.torrent")]
                + (overTLS ? ["--private"] : []),
            timeout: 60)
        #expect(made.exitCode == 0, "\(made.stderr)")
        var seedNode: [String] = []
        var leechNode: [String] = []
        if overTLS {
            for name in ["seed-1", "leech-1"] {
                let key = try TestProcess.swtorrent(["keygen", "--out", path(name), "--name", name], timeout: 30)
                #expect(key.exitCode == 0, "\(key.stderr)")
            }
            let allow = try String(contentsOfFile: path("seed-1.pub"), encoding: .utf8)
                + String(contentsOfFile: path("leech-1.pub"), encoding: .utf8)
            try Data(allow.utf8).write(to: URL(fileURLWithPath: path("fleet.allow")))
            seedNode = ["--key", path("seed-1"), "--allow", path("fleet.allow")]
            leechNode = ["--key", path("leech-1"), "--allow", path("fleet.allow")]
        }
        let port = try TestFiles.freePort()
        let seed = try BackgroundProcess(
            try TestProcess.swtorrentBinary(),
            ["seed", path("app.torrent"), "--data", path("data"), "--port", "\(port)", "--no-tracker"] + seedNode,
            name: "seed", logDirectory: dir)
        defer { seed.stop() }
        // A byte well inside the stream: past the handshakes and the bitfield, in the first megabyte of blocks.
        let relay = ByteFlippingRelay(target: port, at: 300_000)
        let relayPort = try await relay.start()
        defer { Task { await relay.stop() } }
        try await Task.sleep(for: .seconds(1))

        let leech = try TestProcess.swtorrent(
            ["leech", path("app.torrent"), "--out", path("out"), "--peer", "127.0.0.1:\(relayPort)", "--no-tracker",
             "--json", "--allow-unsigned", "--stall-timeout", "30s"] + leechNode,
            timeout: 90)
        #expect(relay.flipped, "connections \(relay.connections): \(leech.stderr) \(seed.stderr)")
        let last = leech.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.last { $0["hashFailures"] != nil }
        let hashFailures = try #require(last?["hashFailures"] as? Int, "\(leech.stdout)")
        if overTLS {
            #expect(leech.exitCode == 0, "\(leech.stderr)")
            #expect(hashFailures == 0, "the flipped byte reached a piece through TLS")
            #expect(relay.connections >= 2, "the tampered connection was not closed")
            let sha = { (file: String) in try TestProcess.run("sha256sum", [file], timeout: 30).stdout.prefix(64) }
            #expect(try sha(path("out/app.bin")) == sha(path("data/app.bin")))
        } else {
            #expect(hashFailures >= 1, "the flip did not reach piece data on the plain connection: \(leech.stdout)")
        }
    }
}
