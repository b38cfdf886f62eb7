import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `swtorrent seed --serve-http`: the appliance as an HTTP mirror (issue 13 item 3), over real sockets on loopback:
/// curl with ranges, HEAD and conditional requests, hostile requests refused in bounded time, and
/// `swtorrent leech --mirror http://…/t/<info-hash>/` completing from the mirror alone.
@Suite(.serialized)
struct MirrorServerTests {
    /// A multi-file torrent (`pkg/a.bin`, `pkg/sub/b b.bin`) seeded with `swtorrent seed --serve-http`, or by the seed
    /// daemon with `http.listen` (and `status.listen`); no tracker, no local discovery, so nothing finds it as a peer.
    final class Appliance {
        let dir: URL
        let httpPort: Int
        let statusPort: Int
        let infoHash: String
        var seed: BackgroundProcess?
        private var starts = 0
        static let sizes = ["a.bin": 1_500_001, "sub/b b.bin": 700_000]
        static var total: Int { sizes.values.reduce(0, +) }
        static let passkey = "mirrorPasskeyAAAAAAAAAAAAAAAAAAA"

        /// - Parameter privateSwarm: the torrent is private and the seed runs with `--key seed.key --allow
        ///   fleet.allow` (listing `seed`, `leech` and the passkey ``passkey``; `intruder.key` exists but is not listed).
        /// - Parameter http: more keys of the daemon's `http` section (`, per-client: {connections: 2}`).
        init(_ label: String, daemon: Bool = false, privateSwarm: Bool = false, http: String = "") throws {
            let dir = try TestFiles.makeTemporaryDirectory(label)
            self.dir = dir
            func path(_ relative: String) -> String { dir.appendingPathComponent(relative).path }
            httpPort = try TestFiles.freePort()
            statusPort = try TestFiles.freePort()
            for sub in ["data/pkg/sub", "watch", "state"] {
                try FileManager.default.createDirectory(atPath: path(sub), withIntermediateDirectories: true)
            }
            var seedValue: UInt64 = 0x11
            for (name, size) in Self.sizes.sorted(by: { $0.key < $1.key }) {
                try TestFiles.writeRandomFile(URL(fileURLWithPath: path("data/pkg/\(name)")), size: size, seed: seedValue)
                seedValue += 1
            }
            var allow = ""
            for node in privateSwarm ? ["seed", "leech", "intruder"] : [] {
                let made = try TestProcess.swtorrent(["keygen", "--out", path("\(node).key"), "--name", node], timeout: 30)
                guard made.exitCode == 0 else { throw HarnessError("keygen: \(made.stderr)") }
                if node != "intruder" { allow += try String(contentsOfFile: path("\(node).key.pub"), encoding: .utf8) }
            }
            allow += "passkey \(Self.passkey) web-seeds\n"
            if privateSwarm { try Data(allow.utf8).write(to: URL(fileURLWithPath: path("fleet.allow"))) }
            let made = try TestProcess.swtorrent(
                ["make", path("data/pkg"), "--no-date", "--piece-length", "64K", "-o", path("pkg.torrent")]
                    + (privateSwarm ? ["--private"] : []), timeout: 60)
            guard made.exitCode == 0 else { throw HarnessError("make: \(made.stderr)") }
            let info = try TestProcess.swtorrent(["info", "--json", path("pkg.torrent")], timeout: 30)
            let object = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any]
            infoHash = try #require(object?["infoHash"] as? String)
            let peerPort = try TestFiles.freePort()
            if daemon {
                try FileManager.default.copyItem(atPath: path("pkg.torrent"), toPath: path("watch/pkg.torrent"))
                let config = """
                    listen: 127.0.0.1:\(peerPort)
                    trackers: {enabled: false}
                    lsd: {enabled: false}
                    data: [data]
                    watch: {directory: watch, interval: 200ms}
                    state: state
                    status: {listen: 127.0.0.1:\(statusPort)}
                    http: {listen: 127.0.0.1:\(httpPort)\(http)}
                    """
                try Data(config.utf8).write(to: dir.appendingPathComponent("seed.yaml"))
                try startDaemon()
            } else {
                seed = try BackgroundProcess(
                    try TestProcess.swtorrentBinary(),
                    ["seed", path("pkg.torrent"), "--data", path("data"), "--port", "\(peerPort)", "--no-tracker",
                     "--serve-http", "127.0.0.1:\(httpPort)", "--status", "127.0.0.1:\(statusPort)"]
                        + (privateSwarm ? ["--key", path("seed.key"), "--allow", path("fleet.allow")] : []),
                    name: "mirror-seed", logDirectory: dir)
            }
            if privateSwarm {
                // Never served over plain HTTP: ready once the status shows the torrent seeding.
                let ready = waitForPort(httpPort) && TestFiles.waitUntil(timeout: 30) {
                    let torrents = (try? self.status())?["torrents"] as? [[String: Any]]
                    return torrents?.first?["state"] as? String == "seeding"
                }
                guard ready else { throw HarnessError("the private seed did not start: \(seed?.stderr ?? "")") }
                return
            }
            // Served once the data checked: until then the file is a 404.
            guard waitForPort(httpPort), TestFiles.waitUntil(timeout: 30, { self.headStatus("a.bin") == 200 }) else {
                throw HarnessError("the seed's HTTP mirror did not serve the torrent: \(seed?.stderr ?? "")")
            }
        }

