import Engine
import Foundation
import Metainfo
import NIOConcurrencyHelpers
import TestSupport
import Testing

/// Leeches that fetch from HTTP mirrors (`faulty-http-server.py` on loopback, real sockets and files): alone, beside
/// a peer, beside a bad mirror, and against every fault a mirror can have.
///
/// Serialized: each case starts a python server and waits for it (and stops it) with blocking calls, which hold one
/// of the cooperative pool's threads (two on a 2-core machine); twenty cases at once starved the in-process leeches
/// of the whole suite and ran every case past its time limit in the full run.
@Suite(.serialized) struct HTTPMirrorTests {
    /// A leech of `fixture` from `mirrors` (and `peers`), with progress every 100 ms collected.
    struct Run {
        var outcome: SessionOutcome
        var progress: [SessionProgress]

        var final: SessionProgress {
            switch outcome {
            case .complete(let p), .stopped(let p), .stalled(let p): p
            }
        }

        func mirror(_ url: String) -> MirrorProgress? { final.mirrors.first { $0.url == url } }

        /// Every reason a mirror was reported with, in order, without repeats.
        func reasons(_ url: String) -> [String] {
            var seen: [String] = []
            for p in progress + [final] {
                if let reason = p.mirrors.first(where: { $0.url == url })?.reason, seen.last != reason {
                    seen.append(reason)
                }
            }
            return seen
        }
    }

    static func leech(
        _ torrent: Torrent, into directory: URL, mirrors: [String], peers: [PeerAddress] = [],
        configure: (inout SessionConfiguration) -> Void = { _ in }
    ) async throws -> Run {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let storage = try await Storage(
            layout: try StorageLayout(torrent: torrent), directory: directory.path, logger: quietLogger)
        _ = try await storage.checkExisting()
        var configuration = SessionConfiguration()
        configuration.useTrackers = false
        configuration.listenHost = "127.0.0.1"
        configuration.mirrors = mirrors
        configuration.manualPeers = peers
        configuration.stallTimeout = .seconds(60)
        configuration.progressInterval = .milliseconds(100)
        configure(&configuration)
        let session = TorrentSession(
            torrent: torrent, storage: storage, configuration: configuration, logger: quietLogger)
        let seen = NIOLockedValueBox<[SessionProgress]>([])
        let outcome = try await session.run { p in seen.withLockedValue { $0.append(p) } }
        return Run(outcome: outcome, progress: seen.withLockedValue { $0 })
    }

    /// A three-file torrent (`bundle/`) whose files do not line up with its 32 KiB pieces, so blocks and runs cross
    /// file boundaries.
    static func multiFile(in directory: URL) throws -> (torrent: Torrent, root: URL, files: [String: [UInt8]]) {
        let root = directory.appendingPathComponent("served")
        let bundle = root.appendingPathComponent("bundle")
        try FileManager.default.createDirectory(
            at: bundle.appendingPathComponent("sub dir"), withIntermediateDirectories: true)
        let files: [String: [UInt8]] = [
            "a.bin": randomBytes(100_001, seed: 1), "sub dir/b c.bin": randomBytes(70_000, seed: 2),
            "z.bin": randomBytes(250_123, seed: 3),
        ]
        for (path, bytes) in files { try Data(bytes).write(to: bundle.appendingPathComponent(path)) }
        var options = TorrentOptions()
        options.pieceLength = 32 << 10
        let made = try TorrentBuilder(options: options).make(path: bundle.path)
        return (try Torrent(bytes: made.bytes), root, files)
    }

    /// A temporary directory with one random file, `image.bin` in 64 KiB pieces, and the mirrors serving it;
    /// ``cleanup()`` stops them and removes everything.
    final class Served {
        let directory: URL
        let fixture: TorrentFixture
        private var servers: [FaultyHTTPServer] = []

        init(_ label: String, size: Int, seed: UInt64) throws {
            directory = try TestFiles.makeTemporaryDirectory(label)
            fixture = try TorrentFixture(name: "image.bin", size: size, pieceLength: 64 << 10, seed: seed, in: directory)
        }

