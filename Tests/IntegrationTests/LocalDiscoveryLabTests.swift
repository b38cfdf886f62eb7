import Foundation
import Testing
import TestSupport

/// BEP 14 local discovery end to end: `swtorrent` processes in a network namespace the test creates, with local
/// discovery on the namespace's end of its veth pair (`--lsd-interface`) or on the interfaces it chooses itself
/// (`--lsd`: inside the namespace the veth end is the only candidate). Nothing multicasts on the machine's own
/// interfaces: the datagrams stay on the test's veth link (TTL 1).
@Suite(.serialized) struct LocalDiscoveryLabTests {

    /// A namespace, a 3 MiB file and its torrent (no reachable tracker), and `swtorrent` started inside the namespace
    /// with local discovery on. The namespace and the files go when it does.
    final class Lab {
        /// Where the seed runs (and, in a one-namespace lab, everything else).
        let namespace: NetworkNamespace
        /// The other hosts of a segment lab (``make(_:private:ipv6Only:neighbours:)``), on one bridge with
        /// ``namespace``: empty in a one-namespace lab.
        let neighbours: [NetworkNamespace]
        private let segment: NetworkSegment?
        let dir: URL
        let name = "release.bin"
        let content: String
        let torrent: String

        /// The lab, or the test is cancelled (DID NOT RUN) where namespaces cannot be made (fails under
        /// SWTORRENT_REQUIRE_ALL=1).
        /// With `neighbours`, the lab is a segment (``NetworkSegment``): ``namespace`` and that many other namespaces
        /// on one bridge, each a host of its own.
        static func make(_ test: String, private isPrivate: Bool, ipv6Only: Bool = false, neighbours: Int = 0) throws
            -> Lab
        {
            do {
                return try Lab(private: isPrivate, ipv6Only: ipv6Only, neighbours: neighbours)
            } catch let unavailable as NetworkNamespace.Unavailable {
                try Conformance.labMissing(test, "\(unavailable)")
                try Test.cancel("DID NOT RUN: \(unavailable)")
            }
        }

        /// The namespace end's IPv6 address when the lab is IPv6 only.
        private(set) var ipv6Address: String?

        private init(private isPrivate: Bool, ipv6Only: Bool, neighbours count: Int) throws {
            precondition(!(ipv6Only && count > 0), "an IPv6-only lab is one namespace")
            if count > 0 {
                let segment = try NetworkSegment(members: count + 1)
                self.segment = segment
                namespace = segment.members[0]
                neighbours = Array(segment.members.dropFirst())
            } else {
                segment = nil
                namespace = try NetworkNamespace()
                neighbours = []
            }
            if ipv6Only {
                // A unique-local address of the test's own in place of the namespace end's IPv4 address (nodad: no
                // duplicate-address wait), so discovery and the transfer can only use IPv6.
                let address = "fd5e:" + String(UInt16.random(in: 0x1000...UInt16.max), radix: 16) + "::2"
                ipv6Address = address
                for step in [
                    ["-n", namespace.name, "addr", "add", "\(address)/64", "dev", namespace.namespaceInterface, "nodad"],
                    ["-n", namespace.name, "addr", "del", "\(namespace.namespaceAddress)/30", "dev",
                     namespace.namespaceInterface],
                ] {
                    let result = try TestProcess.run("ip", step, timeout: 10)
                    guard result.exitCode == 0 else {
                        throw HarnessError("ip \(step.joined(separator: " ")): \(result.stderr)")
                    }
                }
            }
            dir = try TestFiles.makeTemporaryDirectory("swt-lsd")
            try FileManager.default.createDirectory(atPath: dir.path + "/seed", withIntermediateDirectories: true)
            content = dir.path + "/seed/\(name)"
            try TestFiles.writeRandomFile(URL(fileURLWithPath: content), size: 3 << 20, seed: 0x15d)
            torrent = dir.path + "/t.torrent"
            // The tracker does not exist; every process runs with --no-tracker anyway.
            let made = try TestProcess.swtorrent(
                ["make", content, "-a", "http://127.0.0.1:1/announce", "--piece-length", "64K", "--no-date", "-o",
                 torrent] + (isPrivate ? ["--private"] : []),
                timeout: 60)
            guard made.exitCode == 0 else { throw HarnessError("swtorrent make: \(made.stderr)") }
        }