        /// Starts the seed daemon with `seed.yaml` (again, after `seed?.stop()`).
        func startDaemon() throws {
            starts += 1
            seed = try BackgroundProcess(
                try TestProcess.swtorrentBinary(), ["seed", "--config", path("seed.yaml")],
                name: "mirror-daemon-\(starts)", logDirectory: dir)
        }

        /// `sha256sum` of a served file.
        func sha256(_ file: String) throws -> String {
            let result = try TestProcess.run("sha256sum", [path("data/pkg/\(file)")], timeout: 30)
            return String(result.stdout.prefix(64))
        }

        /// The file's ETag once it is the SHA-256 one (the background hashing is done), waiting at most 30 s.
        func waitForDigestETag(_ file: String) throws -> String? {
            var etag: String?
            _ = try TestFiles.waitUntil(timeout: 30) {
                etag = Self.header("ETag", in: try curl(["-I", url(file)]).stdout)
                return etag?.hasPrefix("\"sha256-") == true
            }
            return etag
        }

        /// The node's `/status` as JSON.
        func status() throws -> [String: Any] {
            let result = try TestProcess.run(
                "curl", ["-sS", "--max-time", "5", "http://127.0.0.1:\(statusPort)/status"], timeout: 10)
            return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        }

        deinit {
            seed?.stop()
            TestFiles.cleanup(dir)
        }