        /// A mirror of the file with these faults.
        func serve(_ faults: [String] = []) throws -> FaultyHTTPServer {
            let server = try FaultyHTTPServer(root: fixture.seedDirectory, faults: faults, logDirectory: directory)
            servers.append(server)
            return server
        }

        /// Where the leech writes.
        var out: URL { directory.appendingPathComponent("out") }

        func cleanup() {
            for server in servers { server.stop() }
            TestFiles.cleanup(directory)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aSingleFileLeechCompletesFromOneMirrorAloneAndCreditsItsURL() async throws {
        let files = try Served("mirror-alone", size: (5 << 20) + 4321, seed: 31)
        defer { files.cleanup() }
        let fixture = files.fixture
        let server = try files.serve()
        let out = files.out
        let run = try await Self.leech(fixture.torrent, into: out, mirrors: [server.url])
        let progress = try #require(run.outcome.completed, "ended \(run.outcome)")
        #expect(try Data(contentsOf: out.appendingPathComponent("image.bin")) == Data(fixture.content))
        #expect(progress.peers == 0)
        #expect(progress.suppliedBytes == ["image.bin": [server.url: Int64(fixture.content.count)]])
        let mirror = try #require(run.mirror(server.url))
        #expect(mirror.bytes == Int64(fixture.content.count) && mirror.locality == .lan && mirror.failures == 0)
        // Runs of pieces, not a request per block.
        let requests = server.requests
        #expect(requests.allSatisfy { $0.status == 206 && $0.path == "/image.bin" })
        #expect(requests.count <= 8)
        // The final report counts: a fast transfer can end before the first 100 ms progress report.
        #expect((run.progress + [progress]).contains { $0.mirrors.first?.state == .active })
    }

    @Test(.timeLimit(.minutes(2)))
    func aMultiFileLeechCompletesFromAMirrorAcrossFileBoundaries() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("mirror-multi")
        defer { TestFiles.cleanup(directory) }
        let (torrent, root, files) = try Self.multiFile(in: directory)
        let server = try FaultyHTTPServer(root: root, logDirectory: directory)
        defer { server.stop() }
        let out = directory.appendingPathComponent("out")
        // Small requests: several runs, each of them split over files.
        // The directory URL without its trailing slash: BEP 19 adds it.
        let run = try await Self.leech(torrent, into: out, mirrors: [String(server.url.dropLast())]) {
            $0.mirrorSettings.bytesPerRequest = 96 << 10
        }
        #expect(run.outcome.completed != nil, "ended \(run.outcome)")
        for (path, bytes) in files {
            #expect(try Data(contentsOf: out.appendingPathComponent("bundle/" + path)) == Data(bytes), "\(path)")
        }
        #expect(Set(server.requests.map(\.path)) == ["/bundle/a.bin", "/bundle/sub%20dir/b%20c.bin", "/bundle/z.bin"])
    }

    @Test(.timeLimit(.minutes(2)))
    func aMirrorThatServesBadDataIsDroppedAndNamedAndTheGoodOneFinishes() async throws {
        let files = try Served("mirror-bad", size: 4 << 20, seed: 32)
        defer { files.cleanup() }
        let fixture = files.fixture
        let bad = try files.serve(["--corrupt"])
        let good = try files.serve()
        let out = files.out
        // One piece per request, two at a time: both mirrors get pieces from the start.
        let run = try await Self.leech(fixture.torrent, into: out, mirrors: [bad.url, good.url]) {
            $0.mirrorSettings.bytesPerRequest = 64 << 10
            $0.mirrorSettings.requestsPerMirror = 2
        }
        let progress = try #require(run.outcome.completed, "ended \(run.outcome)")
        #expect(try Data(contentsOf: out.appendingPathComponent("image.bin")) == Data(fixture.content))
        let dropped = try #require(run.mirror(bad.url))
        #expect(dropped.state == .dropped)
        #expect(dropped.reason?.hasPrefix("bad data in piece ") == true, "\(dropped)")
        #expect(progress.hashFailures >= 1)
        // Only verified data is credited: everything to the good mirror.
        #expect(progress.suppliedBytes == ["image.bin": [good.url: Int64(fixture.content.count)]])
    }

