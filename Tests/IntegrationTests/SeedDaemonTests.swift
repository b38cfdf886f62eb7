import Foundation
import Metainfo
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `swtorrent seed --config FILE`, the seed daemon, as an operator runs it: real config file, watch directory,
/// data and state directories, our tracker on loopback, and `swtorrent leech` fetching from it. Local discovery is
/// off: the config has no `lsd` section (so it would be on), and the harness adds `--no-lsd` to every `seed`
/// (`TestProcess.withoutLocalDiscovery`), which overrides the file. `LocalDiscoveryLabTests+Daemon.swift` runs the
/// daemon with discovery on, in network namespaces.
@Suite(.serialized)
struct SeedDaemonTests {
    static let passkey = "daemonPasskeyAAAAAAAAAAAAAAAAAAA"

    final class Lab {
        let dir: URL
        let port: Int
        let trackerPort: Int
        let metricsPort: Int
        var tracker: BackgroundProcess?
        var daemon: BackgroundProcess?

        init() throws {
            dir = try TestFiles.makeTemporaryDirectory("swt-daemon")
            port = try TestFiles.freePort()
            trackerPort = try TestFiles.freePort()
            metricsPort = try TestFiles.freePort()
            for sub in ["watch", "data", "data2", "made", "state"] {
                try FileManager.default.createDirectory(atPath: path(sub), withIntermediateDirectories: true)
            }
        }

        deinit {
            daemon?.stop()
            tracker?.stop()
            TestFiles.cleanup(dir)
        }

        func path(_ relative: String) -> String { dir.appendingPathComponent(relative).path }

        /// The config file; `extra` is appended (YAML).
        func writeConfig(
            trackers: Bool = true, extra: String = "", data: [String] = ["data"], logFormat: String = "text"
        ) throws {
            let text = """
                # written by SeedDaemonTests
                listen: 127.0.0.1:\(port)
                trackers:
                  enabled: \(trackers)
                data: [\(data.joined(separator: ", "))]
                watch:
                  directory: watch
                  interval: 200ms
                  parse-timeout: 30s
                state: state
                shutdown-timeout: 8s
                log:
                  level: info
                  format: \(logFormat)
                \(extra)
                """
            try Data(text.utf8).write(to: URL(fileURLWithPath: path("seed.yaml")))
        }

        func startTracker() throws {
            try Data("passkey \(SeedDaemonTests.passkey) daemon-tests\n".utf8).write(
                to: URL(fileURLWithPath: path("allowlist")))
            let process = try BackgroundProcess(
                try TestProcess.swtorrentBinary(),
                [
                    "tracker", "--listen", "127.0.0.1:\(trackerPort)", "--allow", path("allowlist"),
                    "--metrics", "127.0.0.1:\(metricsPort)", "--interval", "60",
                ],
                name: "swtorrent-tracker", logDirectory: dir)
            tracker = process
            guard TestFiles.waitUntil(timeout: 10, { canConnect(metricsPort) }) else {
                throw HarnessError("tracker did not start: \(process.stderr)")
            }
        }

        /// Random content `data/NAME` (or under `directory`) and its torrent in `made/NAME.torrent`.
        @discardableResult
        func makeTorrent(_ name: String, size: Int, directory: String = "data") throws -> String {
            let content = path("\(directory)/\(name)")
            try TestFiles.writeRandomFile(URL(fileURLWithPath: content), size: size, seed: UInt64(size) ^ 0xdae)
            let torrent = path("made/\(name).torrent")
            let made = try TestProcess.swtorrent(
                [
                    "make", content, "--announce", "http://127.0.0.1:\(trackerPort)/\(SeedDaemonTests.passkey)/announce",
                    "--private", "--piece-length", "64K", "--output", torrent,
                ], timeout: 60)
            guard made.exitCode == 0 else { throw HarnessError("make failed: \(made.stderr)") }
            return torrent
        }

        /// Puts a made torrent into the watch directory in one rename (as config management does).
        func publish(_ name: String) throws {
            let staged = path("watch/.\(name).torrent.tmp")
            try FileManager.default.copyItem(atPath: path("made/\(name).torrent"), toPath: staged)
            guard rename(staged, path("watch/\(name).torrent")) == 0 else { throw HarnessError("rename failed") }
        }