        func path(_ relative: String) -> String { dir.appendingPathComponent(relative).path }
        var base: String { "http://127.0.0.1:\(httpPort)/t/\(infoHash)/" }
        func url(_ file: String) -> String {
            base + "pkg/" + file.replacingOccurrences(of: " ", with: "%20")
        }
        func bytes(_ file: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path("data/pkg/\(file)"))) }

        /// curl, bounded; `-D -` puts the response head on stdout before the body (written to `output`).
        func curl(_ arguments: [String], output: String = "/dev/null") throws -> ProcessResult {
            try TestProcess.run("curl", ["-sS", "--max-time", "20", "-D", "-", "-o", output] + arguments, timeout: 30)
        }

        func headStatus(_ file: String) -> Int? {
            guard let result = try? curl(["-I", url(file)]) else { return nil }
            return Self.status(result.stdout)
        }

        static func status(_ head: String) -> Int? {
            head.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) }
        }

        static func header(_ name: String, in head: String) -> String? {
            head.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
                .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func curlGetsWholeFilesRangesHeadAndConditionalAnswers() throws {
        try TestProcess.requireTool("curl")
        let appliance = try Appliance("mirror-curl")
        let a = try appliance.bytes("a.bin")

        let whole = try appliance.curl([appliance.url("a.bin")], output: appliance.path("a.out"))
        #expect(Appliance.status(whole.stdout) == 200, "\(whole.stdout)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: appliance.path("a.out"))) == a)
        // Strong ETag: the info-hash and file index until the background SHA-256 is known, then the digest.
        let first = try #require(Appliance.header("ETag", in: whole.stdout))
        let sha256 = try appliance.sha256("a.bin")
        #expect(first == "\"\(appliance.infoHash)-0\"" || first == "\"sha256-\(sha256)\"", "\(first)")
        let etag = try #require(try appliance.waitForDigestETag("a.bin"))
        #expect(etag == "\"sha256-\(sha256)\"")
        #expect(Appliance.header("Cache-Control", in: whole.stdout) == "public, max-age=31536000, immutable")
        #expect(Appliance.header("Accept-Ranges", in: whole.stdout) == "bytes")

        // A file in a subdirectory, its name percent-encoded.
        let b = try appliance.curl([appliance.url("sub/b b.bin")], output: appliance.path("b.out"))
        #expect(Appliance.status(b.stdout) == 200, "\(b.stdout)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: appliance.path("b.out"))) == (try appliance.bytes("sub/b b.bin")))

        // Ranges: a-b, a-, -n (crossing piece boundaries), each 206 with its Content-Range.
        let size = a.count
        for (spec, range) in [("70000-200000", 70000...200000), ("1499990-", 1499990...(size - 1)), ("-5", (size - 5)...(size - 1))] {
            let result = try appliance.curl(["-r", spec, appliance.url("a.bin")], output: appliance.path("r.out"))
            #expect(Appliance.status(result.stdout) == 206, "\(spec): \(result.stdout)")
            #expect(Appliance.header("Content-Range", in: result.stdout) == "bytes \(range.lowerBound)-\(range.upperBound)/\(size)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: appliance.path("r.out"))) == a[range])
        }
        // Unsatisfiable: 416 with bytes */size. Several ranges: the whole file (documented).
        let beyond = try appliance.curl(["-r", "\(size)-", appliance.url("a.bin")])
        #expect(Appliance.status(beyond.stdout) == 416)
        #expect(Appliance.header("Content-Range", in: beyond.stdout) == "bytes */\(size)")
        let multi = try appliance.curl(["-r", "0-9,20-29", appliance.url("a.bin")], output: appliance.path("m.out"))
        #expect(Appliance.status(multi.stdout) == 200)
        #expect(try Data(contentsOf: URL(fileURLWithPath: appliance.path("m.out"))) == a)

        // HEAD: the length, no body.
        let head = try appliance.curl(["-I", appliance.url("a.bin")])
        #expect(Appliance.status(head.stdout) == 200)
        #expect(Appliance.header("Content-Length", in: head.stdout) == "\(size)")

        // If-None-Match with the tag: 304; with another: 200. If-Range with the tag: 206; with another: 200 whole.
        let notModified = try appliance.curl(["-H", "If-None-Match: \(etag)", appliance.url("a.bin")])
        #expect(Appliance.status(notModified.stdout) == 304, "\(notModified.stdout)")
        let other = try appliance.curl(["-H", "If-None-Match: \"other\"", appliance.url("a.bin")])
        #expect(Appliance.status(other.stdout) == 200)
        let ifRange = try appliance.curl(["-r", "0-9", "-H", "If-Range: \(etag)", appliance.url("a.bin")])
        #expect(Appliance.status(ifRange.stdout) == 206)
        let staleRange = try appliance.curl(
            ["-r", "0-9", "-H", "If-Range: \"stale\"", appliance.url("a.bin")], output: appliance.path("s.out"))
        #expect(Appliance.status(staleRange.stdout) == 200)
        #expect(try Data(contentsOf: URL(fileURLWithPath: appliance.path("s.out"))) == a)

        // Only GET and HEAD.
        let post = try appliance.curl(["-X", "POST", appliance.url("a.bin")])
        #expect(Appliance.status(post.stdout) == 405)
    }

    @Test(
        .timeLimit(.minutes(2)),
        arguments: [
            "pkg/../pkg/a.bin", "pkg/%2e%2e/pkg/a.bin", "..%2F..%2Fetc%2Fpasswd", "pkg%2Fa.bin", "pkg//a.bin",
            "pkg/sub", "pkg", "../../../../etc/passwd",
        ])
    func pathsOutsideTheTorrentsFileListAreNotFound(path: String) throws {
        try TestProcess.requireTool("curl")
        let appliance = try Appliance("mirror-traversal")
        // The readiness probes before the data checked were refused too: count from here.
        let before = try #require(try appliance.status()["httpMirror"] as? [String: Any])["refusals"] as? [String: Int] ?? [:]
        let result = try appliance.curl(["--path-as-is", appliance.base + path], output: appliance.path("out"))
        let status = try #require(Appliance.status(result.stdout), "\(result)")
        #expect(status == 404 || status == 400, "\(path): \(result.stdout)")
        // An unknown info-hash is the same 404.
        let unknown = try appliance.curl(
            ["http://127.0.0.1:\(appliance.httpPort)/t/\(String(repeating: "ab", count: 20))/pkg/a.bin"])
        #expect(Appliance.status(unknown.stdout) == 404)
        let http = try #require(try appliance.status()["httpMirror"] as? [String: Any])
        let refusals = try #require(http["refusals"] as? [String: Int])
        #expect((refusals["unknown torrent"] ?? 0) - (before["unknown torrent"] ?? 0) == 1, "\(refusals)")
        #expect(refusals.values.reduce(0, +) - before.values.reduce(0, +) == 2, "\(refusals)")
        #expect((http["bytesServed"] as? NSNumber)?.intValue == 0)
    }

    @Test(.timeLimit(.minutes(2)))
    func anOversizedHeadAndADribbledRequestAreCutOffInBoundedTime() throws {
        let appliance = try Appliance("mirror-hostile")
        // A request head far past NIO's limit: an error answer or a closed connection, at once.
        let big = try RawPeer.connect(port: appliance.httpPort)
        defer { close(big) }
        let huge = "GET /t/\(appliance.infoHash)/pkg/a.bin HTTP/1.1\r\nHost: x\r\nX-Filler: "
            + String(repeating: "a", count: 512 * 1024) + "\r\n\r\n"
        try? RawPeer.sendAll(big, Array(huge.utf8))
        let (answer, closed) = readUntilClosed(big, timeout: 10)
        #expect(closed, "the server kept a connection with an oversized head open")
        #expect(!String(decoding: answer, as: UTF8.self).hasPrefix("HTTP/1.1 200"))

        // One byte a second never makes a whole request: closed by the request deadline (10 s), well before the
        // 60 bytes are sent and although the connection is never idle.
        let slow = try RawPeer.connect(port: appliance.httpPort)
        defer { close(slow) }
        let request = Array("GET /t/\(appliance.infoHash)/pkg/a.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        let started = Date()
        var cutOff = false
        for byte in request.prefix(60) {
            if (try? RawPeer.sendAll(slow, [byte])) == nil || readUntilClosed(slow, timeout: 1).closed {
                cutOff = true
                break
            }
        }
        #expect(cutOff, "a request dribbled over 60 s was still being read")
        #expect(Date().timeIntervalSince(started) < 30)
    }

    /// `/sha256/<hex>`: each file by its content's digest once the daemon hashed it, with ranges; the digest is
    /// kept in the state directory under the file's identity (what the next start reads instead of hashing).
    @Test(.timeLimit(.minutes(3)))
    func filesAreServedByTheirSHA256AndTheDigestIsKeptInTheStateDirectory() throws {
        try TestProcess.requireTool("curl")
        let appliance = try Appliance("mirror-sha256", daemon: true)
        for name in Appliance.sizes.keys.sorted() {
            let digest = try appliance.sha256(name)
            #expect((try appliance.waitForDigestETag(name)) == "\"sha256-\(digest)\"")
            let result = try appliance.curl(
                ["http://127.0.0.1:\(appliance.httpPort)/sha256/\(digest.uppercased())"], output: appliance.path("d.out"))
            #expect(Appliance.status(result.stdout) == 200, "\(name): \(result.stdout)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: appliance.path("d.out"))) == (try appliance.bytes(name)))
            #expect(Appliance.header("ETag", in: result.stdout) == "\"sha256-\(digest)\"")
            let range = try appliance.curl(
                ["-r", "100-199", "http://127.0.0.1:\(appliance.httpPort)/sha256/\(digest)"], output: appliance.path("d.out"))
            #expect(Appliance.status(range.stdout) == 206)
            #expect(try Data(contentsOf: URL(fileURLWithPath: appliance.path("d.out"))) == (try appliance.bytes(name))[100...199])
            // Kept as STATE/sha256/<device>-<inode>-<size>-<mtime>, holding the digest.
            let cached = try FileManager.default.contentsOfDirectory(atPath: appliance.path("state/sha256")).filter {
                (try? String(contentsOfFile: appliance.path("state/sha256/\($0)"), encoding: .utf8))?.hasPrefix(digest) == true
            }
            #expect(cached.count == 1, "\(name)")
        }
        let unknown = try appliance.curl(["http://127.0.0.1:\(appliance.httpPort)/sha256/\(String(repeating: "0", count: 64))"])
        #expect(Appliance.status(unknown.stdout) == 404)
        let malformed = try appliance.curl(["http://127.0.0.1:\(appliance.httpPort)/sha256/abc"])
        #expect(Appliance.status(malformed.stdout) == 400)
    }

    /// `STATE/sha256` keeps only the digests of the files served: a file replaced while the daemon was stopped (same
    /// bytes, another inode) loses its old digest at the next start once the torrents settled, as does a dead
    /// writer's temporary file, while a file that is not the cache's stays; a reload that moves the data drops the
    /// old copies' digests; removing the torrent from the watch directory deletes its files' digests.
    @Test(.timeLimit(.minutes(3)))
    func theDigestCacheKeepsOnlyTheDigestsOfFilesServed() throws {
        try TestProcess.requireTool("curl")
        let appliance = try Appliance("mirror-digest-prune", daemon: true)
        let directory = appliance.path("state/sha256")
        let cached = { Set((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []) }
        let aSize = "-\(Appliance.sizes["a.bin"]!)-"
        let bSize = "-\(Appliance.sizes["sub/b b.bin"]!)-"
        for name in Appliance.sizes.keys { _ = try appliance.waitForDigestETag(name) }
        #expect(TestFiles.waitUntil(timeout: 10) { cached().count == 2 })
        let oldA = try #require(cached().first { $0.contains(aSize) })
        let b = try #require(cached().first { $0.contains(bSize) })

        appliance.seed?.stop()
        let a = appliance.path("data/pkg/a.bin")
        try FileManager.default.copyItem(atPath: a, toPath: a + ".new")
        #expect(rename(a + ".new", a) == 0)
        try Data("x".utf8).write(to: URL(fileURLWithPath: "\(directory)/\(oldA).tmp-999999999"))
        try Data("not the cache's\n".utf8).write(to: URL(fileURLWithPath: "\(directory)/README"))
        try appliance.startDaemon()
        #expect(try appliance.waitForDigestETag("a.bin") == "\"sha256-\(try appliance.sha256("a.bin"))\"")
        let settled = TestFiles.waitUntil(timeout: 30) {
            let now = cached()
            return now.count == 3 && now.contains(b) && now.contains("README") && !now.contains(oldA)
                && now.contains { $0.contains(aSize) }
        }
        #expect(settled, "\(cached()), stale: \(oldA); \(appliance.seed?.stderr ?? "")")

        // A reload that moves the data (`data: [data2]`, copies with other inodes) restarts the torrent: once it
        // serves the copies, the digests of the files it no longer serves go.
        let before = cached()
        try FileManager.default.copyItem(atPath: appliance.path("data"), toPath: appliance.path("data2"))
        let config = try String(contentsOfFile: appliance.path("seed.yaml"), encoding: .utf8)
        try Data(config.replacingOccurrences(of: "data: [data]", with: "data: [data2]").utf8)
            .write(to: URL(fileURLWithPath: appliance.path("seed.yaml")))
        let moved = TestFiles.waitUntil(timeout: 60) {
            // Asking for the files makes the daemon hash the copies if it has not yet.
            for name in Appliance.sizes.keys { _ = try? appliance.curl(["-I", appliance.url(name)]) }
            let now = cached()
            return now.count == 3 && now.contains("README") && now.isDisjoint(with: before.subtracting(["README"]))
        }
        #expect(moved, "before: \(before), after the reload: \(cached()); \(appliance.seed?.stderr ?? "")")

        try FileManager.default.removeItem(atPath: appliance.path("watch/pkg.torrent"))
        #expect(TestFiles.waitUntil(timeout: 30) { cached() == ["README"] }, "\(cached())")
        #expect(Appliance.status(try appliance.curl(["-I", appliance.url("a.bin")]).stdout) == 404)
    }

    /// The daemon's `http.per-client.connections` reaches its mirror: with 2, a third connection from 127.0.0.1 is
    /// closed before it is answered and `/status` counts it as `client connection limit`, while curl from 127.0.0.2
    /// is served. (The two held connections send nothing: the checks run well within their 10 s request deadline, and
    /// had the deadline closed them the third would be served and the test fail, not pass.)
    @Test(.timeLimit(.minutes(2)))
    func theDaemonsPerClientLimitComesFromItsConfig() throws {
        try TestProcess.requireTool("curl")
        let appliance = try Appliance("mirror-per-client-daemon", daemon: true, http: ", per-client: {connections: 2}")
        // The readiness probes' connections are gone before the two are opened.
        let open = { (try? appliance.status())?["httpMirror"].flatMap { $0 as? [String: Any] }?["connections"] as? Int }
        #expect(TestFiles.waitUntil(timeout: 10) { open() == 0 })
        let held = try (0..<2).map { _ in try RawPeer.connect(port: appliance.httpPort) }
        defer { held.forEach { close($0) } }
        // Both admitted before the third connects (connections are admitted on the event loop each lands on, in
        // any order).
        #expect(TestFiles.waitUntil(timeout: 10) { open() == 2 })
        let third = try RawPeer.connect(port: appliance.httpPort)
        defer { close(third) }
        let request = "GET /t/\(appliance.infoHash)/pkg/a.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        try? RawPeer.sendAll(third, Array(request.utf8))
        let (answer, closed) = readUntilClosed(third, timeout: 5)
        #expect(closed && answer.isEmpty, "the third connection got \(answer.count) bytes")
        let other = try TestProcess.run(
            "curl", ["-sS", "--max-time", "20", "--interface", "127.0.0.2", "-o", appliance.path("other.out"),
                     "-w", "%{http_code}", appliance.url("a.bin")], timeout: 30)
        #expect(other.stdout == "200", "\(other.stdout) \(other.stderr)")
        let served = try Data(contentsOf: URL(fileURLWithPath: appliance.path("other.out")))
        #expect(served == (try appliance.bytes("a.bin")))
        let http = try #require(try appliance.status()["httpMirror"] as? [String: Any])
        let refusals = try #require(http["refusals"] as? [String: Int])
        #expect(refusals["client connection limit"] == 1, "\(refusals)")
    }

    /// A private torrent: never to plain HTTP (not even to a listed node), never to a node whose key is not
    /// listed; a listed node's leech presents its node certificate over HTTPS and completes from the mirror alone.
    @Test(.timeLimit(.minutes(3)))
    func privateTorrentsAreServedOnlyOverHTTPSToAllowlistedNodeKeys() throws {
        try TestProcess.requireTool("curl")
        let appliance = try Appliance("mirror-private", privateSwarm: true)
        let https = "https://127.0.0.1:\(appliance.httpPort)/t/\(appliance.infoHash)/"
        func leech(_ node: String, mirror: String, allow: String, out: String, stall: String) throws -> ProcessResult {
            try TestProcess.swtorrent(
                ["leech", appliance.path("pkg.torrent"), "--out", appliance.path(out), "--no-tracker",
                 "--allow-unsigned", "--json", "--stall-timeout", stall, "--mirror", mirror,
                 "--key", appliance.path("\(node).key"), "--allow", appliance.path(allow)],
                timeout: 120)
        }
        let plainCurl = try appliance.curl([appliance.url("a.bin")])
        #expect(Appliance.status(plainCurl.stdout) == 404, "\(plainCurl.stdout)")

        let listed = try leech("leech", mirror: https, allow: "fleet.allow", out: "listed", stall: "60s")
        #expect(listed.exitCode == 0, "\(listed.stderr)")
        for name in Appliance.sizes.keys {
            let copy = try Data(contentsOf: URL(fileURLWithPath: appliance.path("listed/pkg/\(name)")))
            #expect(copy == (try appliance.bytes(name)), "\(name)")
        }

        // Listed, but over plain HTTP: the same 404 as for an unknown torrent.
        let plain = try leech("leech", mirror: appliance.base, allow: "fleet.allow", out: "plain", stall: "5s")
        #expect(plain.exitCode != 0)
        #expect(!FileManager.default.fileExists(atPath: appliance.path("plain/pkg/a.bin")))
        // Not listed: the TLS handshake is refused; nothing arrives.
        try Data(
            (try String(contentsOfFile: appliance.path("seed.key.pub"), encoding: .utf8)
                + String(contentsOfFile: appliance.path("intruder.key.pub"), encoding: .utf8)).utf8
        ).write(to: URL(fileURLWithPath: appliance.path("intruder.allow")))
        let intruder = try leech("intruder", mirror: https, allow: "intruder.allow", out: "intruder", stall: "5s")
        #expect(intruder.exitCode != 0)
        // The appliance refusing the key is not taken for a third-party server (which would switch the mirror to
        // verifying the appliance's self-signed certificate and report that instead).
        let refusedLine = try #require(intruder.stdout.split(separator: "\n").last { $0.contains("\"stalled\"") })
        #expect(refusedLine.contains("\"reason\""), "\(refusedLine)")
        #expect(!refusedLine.contains("verify the server's certificate"), "\(refusedLine)")
        #expect(!refusedLine.contains("certificate not trusted"), "\(refusedLine)")
        #expect(refusedLine.contains("the server refused this node's client certificate"), "\(refusedLine)")
        #expect(!FileManager.default.fileExists(atPath: appliance.path("intruder/pkg/a.bin")))

        let http = try #require(try appliance.status()["httpMirror"] as? [String: Any])
        let refusals = try #require(http["refusals"] as? [String: Int])
        #expect((refusals["private torrent"] ?? 0) >= 2, "\(refusals)")
        #expect((http["bytesServed"] as? NSNumber)?.intValue == Appliance.total, "\(http)")

        // A listed passkey in the path (/p/<passkey>/…, a URL a third-party web seed can hold) gets the files over
        // plain HTTP; another passkey gets the 404.
        let port = appliance.httpPort
        let withPasskey = "http://127.0.0.1:\(port)/p/\(Appliance.passkey)/t/\(appliance.infoHash)/"
        let byPasskey = try appliance.curl([withPasskey + "pkg/a.bin"], output: appliance.path("p.out"))
        #expect(Appliance.status(byPasskey.stdout) == 200, "\(byPasskey.stdout)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: appliance.path("p.out"))) == (try appliance.bytes("a.bin")))
        let wrong = try appliance.curl(
            ["http://127.0.0.1:\(port)/p/otherPasskeyAAAAAAAAAAAAAAAAAAAA/t/\(appliance.infoHash)/pkg/a.bin"])
        #expect(Appliance.status(wrong.stdout) == 404)
        let passkeyLeech = try TestProcess.swtorrent(
            ["leech", appliance.path("pkg.torrent"), "--out", appliance.path("passkey"), "--no-tracker",
             "--allow-unsigned", "--stall-timeout", "60s", "--mirror", withPasskey],
            timeout: 120)
        #expect(passkeyLeech.exitCode == 0, "\(passkeyLeech.stderr)")
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: appliance.path("passkey/pkg/sub/b b.bin")))
                == (try appliance.bytes("sub/b b.bin")))

        // The leech's key and the passkey leave the allowlist: the seed re-reads it (it watches the file), and
        // neither gets anything more.
        try Data(try String(contentsOfFile: appliance.path("seed.key.pub"), encoding: .utf8).utf8)
            .write(to: URL(fileURLWithPath: appliance.path("fleet.allow")))
        #expect(
            try TestFiles.waitUntil(timeout: 10) {
                Appliance.status(try appliance.curl([withPasskey + "pkg/a.bin"]).stdout) == 404
            }, "the revoked passkey is still served")
        let revoked = try leech("leech", mirror: https, allow: "intruder.allow", out: "revoked", stall: "5s")
        #expect(revoked.exitCode != 0)
        #expect(!FileManager.default.fileExists(atPath: appliance.path("revoked/pkg/a.bin")))
    }

    @Test(.timeLimit(.minutes(3)))
    func leechCompletesFromTheApplianceMirrorAlone() throws {
        let appliance = try Appliance("mirror-leech")
        let result = try TestProcess.swtorrent(
            ["leech", appliance.path("pkg.torrent"), "--out", appliance.path("out"), "--no-tracker", "--allow-unsigned",
             "--json", "--stall-timeout", "60s", "--mirror", appliance.base],
            timeout: 120)
        #expect(result.exitCode == 0, "\(result.stderr)")
        for name in Appliance.sizes.keys {
            let copy = try Data(contentsOf: URL(fileURLWithPath: appliance.path("out/pkg/\(name)")))
            #expect(copy == (try appliance.bytes(name)), "\(name)")
        }
        let complete = try #require(
            result.stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }.first { $0["event"] as? String == "complete" })
        #expect(complete["peers"] as? Int == 0)
        let mirrors = try #require(complete["mirrors"] as? [[String: Any]])
        #expect(mirrors.first?["url"] as? String == appliance.base)
        #expect((mirrors.first?["bytes"] as? NSNumber)?.intValue == Appliance.total)
        // The seed's status counts what its HTTP mirror sent (the readiness probes' HEADs send no body).
        let http = try #require(try appliance.status()["httpMirror"] as? [String: Any])
        #expect((http["bytesServed"] as? NSNumber)?.int64Value == Int64(Appliance.total), "\(http)")
        #expect(http["address"] as? String == "127.0.0.1:\(appliance.httpPort)")
    }
}

/// Reads until the peer closes or `timeout` seconds pass; returns what came and whether it closed.
func readUntilClosed(_ fd: Int32, timeout: TimeInterval) -> (bytes: [UInt8], closed: Bool) {
    var bytes: [UInt8] = []
    let deadline = Date().addingTimeInterval(timeout)
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let left = deadline.timeIntervalSinceNow
        guard left > 0 else { return (bytes, false) }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, Int32(left * 1000))
        guard ready > 0 else { return (bytes, false) }
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 { return (bytes, true) }
        bytes += buffer[0..<count]
    }
}
