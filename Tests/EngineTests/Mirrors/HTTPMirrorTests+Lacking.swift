import Engine
import Foundation
import TestSupport
import Testing

/// A mirror that answers `404` or `410` for a file lacks that file: no failure, no backoff; the pieces the file touches
/// go to other sources, and a WAN mirror beside a LAN mirror that lacks a file is asked for those pieces only.
extension HTTPMirrorTests {
    /// The multi-file torrent (a.bin 100,001 bytes, sub dir/b c.bin 70,000, z.bin 250,123; 32 KiB pieces) from a
    /// LAN mirror that lacks z.bin and a WAN mirror that has everything (both on loopback; their localities set as a
    /// manifest's sites set them). The LAN mirror supplies a.bin whole, is never backed off and says what it lacks;
    /// the WAN mirror is asked only for the pieces z.bin touches (the one piece it shares with b c.bin included).
    @Test(.timeLimit(.minutes(2)))
    func aLANMirrorThatLacksAFileServesTheOthersAndTheWANMirrorOnlyThatFile() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("mirror-lacking")
        defer { TestFiles.cleanup(directory) }
        let (torrent, root, files) = try Self.multiFile(in: directory)
        let partial = directory.appendingPathComponent("partial/bundle")
        try FileManager.default.createDirectory(
            at: partial.appendingPathComponent("sub dir"), withIntermediateDirectories: true)
        for path in ["a.bin", "sub dir/b c.bin"] {
            try Data(try #require(files[path])).write(to: partial.appendingPathComponent(path))
        }
        let lan = try FaultyHTTPServer(root: partial.deletingLastPathComponent(), logDirectory: directory)
        defer { lan.stop() }
        let wan = try FaultyHTTPServer(root: root, logDirectory: directory)
        defer { wan.stop() }
        let out = directory.appendingPathComponent("out")
        let run = try await Self.leech(torrent, into: out, mirrors: [lan.url, wan.url]) {
            $0.mirrorLocalities = [lan.url: .lan, wan.url: .wan]
            $0.mirrorSettings.bytesPerRequest = 64 << 10
        }
        let progress = try #require(run.outcome.completed, "ended \(run.outcome)")
        for (path, bytes) in files {
            #expect(try Data(contentsOf: out.appendingPathComponent("bundle/" + path)) == Data(bytes), "\(path)")
        }
        #expect(progress.suppliedBytes["bundle/a.bin"] == [lan.url: 100_001], "\(progress.suppliedBytes)")
        let zSize = Int64(try #require(files["z.bin"]).count)
        #expect(progress.suppliedBytes["bundle/z.bin"] == [wan.url: zSize], "\(progress.suppliedBytes)")
        // z.bin starts at 170,001, inside piece 5 (163,840-196,607): b c.bin's last 6,161 bytes come with it.
        let fromWAN = progress.suppliedBytes.values.reduce(Int64(0)) { $0 + ($1[wan.url] ?? 0) }
        #expect(fromWAN == zSize + 6_161, "\(progress.suppliedBytes)")
        let wanPaths = Set(wan.requests.map(\.path))
        #expect(wanPaths.isSubset(of: ["/bundle/z.bin", "/bundle/sub%20dir/b%20c.bin"]), "\(wanPaths)")
        #expect(!lan.requests.filter { $0.status == 404 }.isEmpty, "the LAN mirror was never asked for z.bin")
        let mirror = try #require(run.mirror(lan.url))
        #expect(mirror.state == .active && mirror.failures == 0, "\(mirror)")
        #expect(mirror.reason?.hasPrefix("lacks 1 file, serving the others (last: HTTP 404 Not Found") == true)
        #expect(run.reasons(lan.url).allSatisfy { !$0.contains("backing off") }, "\(run.reasons(lan.url))")
    }

    /// A mirror that answers 404 (or 410) for the only file lacks every file: a failure each time it is asked again,
    /// so it backs off and is dropped at the limit (as an appliance that never gets the file would be), nothing taken.
    @Test(.timeLimit(.minutes(2)), arguments: [404, 410])
    func aMirrorThatLacksEveryFileIsDroppedAtTheLimit(status: Int) async throws {
        let files = try Served("mirror-lacks-all", size: 1 << 20, seed: 38)
        defer { files.cleanup() }
        let server = try files.serve(["--status", "\(status)"])
        let run = try await Self.leech(files.fixture.torrent, into: files.out, mirrors: [server.url]) {
            $0.mirrorSettings.failureLimit = 3
            $0.mirrorSettings.initialBackoff = .milliseconds(100)
            $0.stallTimeout = .seconds(6)
        }
        let progress = try #require(
            run.outcome.stalled, "a leech with only a mirror that lacks the file ended \(run.outcome)")
        let mirror = try #require(run.mirror(server.url))
        #expect(mirror.state == .dropped, "\(mirror)")
        let reason = try #require(mirror.reason)
        #expect(reason.hasPrefix("3 failures in a row (last: lacks every file (HTTP \(status) "), "\(reason)")
        #expect(progress.downloaded == 0 && progress.suppliedBytes.isEmpty)
        // Asked again after each wait: three rounds at least.
        #expect(server.requests.count >= 3, "\(server.requests)")
    }
}