        /// `swtorrent ARGUMENTS` inside the namespace (``namespace`` unless given) with local discovery on its veth
        /// end (named, or chosen by swtorrent when `choose` is set).
        func start(_ arguments: [String], name: String, choose: Bool = false, in host: NetworkNamespace? = nil)
            throws -> BackgroundProcess
        {
            let host = host ?? namespace
            let discovery = choose ? ["--lsd"] : ["--lsd-interface", host.namespaceInterface]
            return try BackgroundProcess(
                "ip", try host.command(try TestProcess.swtorrentBinary(), arguments + discovery), name: name,
                logDirectory: dir)
        }

        /// A leech of `source` (the torrent file unless given: a magnet link) into `out` with no tracker and no
        /// `--peer`, started first and waited for until its discovery
        /// listens: a seed's announcements at start, +2 s and +6 s must find it listening (the next comes 300 s
        /// later), however long a loaded machine takes to start a process.
        func startLeech(
            stallTimeout: String, choose: Bool = false, out: String = "out", name: String = "lsd-leech",
            source: String? = nil, in host: NetworkNamespace? = nil, _ extra: [String] = []
        ) throws -> BackgroundProcess {
            let leech = try start(
                ["leech", source ?? torrent, "--out", dir.path + "/\(out)", "--no-tracker", "--json", "--verbose",
                 "--stall-timeout", stallTimeout, "--allow-unsigned"] + extra, name: name, choose: choose, in: host)
            let listening = TestFiles.waitUntil(timeout: 30) { leech.stderr.contains("local discovery running") }
            guard listening else { throw HarnessError("leech: discovery not running: \(leech.stderr.suffix(2000))") }
            return leech
        }

        func startSeed(choose: Bool = false, _ extra: [String] = []) throws -> BackgroundProcess {
            try start(
                ["seed", torrent, "--data", dir.path + "/seed", "--no-tracker", "--verbose", "--log-format", "text"]
                    + extra,
                name: "lsd-seed", choose: choose)
        }

        /// libtorrent (Debian's python3-libtorrent through the lab's `scripts/lab/lt_node.py`) inside the namespace,
        /// listening on the namespace end's address, with its own local service discovery on, no DHT, no peers:
        /// it can only meet a peer through BEP 14. It prints `{"event":"complete"}` once it has every piece.
        func startLibtorrent(_ mode: String, save: String) throws -> BackgroundProcess {
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../scripts/lab/lt_node.py").standardized.path
            return try BackgroundProcess(
                "ip",
                try namespace.command(
                    "/usr/bin/python3",
                    [script, mode, torrent, save, namespace.namespaceAddress, "\(try TestFiles.freePort())", "1", "120"]),
                name: "lt-\(mode)", logDirectory: dir)
        }

        /// Cancels the test (DID NOT RUN; a failure under SWTORRENT_REQUIRE_ALL=1) when python3-libtorrent is missing.
        static func requireLibtorrent(_ test: String) throws {
            let probe = try? TestProcess.run("/usr/bin/python3", ["-c", "import libtorrent"], timeout: 30)
            guard probe?.exitCode != 0 else { return }
            let why = "python3-libtorrent is not installed (scripts/install-deps.sh installs it)"
            try Conformance.labMissing(test, why)
            try Test.cancel("DID NOT RUN: \(why)")
        }

        /// Waits (90 s at most) for `leech` to exit, and checks that it exited 0 with a byte-identical copy of the
        /// content in `out`.
        func expectComplete(_ leech: BackgroundProcess, seed: BackgroundProcess, out: String = "out") throws {
            let exit = leech.wait(timeout: 90)
            #expect(exit == 0, "leech: \(leech.stderr.suffix(3000))\nseed: \(seed.stdout.suffix(500))\(seed.stderr.suffix(2000))")
            let copy = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/\(out)/\(name)"))
            #expect(copy == (try Data(contentsOf: URL(fileURLWithPath: content))))
        }

        /// The log lines of `text` that contain `marker`.
        static func lines(_ text: String, _ marker: String) -> [Substring] {
            text.split(separator: "\n").filter { $0.contains(marker) }
        }

