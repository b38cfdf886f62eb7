import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The issue 11 scenarios, small: `scripts/lab/lab.py` builds sites on bridges behind a router with `tc tbf` WAN
/// links in namespaces of its own, runs this build's `swtorrent` there and reports the WAN counters; these tests
/// assert the targets on its JSON. Where the lab cannot be built (not root, no `ip`/`tc`, no python3) they say DID
/// NOT RUN, and fail under SWTORRENT_REQUIRE_ALL=1 (CI runs as root). The WAN ratio targets are hard assertions on
/// this build's LAN-first selection (the lab must find `--no-lan-first` in its help).
@Suite(.serialized) struct NetworkLabTests {
    /// Small enough for seconds per scenario, large enough that a piece crossing the WAN twice shows (64 KiB pieces).
    static let size = "8M"

    /// One scenario's result row (`lab.py --json`), the build's features, and the lab's tag.
    struct Run {
        var row: [String: Any]
        var features: [String: Bool]

        func site(_ name: String) throws -> [String: Any] {
            let sites = try #require(row["sites"] as? [String: Any], "\(row)")
            return try #require(sites[name] as? [String: Any], "no site \(name): \(row)")
        }

        func ratio(_ site: String) throws -> Double { try #require(try self.site(site)["ratio"] as? Double) }

        /// The verified bytes B's swtorrent leechers got from peers outside the site (their audit logs) ÷ content.
        func payloadRatio(_ site: String) throws -> Double {
            try #require(try self.site(site)["payloadRatio"] as? Double, "no audit figures: \(row)")
        }

        var ok: Bool { row["ok"] as? Bool == true && row["verified"] as? Bool == true }
        var failures: String { "\(row["failed"] ?? "")" }
    }

    /// The repository's `scripts/lab/lab.py`.
    static func script(filePath: String = #filePath) -> String {
        URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/lab/lab.py").path
    }

    /// Debian's python3 (the one CI installs, readable by `nobody`), else the first on PATH; cancels the test (DID
    /// NOT RUN, or a failure under SWTORRENT_REQUIRE_ALL=1) when there is none.
    static func python(_ test: String) throws -> String {
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") { return "/usr/bin/python3" }
        do {
            return try TestProcess.resolve("python3").path
        } catch {
            try Conformance.labMissing(test, "python3 is not installed")
            try Test.cancel("DID NOT RUN: python3 is not installed")
        }
    }

    /// Runs `scenario` (one variant) in a fresh lab and returns its rows; cancels the test (DID NOT RUN, or a
    /// failure under SWTORRENT_REQUIRE_ALL=1) when the lab cannot be built here.
    static func run(_ test: String, _ scenario: String, _ options: [String] = []) throws -> [Run] {
        let python = try python(test)
        let result = try TestProcess.run(
            python,
            [script(), scenario, "--binary", try TestProcess.swtorrentBinary(), "--size", size, "--json",
             "--timeout", "120"] + options,
            timeout: 400)
        if result.exitCode == 3 {
            let why = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            try Conformance.labMissing(test, why)
            try Test.cancel("DID NOT RUN: \(why)")
        }
        try #require(result.exitCode == 0, "lab.py \(scenario): exit \(result.exitCode)\n\(result.stderr.suffix(4000))")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
        let rows = try #require(json["results"] as? [[String: Any]], "\(json)")
        let features = try #require(json["features"] as? [String: Bool], "\(json)")
        // The lab deletes everything it made, pass or fail.
        for row in rows {
            if let tag = row["lab"] as? String {
                let left = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
                #expect(!left.contains { $0.hasPrefix("swl-\(tag)-") }, "lab \(tag) left namespaces: \(left)")
            }
        }
        return rows.map { Run(row: $0, features: features) }
    }

    /// This build has LAN-first selection, and the lab saw it (it reads `leech --help`): the ratio targets hold.
    static func requireLANFirst(_ run: Run) throws {
        try #require(run.features["lanFirst"] == true, "the lab found no --no-lan-first in leech --help: \(run.row)")
    }

    /// The counters measure what crossed: one seed in A, one leecher in B; the leecher's audit log says every byte
    /// came from A's seed (payload 1.0 × the content), and the bytes into B are that plus the headers (IP, TCP,
    /// BitTorrent framing; at most 4.6 % at a 1,448-byte MSS), never less.
    @Test func countersMatchTheContentForOneLeecher() throws {
        let run = try #require(try Self.run("countersMatchTheContentForOneLeecher", "baseline").first)
        #expect(run.ok, "\(run.failures)")
        #expect(try run.payloadRatio("B") == 1.0)
        let ratio = try run.ratio("B")
        #expect(ratio >= 1.0 && ratio <= 1.1, "WAN into B / content = \(ratio)")
    }