    @Test(.timeLimit(.minutes(2)))
    func aMirrorAnswering503BacksOffOneTwoFourSecondsThenRecovers() async throws {
        let files = try Served("mirror-503", size: 1 << 20, seed: 33)
        defer { files.cleanup() }
        let fixture = files.fixture
        let server = try files.serve(["--fail-first", "3", "--fail-status", "503"])
        let out = files.out
        let run = try await Self.leech(fixture.torrent, into: out, mirrors: [server.url]) {
            $0.mirrorSettings.requestsPerMirror = 1
        }
        #expect(run.outcome.completed != nil, "ended \(run.outcome)")
        #expect(try Data(contentsOf: out.appendingPathComponent("image.bin")) == Data(fixture.content))
        let requests = server.requests
        #expect(requests.prefix(4).map(\.status) == [503, 503, 503, 206])
        try #require(requests.count >= 4)
        // The waits between attempts: 1 s, 2 s, 4 s (at least; a loaded machine may add to them).
        let gaps = (1..<4).map { requests[$0].time - requests[$0 - 1].time }
        #expect(gaps[0] >= 0.95 && gaps[1] >= 1.95 && gaps[2] >= 3.95, "gaps \(gaps)")
        #expect(
            run.reasons(server.url).map { $0.components(separatedBy: " (").first! } == [
                "1 failure, backing off 1 s", "2 failures, backing off 2 s", "3 failures, backing off 4 s",
            ])
        #expect(run.reasons(server.url).first?.contains("HTTP 503 Service Unavailable") == true)
        let mirror = try #require(run.mirror(server.url))
        #expect(mirror.failures == 0 && mirror.state == .active && mirror.bytes == 1 << 20)
    }

    /// Each fault a mirror can have, the words its failure is reported with, and whether the bytes before the fault
    /// are good data (a short body, a stall) that may complete pieces. (`404` and `410` are not failures: the mirror
    /// lacks the file, `HTTPMirrorTests+Lacking`.)
    static let faults: [([String], String, Bool)] = [
        (["--status", "416"], "HTTP 416 Range Not Satisfiable", false),
        (["--status", "500"], "HTTP 500 Internal Server Error", false),
        (["--short", "1000"], "stream ended at an unexpected time", true),
        (["--long", "1000"], "Content-Length", false),
        (["--stall-after", "100000"], "no data for 1 s", true),
        (["--redirect-loop"], "redirect", false),
        (["--redirects", "6"], "redirect", false),
        (["--ignore-range"], "answered 200 to a Range request", false),
        (["--no-content-range"], "answered 206 without a Content-Range", false),
        (["--wrong-total"], "of a 1048576-byte file", false),
    ]