        /// Checks that every connection between `leech` and `seed` came from local discovery, the only source the lab
        /// gives them (no tracker, no `--peer`): each side's connections are `lsd` (it dialled a peer it heard) or
        /// `incoming` (the other side dialled it, having heard it: a seed dials the `lsd` peers it hears too, so
        /// which side dials first is a race), and at least one side dialled an `lsd` peer. Every line must also
        /// contain `containing` when given (an address).
        static func expectOnlyLocalDiscovery(
            _ leech: BackgroundProcess, _ seed: BackgroundProcess, containing: String? = nil,
            sourceLocation: SourceLocation = #_sourceLocation
        ) {
            let leechLines = lines(leech.stderr, "peer connected")
            let seedLines = lines(seed.stderr, "peer connected")
            let all = leechLines + seedLines
            #expect(!leechLines.isEmpty, "leech: \(leech.stderr.suffix(2000))", sourceLocation: sourceLocation)
            #expect(
                all.allSatisfy {
                    ($0.contains("source=lsd") || $0.contains("source=incoming"))
                        && (containing.map($0.contains) ?? true)
                }, "\(all)", sourceLocation: sourceLocation)
            #expect(all.contains { $0.contains("source=lsd") }, "\(all)", sourceLocation: sourceLocation)
        }