        @discardableResult
        func startDaemon() throws -> BackgroundProcess {
            let process = try BackgroundProcess(
                try TestProcess.swtorrentBinary(), ["seed", "--config", path("seed.yaml")], name: "swtorrent-seed",
                logDirectory: dir)
            daemon = process
            guard TestFiles.waitUntil(timeout: 15, { process.stderr.contains("seed daemon listening") || !process.isRunning })
            else { throw HarnessError("daemon did not start: \(process.stderr)") }
            guard process.isRunning else { throw HarnessError("daemon exited: \(process.stderr)") }
            return process
        }

        /// Waits until `process`'s log has `count` lines with all of `fragments`.
        func waitForLog(
            _ process: BackgroundProcess, _ fragments: [String], count: Int = 1, timeout: TimeInterval = 15
        ) -> Bool {
            TestFiles.waitUntil(timeout: timeout) {
                process.stderr.split(separator: "\n").filter { line in fragments.allSatisfy { line.contains($0) } }
                    .count >= count
            }
        }

        /// `GET path` from an HTTP endpoint on loopback (curl, bounded).
        func get(_ port: Int, _ path: String) throws -> String {
            try TestProcess.run("curl", ["-s", "--max-time", "5", "http://127.0.0.1:\(port)\(path)"], timeout: 10).stdout
        }

        /// The daemon's `/status` object ([:] while it does not answer).
        func status(_ port: Int) -> [String: Any] {
            guard let text = try? get(port, "/status"),
                let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            else { return [:] }
            return object
        }

        /// One sample from the tracker's /metrics.
        func metric(_ sample: String) throws -> Double? {
            for line in try get(metricsPort, "/metrics").split(separator: "\n") where line.hasPrefix(sample + " ") {
                return Double(line.dropFirst(sample.count + 1))
            }
            return nil
        }

        func waitForTrackerPeers(_ expected: Double, timeout: TimeInterval = 10) throws -> Bool {
            try TestFiles.waitUntil(timeout: timeout) { try metric("tracker_peers") == expected }
        }

        /// `swtorrent leech` from the daemon only (its port as the one peer, no tracker).
        func leech(_ name: String, out: String, stall: String = "20s", extra: [String] = []) throws -> ProcessResult {
            try TestProcess.swtorrent(
                [
                    "leech", path("made/\(name).torrent"), "--out", path(out), "--no-tracker", "--allow-unsigned",
                    "--peer", "127.0.0.1:\(port)", "--stall-timeout", stall,
                ] + extra, timeout: 60)
        }

        func sameBytes(_ a: String, _ b: String) -> Bool {
            FileManager.default.contentsEqual(atPath: path(a), andPath: path(b))
        }