    @Test(.timeLimit(.minutes(2)), arguments: faults)
    func aFaultyMirrorFailsBoundedlyBacksOffAndIsDroppedAtTheLimit(
        faults: [String], words: String, prefixIsGood: Bool
    ) async throws {
        let files = try Served("mirror-fault", size: 1 << 20, seed: 34)
        defer { files.cleanup() }
        let fixture = files.fixture
        let server = try files.serve(faults)
        let out = files.out
        let run = try await Self.leech(fixture.torrent, into: out, mirrors: [server.url]) {
            $0.mirrorSettings.failureLimit = 3
            $0.mirrorSettings.initialBackoff = .milliseconds(100)
            $0.mirrorSettings.readTimeout = .seconds(1)
            // Requests for parts of the file (a server that ignores Range answers with all of it), one at a time (a
            // stalling server's prefixes add up to less than the file before the mirror is dropped).
            $0.mirrorSettings.bytesPerRequest = 256 << 10
            $0.mirrorSettings.requestsPerMirror = 1
            $0.stallTimeout = .seconds(6)
        }
        let progress = try #require(run.outcome.stalled, "a leech with only a faulty mirror ended \(run.outcome)")
        let mirror = try #require(run.mirror(server.url))
        #expect(mirror.state == .dropped)
        let reason = try #require(mirror.reason)
        #expect(reason.hasPrefix("3 failures in a row (last: "), "\(reason)")
        #expect(reason.localizedCaseInsensitiveContains(words), "\(reason)")
        // What progress showed on the way (sampled, so a short backoff may be missed): backoffs, then the drop.
        #expect(
            run.reasons(server.url).allSatisfy {
                $0 == reason || $0.contains(" failure, backing off 0.1 s") || $0.contains(" failures, backing off 0.2 s")
            }, "\(run.reasons(server.url))")
        #expect(progress.hashFailures == 0 && progress.piecesVerified < progress.pieceCount)
        if !prefixIsGood {
            // Nothing it sent was taken.
            #expect(progress.piecesVerified == 0 && progress.downloaded == 0 && progress.suppliedBytes.isEmpty)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func redirectsWithinTheLimitAreFollowed() async throws {
        let files = try Served("mirror-redirect", size: 1 << 20, seed: 35)
        defer { files.cleanup() }
        let fixture = files.fixture
        let server = try files.serve(["--redirects", "2"])
        let out = files.out
        let run = try await Self.leech(fixture.torrent, into: out, mirrors: [server.url])
        #expect(run.outcome.completed != nil, "ended \(run.outcome)")
        #expect(try Data(contentsOf: out.appendingPathComponent("image.bin")) == Data(fixture.content))
        let requests = server.requests
        #expect(requests.contains { $0.status == 302 && $0.path == "/r/1/image.bin" })
        #expect(requests.contains { $0.status == 206 && $0.path == "/image.bin" })
    }