    /// Issue 11 rollout, small: a seed in A, 4 leechers in B together. All complete with correct copies; with
    /// LAN-first the bytes into B are at most 1.2 × the content.
    @Test func rolloutCrossesTheWANAboutOnce() throws {
        let run = try #require(
            try Self.run("rolloutCrossesTheWANAboutOnce", "rollout", ["--variant", "swtorrent", "--leechers", "4"])
                .first)
        #expect(run.ok, "\(run.failures)")
        let ratio = try run.ratio("B")
        let payload = try run.payloadRatio("B")
        // What the leechers verified from outside the site crossed the link: the counters can never show less.
        #expect(payload >= 1.0 && ratio >= payload, "WAN into B / content = \(ratio), payload \(payload)")
        try Self.requireLANFirst(run)
        #expect(ratio <= 1.2, "WAN into B / content = \(ratio), payload \(payload): \(run.row)")
    }

    /// Staggered: the same with the leechers starting 1 s apart (3 s in the full run): WAN ratio ≤ 1.2.
    @Test func staggeredRolloutCrossesTheWANAboutOnce() throws {
        let run = try #require(
            try Self.run(
                "staggeredRolloutCrossesTheWANAboutOnce", "staggered",
                ["--variant", "swtorrent", "--leechers", "4", "--stagger", "1"]
            ).first)
        #expect(run.ok, "\(run.failures)")
        let ratio = try run.ratio("B")
        try Self.requireLANFirst(run)
        #expect(ratio <= 1.2, "WAN into B / content = \(ratio): \(run.row)")
    }

    /// Two remote sites, 2 leechers each: both complete, each site's WAN ratio ≤ 1.2.
    @Test func twoRemoteSitesEachCrossTheWANAboutOnce() throws {
        let run = try #require(
            try Self.run(
                "twoRemoteSitesEachCrossTheWANAboutOnce", "two-sites", ["--variant", "swtorrent", "--leechers", "2"]
            ).first)
        #expect(run.ok, "\(run.failures)")
        try Self.requireLANFirst(run)
        for site in ["B", "C"] {
            #expect(try run.site(site)["allCompleteSeconds"] as? Double != nil, "site \(site) did not complete")
            let ratio = try run.ratio(site)
            #expect(ratio <= 1.2, "WAN into \(site) / content = \(ratio): \(run.row)")
        }
    }

    /// Tracker down: B cannot reach the tracker and one B node holds the artifact; 3 leechers complete through LSD
    /// alone: nothing crosses the WAN but a few control packets, and every leecher's peer came from LSD or dialled in.
    /// (The holder is a seed, and a seed dials the peers it hears: a leecher may see only `incoming` connections.
    /// With the tracker unreachable and no `--peer`, local discovery is the only way any node learned an address.)
    @Test func siteCompletesThroughLocalDiscoveryWithoutTheTracker() throws {
        let run = try #require(
            try Self.run("siteCompletesThroughLocalDiscoveryWithoutTheTracker", "tracker-down", ["--leechers", "3"])
                .first)
        #expect(run.ok, "\(run.failures)")
        let ratio = try run.ratio("B")
        #expect(ratio < 0.05, "WAN into B / content = \(ratio): the leechers reached a peer outside the site")
        let sources = try #require(run.row["peerSources"] as? [String])
        #expect(!sources.isEmpty && Set(sources).isSubset(of: ["lsd", "incoming"]), "\(sources)")
    }

    /// Seed lost: A's seed is killed when site B is at 50 %; B completes from what it holds and the seed in C. The
    /// WAN links run at 10 Mbit/s here: the leechers report progress once a second, and at 50 Mbit/s LAN-first
    /// fetches 8 MiB in under two reports, so the kill could only come at 100 %.
    @Test func siteFinishesAfterItsSeedIsLost() throws {
        let run = try #require(
            try Self.run(
                "siteFinishesAfterItsSeedIsLost", "seed-lost",
                ["--variant", "swtorrent", "--leechers", "4", "--rate", "10mbit"]
            ).first)
        let killedAt = try #require(run.row["killedAtPercent"] as? Double, "A's seed was never killed: \(run.row)")
        #expect(killedAt >= 50 && killedAt < 100, "\(run.row)")
        #expect(run.ok, "\(run.failures)")
    }

    /// Private: the rollout on a private torrent with node keys (3 listed leechers in B and one unlisted node, all
    /// with `--key`/`--allow`): the listed ones complete with correct copies, local discovery feeding each of them
    /// peers through the authenticated transport; the unlisted node gets no byte and its key is refused by the listed
    /// nodes' TLS handshakes. LAN-first works through TLS: the bytes into B are at most 1.2 × the content.
    @Test func privateSwarmServesOnlyListedNodes() throws {
        let run = try #require(
            try Self.run("privateSwarmServesOnlyListedNodes", "private", ["--leechers", "3"]).first)
        let missing = run.row["missing"] as? [String] ?? []
        try #require(missing.isEmpty, "this build lacks: \(missing.joined(separator: "; "))")
        #expect(run.ok, "\(run.failures)")
        #expect(run.row["intruderVerifiedBytes"] as? Int == 0, "the unlisted node got pieces: \(run.row)")
        #expect(run.row["intruderDownloaded"] as? Int == 0, "the unlisted node got bytes: \(run.row)")
        #expect(run.row["intruderComplete"] as? Bool == false, "\(run.row)")
        #expect(run.row["intruderHeardLsd"] as? Bool == true, "the unlisted node heard no announcement: \(run.row)")
        #expect((run.row["intruderRefusals"] as? Int ?? 0) >= 1, "no listed node refused its key: \(run.row)")
        // Every listed leecher was fed peers by local discovery (the tracker names the same peers, so which source
        // a connection is credited to is a race).
        let fed = try #require(run.row["lsdFedLeechers"] as? [String], "\(run.row)")
        #expect(fed == ["B1", "B2", "B3"], "local discovery fed no peers to some listed leechers: \(run.row)")
        try Self.requireLANFirst(run)
        let ratio = try run.ratio("B")
        #expect(ratio <= 1.2, "WAN into B / content = \(ratio)")
    }

    /// Not root: the lab refuses at once with exit 3 and says why, creating nothing (as root the test drops to
    /// `nobody` with util-linux's `setpriv`).
    @Test func refusesClearlyWhenNotRoot() throws {
        let python = try Self.python("refusesClearlyWhenNotRoot")
        var command = [python, Self.script(), "baseline"]
        if geteuid() == 0 {
            try TestProcess.requireTool("setpriv")
            command = [try TestProcess.resolve("setpriv").path, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
                + command
        }
        let result = try TestProcess.run(command[0], Array(command.dropFirst()), timeout: 30)
        #expect(result.exitCode == 3, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stderr.contains("lab unavailable: needs root"), "\(result.stderr)")
    }

    /// Killed mid-run (SIGTERM), the lab still stops its processes and deletes every namespace it made.
    @Test func cleansUpWhenInterrupted() throws {
        let dir = try TestFiles.makeTemporaryDirectory("swt-lab-test")
        defer { TestFiles.cleanup(dir) }
        let python = try Self.python("cleansUpWhenInterrupted")
        guard geteuid() == 0 else {
            try Conformance.labMissing("cleansUpWhenInterrupted", "needs root")
            try Test.cancel("DID NOT RUN: needs root")
        }
        let lab = try BackgroundProcess(
            python,
            [Self.script(), "rollout", "--variant", "swtorrent", "--binary", try TestProcess.swtorrentBinary(),
             "--size", Self.size, "--rate", "1mbit", "--leechers", "2", "--timeout", "60"],
            name: "lab", logDirectory: dir)
        defer { lab.stop() }
        // The tag is printed when the lab is built; the leechers are running once B1's namespace holds a process.
        let tagged = TestFiles.waitUntil(timeout: 60) { Self.tag(lab.stderr) != nil }
        let tag = try #require(tagged ? Self.tag(lab.stderr) : nil, "no lab tag: \(lab.stderr)")
        let running = TestFiles.waitUntil(timeout: 90) {
            let pids = (try? TestProcess.run("ip", ["netns", "pids", "swl-\(tag)-B1"], timeout: 10).stdout) ?? ""
            return !pids.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        }
        try #require(running, "the leechers never started: \(lab.stderr.suffix(2000))")
        kill(lab.pid, SIGTERM)
        let exit = lab.wait(timeout: 60)
        #expect(exit != nil && exit != 0, "lab.py: \(String(describing: exit))")
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? [])
            .filter { $0.hasPrefix("swl-\(tag)-") }
        #expect(left.isEmpty, "left behind: \(left)")
    }

    /// The tag in `lab: lab <tag>: sites …`.
    static func tag(_ stderr: String) -> String? {
        guard let range = stderr.range(of: "lab: lab ") else { return nil }
        let rest = stderr[range.upperBound...]
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        return String(rest[..<colon])
    }
}