        /// `swtorrent status PORT --json` in ``namespace``: the `/status` object of the node whose status address is
        /// `127.0.0.1:PORT` there.
        func status(_ port: Int) throws -> [String: Any] {
            let status = try TestProcess.run(
                "ip", try namespace.command(try TestProcess.swtorrentBinary(), ["status", "\(port)", "--json"]),
                timeout: 30)
            try #require(status.exitCode == 0, "swtorrent status: \(status.stderr)")
            return try #require(
                try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any], "\(status.stdout)")
        }

        /// `/metrics` of the node whose status address is `127.0.0.1:PORT` in ``namespace`` (curl, bounded).
        func metrics(_ port: Int) throws -> ProcessResult {
            try TestProcess.run(
                "ip", try namespace.command("curl", ["-sS", "--max-time", "5", "http://127.0.0.1:\(port)/metrics"]),
                timeout: 10)
        }

        /// Sends each datagram once, in order, to the IPv4 group (239.192.152.143:6771) out of `host`'s veth end
        /// (``namespace`` unless given) with TTL 1, from a plain UDP socket (python3), `interval` seconds apart: what
        /// another host's announcements, or forged ones, look like on the link.
        func multicast(_ datagrams: [[UInt8]], from host: NetworkNamespace? = nil, interval: Double = 0) throws {
            let host = host ?? namespace
            var files: [String] = []
            for datagram in datagrams {
                let file = dir.path + "/datagram-\(UUID().uuidString)"
                try Data(datagram).write(to: URL(fileURLWithPath: file))
                files.append(file)
            }
            let send = """
                import socket, sys, time
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[1]))
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
                for path in sys.argv[3:]:
                    s.sendto(open(path, "rb").read(), ("239.192.152.143", 6771))
                    time.sleep(float(sys.argv[2]))
                """
            let sent = try TestProcess.run(
                "ip",
                try host.command("/usr/bin/python3", ["-c", send, host.namespaceAddress, "\(interval)"] + files),
                timeout: 30 + interval * Double(datagrams.count))
            try #require(sent.exitCode == 0, "python3: \(sent.stderr)")
        }

        /// Deletes the namespace (a segment lab: every namespace of the segment) and says whether it is gone.
        func removeNamespace() -> Bool {
            segment?.remove()
            namespace.remove()
            return !(segment?.namespaces ?? [namespace.name]).contains(where: NetworkNamespace.exists)
        }

        deinit {
            segment?.remove()
            namespace.remove()
            TestFiles.cleanup(dir)
        }
    }

    /// A seed and a leech with no tracker and no `--peer`: the leech completes because local discovery found the
    /// seed (or the seed found the leech and dialled it), and the connections say so. The namespace is deleted afterwards, pass or fail.
    @Test func leechFindsTheSeedThroughLocalDiscovery() throws {
        let lab = try Lab.make("leechFindsTheSeedThroughLocalDiscovery", private: false)
        let leech = try lab.startLeech(stallTimeout: "60s")
        defer { leech.stop() }
        let statusPort = try TestFiles.freePort()
        let seed = try lab.startSeed(["--status", "\(statusPort)"])
        defer { seed.stop() }

        try lab.expectComplete(leech, seed: seed)
        // The seed's status shows what its discovery did: /status, swtorrent status and /metrics.
        let discovery = try #require(try lab.status(statusPort)["localDiscovery"] as? [String: Any])
        #expect(discovery["torrents"] as? Int == 1 && (discovery["sent"] as? Int ?? 0) >= 1, "\(discovery)")
        let table = try TestProcess.run(
            "ip", try lab.namespace.command(try TestProcess.swtorrentBinary(), ["status", "\(statusPort)"]), timeout: 30)
        #expect(table.stdout.contains("local discovery: 1 announced,"), "\(table.stdout)")
        let metrics = try lab.metrics(statusPort)
        #expect(metrics.stdout.contains("swtorrent_lsd_torrents 1"), "\(metrics.stdout.suffix(2000))")
        #expect(metrics.stdout.contains("swtorrent_lsd_sent_total"), "\(metrics.stdout.suffix(2000))")
        #expect(metrics.stdout.contains("swtorrent_lsd_dropped_total{reason=\"own_cookie\"}"), "\(metrics.stdout.suffix(2000))")
        // The only way the two could know each other: local discovery.
        Lab.expectOnlyLocalDiscovery(leech, seed)
        #expect(seed.stderr.contains("[LocalDiscovery] announced"), "seed: \(seed.stderr.suffix(2000))")

        seed.stop()
        // Each side's totals when it stopped: both heard their own announcements come back through the multicast
        // loop and dropped them by cookie; the leech accepted the seed's and reported it.
        let seedTotals = try #require(Self.totals(seed.stderr), "seed: \(seed.stderr.suffix(2000))")
        let leechTotals = try #require(Self.totals(leech.stderr), "leech: \(leech.stderr.suffix(2000))")
        #expect(Self.count("sent", seedTotals) ?? 0 >= 1, "\(seedTotals)")
        #expect(Self.count("dropped.ownCookie", seedTotals) ?? 0 >= 1, "\(seedTotals)")
        #expect(Self.count("dropped.ownCookie", leechTotals) ?? 0 >= 1, "\(leechTotals)")
        #expect(Self.count("accepted", leechTotals) ?? 0 >= 1, "\(leechTotals)")
        #expect(Self.count("peers", leechTotals) ?? 0 >= 1, "\(leechTotals)")
        #expect(lab.removeNamespace(), "namespace \(lab.namespace.name) is still there")
    }

    /// The default: neither side names an interface (`--lsd` only says "on", as no flag would). Inside the namespace
    /// the veth end is the only interface that is up, multicast-capable and not loopback, so both choose it, and
    /// the leech completes from the seed it found there.
    @Test func discoveryChoosesTheInterfaceItself() throws {
        let lab = try Lab.make("discoveryChoosesTheInterfaceItself", private: false)
        let leech = try lab.startLeech(stallTimeout: "60s", choose: true)
        defer { leech.stop() }
        let seed = try lab.startSeed(choose: true)
        defer { seed.stop() }

        try lab.expectComplete(leech, seed: seed)
        let running = Lab.lines(leech.stderr, "local discovery running").first
        #expect(running?.contains("\(lab.namespace.namespaceInterface)(IPv4)") == true, "\(running ?? "")")
        #expect(running?.contains("lo(") == false, "\(running ?? "")")
        Lab.expectOnlyLocalDiscovery(leech, seed)
        seed.stop()
        #expect(lab.removeNamespace(), "namespace \(lab.namespace.name) is still there")
    }

    /// The IPv6 group: the namespace's link has only a unique-local IPv6 address (no IPv4), so the seed can be found
    /// only through `[ff15::efc0:988f]:6771` and reached only on its IPv6 listener. The leech completes, and every
    /// connection is over the IPv6 address and came from local discovery.
    @Test func leechFindsTheSeedOverIPv6() throws {
        let lab = try Lab.make("leechFindsTheSeedOverIPv6", private: false, ipv6Only: true)
        let address = try #require(lab.ipv6Address)
        let leech = try lab.startLeech(stallTimeout: "60s")
        defer { leech.stop() }
        let seed = try lab.startSeed()
        defer { seed.stop() }

        try lab.expectComplete(leech, seed: seed)
        let running = Lab.lines(leech.stderr, "local discovery running").first
        #expect(running?.contains("\(lab.namespace.namespaceInterface)(IPv6)") == true, "\(running ?? "")")
        Lab.expectOnlyLocalDiscovery(leech, seed, containing: "[\(address)]")
        seed.stop()
        #expect(lab.removeNamespace(), "namespace \(lab.namespace.name) is still there")
    }

    /// Interop, libtorrent hears us: a libtorrent leech with LSD on and no other peer source completes from a
    /// swtorrent seed that it can only have learned of through the seed's BEP 14 announcements.
    @Test func libtorrentHearsOurAnnouncements() throws {
        try Lab.requireLibtorrent("libtorrentHearsOurAnnouncements")
        let lab = try Lab.make("libtorrentHearsOurAnnouncements", private: false)
        let leech = try lab.startLibtorrent("leech", save: lab.dir.path + "/lt")
        defer { leech.stop() }
        // libtorrent's discovery listens once its session is up; the seed's +2 s and +6 s repeats cover a slow start.
        #expect(TestFiles.waitUntil(timeout: 30) { leech.stdout.contains("\"event\": \"progress\"") })
        let seed = try lab.startSeed()
        defer { seed.stop() }

        let complete = TestFiles.waitUntil(timeout: 90) { leech.stdout.contains("\"event\": \"complete\"") }
        #expect(complete, "libtorrent: \(leech.stdout.suffix(1000)) \(leech.stderr.suffix(1000))\nseed: \(seed.stderr.suffix(2000))")
        let copy = try Data(contentsOf: URL(fileURLWithPath: lab.dir.path + "/lt/\(lab.name)"))
        #expect(copy == (try Data(contentsOf: URL(fileURLWithPath: lab.content))))
        #expect(seed.stderr.contains("[LocalDiscovery] announced"), "seed: \(seed.stderr.suffix(2000))")
        leech.stop()
        seed.stop()
        #expect(lab.removeNamespace(), "namespace \(lab.namespace.name) is still there")
    }

    /// Interop, we hear libtorrent: a swtorrent leech (no tracker, no `--peer`) completes from a libtorrent seed
    /// whose only way to be found is libtorrent's own BEP 14 announcements: the leech's discovery accepted
    /// libtorrent's datagram and reported the seed as a peer. (Which side dials first is a race: libtorrent hears
    /// the leech's announcements too, so a connection may be `incoming`; no other source exists.)
    @Test func weHearLibtorrentsAnnouncements() throws {
        try Lab.requireLibtorrent("weHearLibtorrentsAnnouncements")
        let lab = try Lab.make("weHearLibtorrentsAnnouncements", private: false)
        let leech = try lab.startLeech(stallTimeout: "60s")
        defer { leech.stop() }
        let seed = try lab.startLibtorrent("seed", save: lab.dir.path + "/seed")
        defer { seed.stop() }

        try lab.expectComplete(leech, seed: seed)
        let connected = Lab.lines(leech.stderr, "peer connected")
        let found = Lab.lines(leech.stderr, "local discovery found a peer")
        #expect(found.contains { $0.contains("peer=\(lab.namespace.namespaceAddress):") }, "\(found)")
        #expect(!connected.isEmpty && connected.allSatisfy { $0.contains("source=lsd") || $0.contains("source=incoming") }, "\(connected)")
        seed.stop()
        #expect(lab.removeNamespace(), "namespace \(lab.namespace.name) is still there")
    }

    /// The "local discovery stopped" line a process logs with its totals.
    static func totals(_ stderr: String) -> String? {
        stderr.split(separator: "\n").last { $0.contains("local discovery stopped") }.map { String($0) }
    }

    /// The number logged as `key=N` in a log line.
    static func count(_ key: String, _ line: String) -> Int? {
        line.split(separator: " ").lazy.compactMap { field -> Int? in
            field.hasPrefix(key + "=") ? Int(field.dropFirst(key.count + 1)) : nil
        }.first
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
            ["seed", torrent, "--data", dir.path, "--no-tracker", "--lsd-interface", "swtnosuch0"], timeout: 30)
        #expect(seed.exitCode == 1, "\(seed.stderr)")
        #expect(seed.stderr.contains("interface 'swtnosuch0' does not exist"), "\(seed.stderr)")
    }
}