    @Test(.timeLimit(.minutes(2)))
    func aLeechWithAPeerFinishesWhenItsMirrorDiesHalfway() async throws {
        let size = 6 << 20
        let files = try Served("mirror-dies", size: size, seed: 36)
        defer { files.cleanup() }
        let fixture = files.fixture
        // The mirror sends a quarter of the file, then its process exits.
        let server = try files.serve(["--die-after", "\(size / 4)"])
        let seedHost = SessionHost.loopback()
        let port = try await seedHost.start()
        var seedConfiguration = SessionConfiguration()
        seedConfiguration.useTrackers = false
        seedConfiguration.seedUntilStopped = true
        // A slow peer, so the mirror is the faster source until it dies.
        seedConfiguration.uploadRateLimit = 2 << 20
        let seed = TorrentSession(
            torrent: fixture.torrent, storage: try await fixture.seedStorage(), configuration: seedConfiguration,
            logger: quietLogger, host: seedHost)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { _ = try await seed.run() }
            let out = files.out
            let run = try await Self.leech(
                fixture.torrent, into: out, mirrors: [server.url], peers: [PeerAddress(host: "127.0.0.1", port: port)])
            seed.stop()
            try await group.waitForAll()
            let progress = try #require(run.outcome.completed, "ended \(run.outcome)")
            #expect(try Data(contentsOf: out.appendingPathComponent("image.bin")) == Data(fixture.content))
            #expect(server.process.wait(timeout: 5) == 0, "the mirror did not die")
            let supplied = try #require(progress.suppliedBytes["image.bin"])
            let fromMirror = supplied[server.url] ?? 0
            let fromPeer = supplied["127.0.0.1:\(port)"] ?? 0
            #expect(fromMirror > 0 && fromMirror <= Int64(size / 4) && fromPeer > 0, "\(supplied)")
            #expect(fromMirror + fromPeer == Int64(size))
            let mirror = try #require(run.mirror(server.url))
            // Its death was a failure, reported.
            #expect(run.reasons(server.url).first?.hasPrefix("1 failure, backing off 1 s") == true, "\(mirror)")
        }
        await seedHost.shutdown()
    }

    /// A mirror far slower than another (50 kB/s a request against 1 MB/s) gets one request at a time once their
    /// rates are known, and supplies far less; the file completes.
    @Test(.timeLimit(.minutes(2)))
    func aSlowMirrorGetsOneRequestAtATimeBesideAFastOne() async throws {
        let files = try Served("mirror-slow", size: 6 << 20, seed: 37)
        defer { files.cleanup() }
        let fast = try files.serve(["--rate", "1000000"])
        let slow = try files.serve(["--rate", "50000"])
        let run = try await Self.leech(files.fixture.torrent, into: files.out, mirrors: [fast.url, slow.url]) {
            $0.mirrorSettings.bytesPerRequest = 32 << 10
        }
        let progress = try #require(run.outcome.completed, "ended \(run.outcome)")
        #expect(try Data(contentsOf: files.out.appendingPathComponent("image.bin")) == Data(files.fixture.content))
        let supplied = try #require(progress.suppliedBytes["image.bin"])
        #expect((supplied[slow.url] ?? 0) * 4 < (supplied[fast.url] ?? 0), "\(supplied)")
        // Once its first requests were answered (and a rate tick later), never more than one at a time.
        let requests = slow.requests
        let firstAnswer = try #require(requests.compactMap(\.end).min())
        let later = requests.filter { $0.time > firstAnswer + 0.5 }
        try #require(!later.isEmpty, "no request reached the slow mirror after its first answers: \(requests)")
        for request in later {
            // (A request may reach the server a moment before it logs the end of the one before.)
            let overlapping = requests.filter {
                $0.time <= request.time && request.time < ($0.end ?? .infinity) - 0.05
            }
            #expect(overlapping.count <= 1, "\(overlapping.count) requests in flight at \(request.time)")
        }
    }

    /// A torrent with BEP 47 pad files (made by libtorrent, `canonical_files`: a pad after every file, the last
    /// included): the pad bytes are zeros filled in locally, never asked of the mirror, and runs that end in padding
    /// complete.
    @Test(.timeLimit(.minutes(2)))
    func padFilesAreZerosThatAreNeverFetched() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("mirror-pad")
        defer { TestFiles.cleanup(directory) }
        let bundle = directory.appendingPathComponent("served/bundle")
        try FileManager.default.createDirectory(at: bundle, withIntermediateDirectories: true)
        let files: [String: [UInt8]] = [
            "a.bin": randomBytes(100_001, seed: 4), "b.bin": randomBytes(70_000, seed: 5),
            "c.bin": randomBytes(50_000, seed: 6),
        ]
        for (name, bytes) in files { try Data(bytes).write(to: bundle.appendingPathComponent(name)) }
        let script = """
            import libtorrent as lt, sys
            fs = lt.file_storage()
            lt.add_files(fs, "bundle")
            t = lt.create_torrent(fs, 32768, flags=lt.create_torrent.v1_only | lt.create_torrent.canonical_files)
            lt.set_piece_hashes(t, ".")
            open(sys.argv[1], "wb").write(lt.bencode(t.generate()))
            """
        let made = try TestProcess.run(
            "/usr/bin/python3", ["-c", script, directory.appendingPathComponent("p.torrent").path],
            currentDirectory: directory.appendingPathComponent("served"), timeout: 60)
        try #require(made.exitCode == 0, "python3-libtorrent (scripts/install-deps.sh): \(made.stderr)")
        let torrent = try Torrent(contentsOfFile: directory.appendingPathComponent("p.torrent").path)
        try #require(torrent.files.filter(\.isPadFile).count == 3, "\(torrent.files.map(\.path))")
        let server = try FaultyHTTPServer(root: directory.appendingPathComponent("served"), logDirectory: directory)
        defer { server.stop() }
        let out = directory.appendingPathComponent("out")
        let run = try await Self.leech(torrent, into: out, mirrors: [server.url]) {
            $0.mirrorSettings.bytesPerRequest = 64 << 10
        }
        let progress = try #require(run.outcome.completed, "ended \(run.outcome)")
        for (name, bytes) in files {
            #expect(try Data(contentsOf: out.appendingPathComponent("bundle/" + name)) == Data(bytes), "\(name)")
        }
        #expect(Set(server.requests.map(\.path)) == ["/bundle/a.bin", "/bundle/b.bin", "/bundle/c.bin"])
        #expect(progress.suppliedBytes.keys.sorted() == ["bundle/a.bin", "bundle/b.bin", "bundle/c.bin"])
    }
}