        /// Bytes the process passed through read(2)/pread(2) so far (`rchar` in /proc/PID/io: page-cache hits count
        /// too, so a re-read of cached data is not missed).
        func bytesRead(_ process: BackgroundProcess) throws -> Int {
            let text = try String(contentsOfFile: "/proc/\(process.pid)/io", encoding: .utf8)
            let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("rchar:") })
            return try #require(Int(line.dropFirst("rchar:".count).trimmingCharacters(in: .whitespaces)))
        }

        /// The watch directory's names, sizes and mtimes (to show the daemon never changes it).
        func watchListing() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: path("watch")).sorted().map { name in
                let attributes = try FileManager.default.attributesOfItem(atPath: path("watch/\(name)"))
                return "\(name) \(attributes[.size] ?? 0) \(attributes[.modificationDate] ?? 0)"
            }
        }
    }

    @Test func addedTorrentIsSeededWithinSecondsAndRemovedOneStopsBeingAnnounced() throws {
        let lab = try Lab()
        try lab.startTracker()
        try lab.makeTorrent("alpha.bin", size: 3 << 20)
        let betaTorrent = try lab.makeTorrent("beta.bin", size: 1 << 20)
        try lab.writeConfig()
        let daemon = try lab.startDaemon()

        let added = Date()
        try lab.publish("alpha.bin")
        #expect(lab.waitForLog(daemon, ["seeding", "torrent=alpha.bin.torrent"], timeout: 10), "\(daemon.stderr)")
        #expect(try lab.waitForTrackerPeers(1), "the tracker never heard of the seed")
        #expect(Date().timeIntervalSince(added) < 10)
        let fetched = try lab.leech("alpha.bin", out: "out1")
        #expect(fetched.exitCode == 0, "\(fetched.stderr)")
        #expect(lab.sameBytes("data/alpha.bin", "out1/alpha.bin"))

        // A half-written .torrent: retried until it parses, then seeded.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: betaTorrent))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: lab.path("watch/beta.bin.torrent")))
        #expect(lab.waitForLog(daemon, ["does not parse yet", "torrent=beta.bin.torrent"]), "\(daemon.stderr)")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: lab.path("watch/beta.bin.torrent")))
        try handle.seekToEnd()
        try handle.write(contentsOf: bytes.suffix(from: bytes.count / 2))
        try handle.close()
        #expect(lab.waitForLog(daemon, ["seeding", "torrent=beta.bin.torrent"]), "\(daemon.stderr)")
        #expect(try lab.waitForTrackerPeers(2))
        let listing = try lab.watchListing()

        // Removed: `stopped` reaches the tracker at once (not after its peer expiry), and the daemon no longer
        // serves it.
        try FileManager.default.removeItem(atPath: lab.path("watch/alpha.bin.torrent"))
        #expect(lab.waitForLog(daemon, ["torrent file removed", "torrent=alpha.bin.torrent"]), "\(daemon.stderr)")
        #expect(try lab.waitForTrackerPeers(1), "alpha's stopped announce did not reach the tracker")
        let refused = try lab.leech("alpha.bin", out: "out2", stall: "3s")
        #expect(refused.exitCode == 3, "a removed torrent was still served: \(refused.stderr)")
        let stillServed = try lab.leech("beta.bin", out: "out3")
        #expect(stillServed.exitCode == 0, "\(stillServed.stderr)")
        #expect(lab.sameBytes("data/beta.bin", "out3/beta.bin"))

        #expect(try lab.watchListing() == listing.filter { !$0.hasPrefix("alpha") }, "the daemon changed the watch directory")
        daemon.stop(grace: 15)
        #expect(daemon.process.terminationStatus == 0, "\(daemon.stderr)")
    }

    /// `node.key` and `node.allow` in the config file: the daemon's private torrents talk TLS to listed keys only
    /// (Docs/peer-tls.md). A plain leech gets nothing; a leech with a listed key completes.
    @Test func nodeAllowMakesThePrivateTorrentsTLSOnly() throws {
        let lab = try Lab()
        var allow = ""
        for node in ["seed", "leech"] {
            let made = try TestProcess.swtorrent(["keygen", "--out", lab.path("\(node).key"), "--name", node], timeout: 30)
            #expect(made.exitCode == 0, "\(made.stderr)")
            allow += try String(contentsOfFile: lab.path("\(node).key.pub"), encoding: .utf8)
        }
        try Data(allow.utf8).write(to: URL(fileURLWithPath: lab.path("fleet.allow")))
        try lab.makeTorrent("private.bin", size: 1 << 20)
        try lab.writeConfig(trackers: false, extra: "node:\n  key: seed.key\n  allow: fleet.allow")
        let daemon = try lab.startDaemon()
        try lab.publish("private.bin")
        #expect(lab.waitForLog(daemon, ["seeding", "torrent=private.bin.torrent"], timeout: 10), "\(daemon.stderr)")

        let plain = try lab.leech("private.bin", out: "plain", stall: "5s")
        #expect(plain.exitCode == 3, "a plain leech stalls: \(plain.stderr)")
        #expect(!FileManager.default.fileExists(atPath: lab.path("plain/private.bin")))
        let listed = try lab.leech(
            "private.bin", out: "listed", extra: ["--key", lab.path("leech.key"), "--allow", lab.path("fleet.allow")])
        #expect(listed.exitCode == 0, "\(listed.stderr)")
        #expect(lab.sameBytes("data/private.bin", "listed/private.bin"))
    }

    @Test func restartWithUnchangedDataDoesNotReadItAndTruncatedDataIsNotServed() throws {
        let lab = try Lab()
        let size = 24 << 20
        try lab.makeTorrent("gamma.bin", size: size)
        try lab.writeConfig(trackers: false)
        try lab.publish("gamma.bin")

        let first = try lab.startDaemon()
        #expect(lab.waitForLog(first, ["seeding", "torrent=gamma.bin.torrent", "check=hashed"]), "\(first.stderr)")
        let firstRead = try lab.bytesRead(first)
        #expect(firstRead >= size, "the first start read \(firstRead) bytes of \(size)")
        first.stop(grace: 15)
        #expect(first.process.terminationStatus == 0)

        let second = try lab.startDaemon()
        #expect(
            lab.waitForLog(second, ["seeding", "torrent=gamma.bin.torrent", "resume data (no data read)"]),
            "\(second.stderr)")
        let secondRead = try lab.bytesRead(second)
        #expect(secondRead < size / 8, "a restart with unchanged data read \(secondRead) bytes (the data is \(size))")
        let fetched = try lab.leech("gamma.bin", out: "out1")
        #expect(fetched.exitCode == 0, "\(fetched.stderr)")
        #expect(lab.sameBytes("data/gamma.bin", "out1/gamma.bin"))
        second.stop(grace: 15)

        // Truncated while the daemon is down: rechecked, reported, not served.
        #expect(truncate(lab.path("data/gamma.bin"), off_t(size / 2)) == 0)
        let third = try lab.startDaemon()
        #expect(
            lab.waitForLog(third, ["torrent not served", "torrent=gamma.bin.torrent", "pieces verified"]),
            "\(third.stderr)")
        #expect(third.stderr.contains("changed since the last run"), "\(third.stderr)")
        let refused = try lab.leech("gamma.bin", out: "out2", stall: "3s")
        #expect(refused.exitCode == 3, "truncated data was served: \(refused.stderr)")
        third.stop(grace: 15)
    }

    @Test func sigtermDuringATransferAnnouncesStoppedAndLeavesResumableState() throws {
        let lab = try Lab()
        try lab.startTracker()
        let size = 32 << 20
        try lab.makeTorrent("delta.bin", size: size)
        try lab.writeConfig(extra: "limits:\n  per-torrent:\n    upload-rate: 4MiB\n")
        try lab.publish("delta.bin")
        let daemon = try lab.startDaemon()
        #expect(lab.waitForLog(daemon, ["seeding", "torrent=delta.bin.torrent"]), "\(daemon.stderr)")
        #expect(try lab.waitForTrackerPeers(1))

        let leech = try BackgroundProcess(
            try TestProcess.swtorrentBinary(),
            [
                "leech", lab.path("made/delta.bin.torrent"), "--out", lab.path("out"), "--no-tracker",
                "--allow-unsigned", "--peer", "127.0.0.1:\(lab.port)", "--stall-timeout", "40s", "--json",
            ], name: "leech", logDirectory: lab.dir)
        defer { leech.stop() }
        #expect(TestFiles.waitUntil(timeout: 20) { leech.stdout.contains("\"verifiedBytes\"") && !leech.stdout.contains("\"verifiedBytes\":0,") })

        let asked = Date()
        kill(daemon.pid, SIGTERM)
        let code = daemon.wait(timeout: 12)
        #expect(code == 0, "\(daemon.stderr)")
        #expect(Date().timeIntervalSince(asked) < 10, "shutdown took \(Date().timeIntervalSince(asked)) s")
        #expect(try lab.waitForTrackerPeers(0, timeout: 2), "the stopped announce did not reach the tracker")
        #expect(leech.isRunning, "the leech finished before the SIGTERM; nothing was tested")

        let resumeFiles = try FileManager.default.contentsOfDirectory(atPath: lab.path("state/resume"))
        #expect(resumeFiles.count == 1 && resumeFiles[0].hasSuffix(".resume"), "\(resumeFiles)")

        let restarted = try lab.startDaemon()
        #expect(
            lab.waitForLog(restarted, ["seeding", "torrent=delta.bin.torrent", "resume data (no data read)"]),
            "\(restarted.stderr)")
        #expect(try lab.bytesRead(restarted) < size / 8)
        #expect(leech.wait(timeout: 45) == 0, "the leech did not finish from the restarted daemon: \(leech.stderr)")
        #expect(lab.sameBytes("data/delta.bin", "out/delta.bin"))
    }

    @Test func reloadKeepsTheRunningConfigOnABadFileAndAppliesAGoodOne() throws {
        let lab = try Lab()
        try lab.makeTorrent("eps.bin", size: 1 << 20)
        try lab.makeTorrent("zeta.bin", size: 1 << 20, directory: "data2")
        try lab.writeConfig(trackers: false)
        try lab.publish("eps.bin")
        try lab.publish("zeta.bin")
        let daemon = try lab.startDaemon()
        #expect(lab.waitForLog(daemon, ["seeding", "torrent=eps.bin.torrent"]), "\(daemon.stderr)")
        #expect(lab.waitForLog(daemon, ["no data directory holds", "torrent=zeta.bin.torrent"]), "\(daemon.stderr)")

        // An edit with a typo: logged with the key and the fix; still serving.
        try lab.writeConfig(trackers: false, extra: "limts:\n  connections: 10\n")
        #expect(
            lab.waitForLog(daemon, ["config reload failed", "file changed", "limts is not a known key", "did you mean limits?"]),
            "\(daemon.stderr)")
        kill(daemon.pid, SIGHUP)
        #expect(lab.waitForLog(daemon, ["config reload failed", "SIGHUP", "limts"]), "\(daemon.stderr)")
        let served = try lab.leech("eps.bin", out: "out1")
        #expect(served.exitCode == 0, "\(served.stderr)")

        // A good edit that adds a data directory: zeta is found and seeded, eps keeps running on its resume data.
        try lab.writeConfig(trackers: false, data: ["data", "data2"])
        #expect(lab.waitForLog(daemon, ["config reloaded"]), "\(daemon.stderr)")
        #expect(lab.waitForLog(daemon, ["seeding", "torrent=zeta.bin.torrent"]), "\(daemon.stderr)")
        #expect(lab.waitForLog(daemon, ["seeding", "torrent=eps.bin.torrent", "resume data"]), "\(daemon.stderr)")
        let fetched = try lab.leech("zeta.bin", out: "out2")
        #expect(fetched.exitCode == 0, "\(fetched.stderr)")
        #expect(lab.sameBytes("data2/zeta.bin", "out2/zeta.bin"))
        daemon.stop(grace: 15)
        #expect(daemon.process.terminationStatus == 0)
    }

    @Test func configErrorAtStartExitsTwoNamingTheKey() throws {
        let lab = try Lab()
        try Data("data: [data]\nwatch: {directory: watch, intervall: 1s}\nstate: state\n".utf8).write(
            to: URL(fileURLWithPath: lab.path("seed.yaml")))
        let result = try TestProcess.swtorrent(["seed", "--config", lab.path("seed.yaml")], timeout: 20)
        #expect(result.exitCode == 2)
        #expect(result.stderr.contains("seed.yaml:2: watch.intervall is not a known key; did you mean watch.interval?"), "\(result.stderr)")
        let mixed = try TestProcess.swtorrent(["seed", "--config", lab.path("seed.yaml"), "--port", "7000"], timeout: 20)
        #expect(mixed.exitCode == 2)
        #expect(mixed.stderr.contains("--config runs the daemon from the config file alone"), "\(mixed.stderr)")
    }

    @Test func configuredStatusAddressServesTheWatchDirectoryAndLogLinesAreJSON() throws {
        let lab = try Lab()
        let statusPort = try TestFiles.freePort()
        try lab.makeTorrent("eta.bin", size: 1 << 20)
        try lab.makeTorrent("theta.bin", size: 1 << 20, directory: "data2")
        let status = "status:\n  listen: 127.0.0.1:\(statusPort)\n"
        try lab.writeConfig(trackers: false, extra: status, logFormat: "json")
        try lab.publish("eta.bin")
        try lab.publish("theta.bin")
        let daemon = try lab.startDaemon()
        #expect(daemon.stderr.contains("status on http://127.0.0.1:\(statusPort)/status"), "\(daemon.stderr)")

        // /status lists every file of the watch directory in its state: eta seeded, theta without data.
        var torrents: [[String: Any]] = []
        func torrent(_ file: String) -> [String: Any]? { torrents.first { $0["file"] as? String == file } }
        let listed = TestFiles.waitUntil(timeout: 15) {
            torrents = lab.status(statusPort)["torrents"] as? [[String: Any]] ?? []
            return torrent("eta.bin.torrent")?["percent"] as? Double == 100
                && torrent("theta.bin.torrent")?["state"] as? String == "no-data"
        }
        #expect(listed, "\(torrents)")
        let eta = try #require(torrent("eta.bin.torrent"))
        #expect(eta["state"] as? String == "seeding")
        #expect(eta["name"] as? String == "eta.bin")
        #expect((eta["infoHash"] as? String)?.count == 40)
        #expect(eta["totalBytes"] as? Int == 1 << 20)
        #expect((torrent("theta.bin.torrent")?["message"] as? String)?.contains("no data directory holds theta.bin") == true)
        #expect(try lab.get(statusPort, "/healthz") == "ok: 2 torrents, 0 failed\n")
        let metrics = try lab.get(statusPort, "/metrics")
        #expect(metrics.contains("swtorrent_torrents_by_state{state=\"seeding\"} 1"), "\(metrics)")
        #expect(metrics.contains("swtorrent_torrents_by_state{state=\"no-data\"} 1"), "\(metrics)")
        let table = try TestProcess.swtorrent(["status", "\(statusPort)"], timeout: 30)
        #expect(table.exitCode == 0, "\(table.stderr)")
        #expect(table.stdout.split(separator: "\n").contains { $0.hasPrefix("eta.bin") && $0.contains("seeding") }, "\(table.stdout)")

        // A removed file leaves the status; status.listen is a restart-only key, and a reload says so.
        try FileManager.default.removeItem(atPath: lab.path("watch/eta.bin.torrent"))
        let gone = TestFiles.waitUntil(timeout: 10) {
            torrents = lab.status(statusPort)["torrents"] as? [[String: Any]] ?? []
            return torrents.count == 1 && torrent("eta.bin.torrent") == nil
        }
        #expect(gone, "\(torrents)")
        let moved = try TestFiles.freePort()
        try lab.writeConfig(trackers: false, extra: "status:\n  listen: 127.0.0.1:\(moved)\n", logFormat: "json")
        #expect(lab.waitForLog(daemon, ["takes effect at the next start", "status.listen"]), "\(daemon.stderr)")
        #expect(try lab.get(statusPort, "/healthz") == "ok: 1 torrents, 0 failed\n")
        daemon.stop(grace: 15)
        #expect(daemon.process.terminationStatus == 0, "\(daemon.stderr)")

        // log.format json: every log line is one JSON object; the command's own reports stay plain.
        let logLines = daemon.stderr.split(separator: "\n").filter { !$0.hasPrefix("swtorrent seed: ") }
        #expect(logLines.count > 3, "\(daemon.stderr.prefix(2000))")
        var messages: [String] = []
        for line in logLines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["level"] is String, "not a JSON log line: \(line)")
            if let message = object?["message"] as? String,
                let metadata = object?["metadata"] as? [String: String], metadata["torrent"] == "eta.bin.torrent"
            {
                messages.append(message)
            }
        }
        #expect(messages.contains("seeding") && messages.contains("torrent file removed; stopping it"), "\(messages)")
    }

    @Test func aTakenStatusAddressExitsOneNamingTheKey() throws {
        let lab = try Lab()
        let holder = try BackgroundProcess(
            "python3",
            [
                "-c", "import socket,time;s=socket.socket();s.bind(('127.0.0.1',0));s.listen();"
                    + "print(s.getsockname()[1],flush=True);time.sleep(60)",
            ], name: "holder", logDirectory: lab.dir)
        defer { holder.stop() }
        #expect(TestFiles.waitUntil(timeout: 10) { Int(holder.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) != nil })
        let taken = try #require(Int(holder.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        try lab.writeConfig(trackers: false, extra: "status:\n  listen: 127.0.0.1:\(taken)\n")
        let result = try TestProcess.swtorrent(["seed", "--config", lab.path("seed.yaml")], timeout: 20)
        #expect(result.exitCode == 1)
        #expect(
            result.stderr.contains("seed.yaml: status.listen: status address 127.0.0.1:\(taken): cannot listen"),
            "\(result.stderr)")
    }

    /// `lsd.interfaces` naming an interface the host does not have: the daemon exits 1 naming the key and the
    /// interfaces it could use, before any multicast socket is opened (it used to say "free the port or change
    /// listen"). `--lsd` (the default) only keeps the harness from adding `--no-lsd`, which would skip discovery.
    @Test func anUnknownLocalDiscoveryInterfaceExitsOneNamingTheKey() throws {
        let lab = try Lab()
        try lab.writeConfig(trackers: false, extra: "lsd:\n  interfaces: [swtnosuch0]\n")
        let result = try TestProcess.swtorrent(["seed", "--config", lab.path("seed.yaml"), "--lsd"], timeout: 20)
        #expect(result.exitCode == 1, "\(result.stderr)")
        #expect(
            result.stderr.contains("seed.yaml: lsd.interfaces: local discovery: unknown interface: interface 'swtnosuch0' does not exist; choose one of: "),
            "\(result.stderr)")
        #expect(!result.stderr.contains("free the port"), "\(result.stderr)")
        // With --no-lsd (the harness adds it) the file's interfaces are not looked at: the daemon runs.
        let daemon = try lab.startDaemon()
        #expect(!daemon.stderr.contains("local discovery"), "\(daemon.stderr)")
    }

    /// Issue 12's "hundreds of torrents through one listener": 200 small private torrents already in the watch
    /// directory when the daemon starts are all checked, seeded and announced to our tracker within a bounded time,
    /// each served through the one port; the node-wide connection limit from the config holds over all of them.
    @Test func twoHundredTorrentsAreSeededThroughOneListenerUnderTheNodeWideLimits() throws {
        let lab = try Lab()
        try lab.startTracker()
        let statusPort = try TestFiles.freePort()
        let count = 200
        var options = TorrentOptions()
        options.announceTiers = [["http://127.0.0.1:\(lab.trackerPort)/\(SeedDaemonTests.passkey)/announce"]]
        options.isPrivate = true
        options.pieceLength = 16 << 10
        options.threads = 1
        var infoHashes: [[UInt8]] = []
        for index in 0..<count {
            let name = "small-\(index).bin"
            let content = URL(fileURLWithPath: lab.path("data/\(name)"))
            try TestFiles.writeRandomFile(content, size: (40 << 10) + index * 100, seed: UInt64(index) ^ 0x200)
            let made = try TorrentBuilder(options: options).make(path: content.path)
            try Data(made.bytes).write(to: URL(fileURLWithPath: lab.path("made/\(name).torrent")))
            try lab.publish(name)
            infoHashes.append(Array(made.infoHash.bytes))
        }
        try lab.writeConfig(
            extra: """
                status:
                  listen: 127.0.0.1:\(statusPort)
                limits:
                  connections: 4
                  per-torrent:
                    connections: 2
                """)

        let started = Date()
        let daemon = try lab.startDaemon()
        let allAnnounced = try lab.waitForTrackerPeers(Double(count), timeout: 120)
        #expect(allAnnounced, "the tracker has \((try? lab.metric("tracker_peers")) ?? -1) peers")
        let announced = Date().timeIntervalSince(started)
        #expect(announced < 120, "all \(count) announced after \(announced) s")
        func status() -> [String: Any] { lab.status(statusPort) }
        let torrents = status()["torrents"] as? [[String: Any]] ?? []
        #expect(torrents.count == count && torrents.allSatisfy { $0["state"] as? String == "seeding" }, "\(torrents.filter { $0["state"] as? String != "seeding" }.prefix(5))")
        #expect(status()["listenPort"] as? Int == lab.port)

        // Every torrent is served through the one listener: the first, a middle and the last one, fetched in turn.
        for index in [0, count / 2, count - 1] {
            let fetched = try lab.leech("small-\(index).bin", out: "out\(index)")
            #expect(fetched.exitCode == 0, "\(fetched.stderr)")
            #expect(lab.sameBytes("data/small-\(index).bin", "out\(index)/small-\(index).bin"))
        }

        // limits.connections: 4 over all torrents: four peers of four torrents are served, a fifth is refused.
        #expect(TestFiles.waitUntil(timeout: 10) { status()["connections"] as? Int == 0 }, "\(status())")
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        for index in 0..<4 {
            let fd = try RawPeer.connect(port: lab.port)
            held.append(fd)
            try RawPeer.sendAll(fd, RawPeer.handshake(infoHash: infoHashes[index]))
            #expect(RawPeer.readExactly(fd, 68)?.count == 68, "peer \(index) was not answered")
        }
        #expect(TestFiles.waitUntil(timeout: 10) { status()["connections"] as? Int == 4 }, "\(status())")
        let fifth = try RawPeer.connect(port: lab.port)
        held.append(fifth)
        try? RawPeer.sendAll(fifth, RawPeer.handshake(infoHash: infoHashes[4]))
        #expect(RawPeer.readsUntilClosed(fifth, timeout: 10), "a fifth connection was kept over limits.connections 4")
        let refusals = status()["refusals"] as? [String: Int] ?? [:]
        #expect(refusals["connection limit"] ?? 0 >= 1, "\(refusals)")

        daemon.stop(grace: 30)
        #expect(daemon.process.terminationStatus == 0, "\(daemon.stderr.suffix(2000))")
        #expect(try lab.waitForTrackerPeers(0, timeout: 10), "the stopped announces did not all reach the tracker")
    }
}
