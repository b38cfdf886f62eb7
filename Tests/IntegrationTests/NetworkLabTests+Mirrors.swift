import Foundation
import TestSupport
import Testing

/// A release manifest's sources in their order, in the lab (issue 14 item 2, issue 13 item 1): LAN mirrors, then WAN
/// peers and WAN mirrors, then the origin. `lab.py mirror-order`: the fleet node and a LAN mirror in site A; a WAN
/// mirror, a WAN seed and the origin in site B, behind a `tc tbf` WAN link; the node leeches the signed manifest with
/// `--site A --allow-origin`. The figures come from the node's audit log (verified bytes per file per source), its
/// `--json` progress (each mirror's locality and state), the HTTP servers' request logs and the WAN counters.
extension NetworkLabTests {
    /// One case of the scenario's row.
    struct MirrorCase {
        var name: String
        var row: [String: Any]

        /// Verified bytes of `file` credited to each role (`lan-mirror`, `wan-mirror`, `wan-peer`, `origin`).
        func credits(_ file: String) throws -> [String: Int] {
            let credits = try #require(row["credits"] as? [String: [String: Int]], "\(name): \(row)")
            return try #require(credits[file], "\(name): no audit record for \(file): \(credits)")
        }

        /// Bytes credited to `role` over every file.
        func total(_ role: String) throws -> Int {
            let credits = try #require(row["credits"] as? [String: [String: Int]], "\(name): \(row)")
            return credits.values.reduce(0) { $0 + ($1[role] ?? 0) }
        }

        /// The requests an HTTP server saw: (monotonic seconds, status, path), in order.
        func requests(_ role: String) throws -> [(time: Double, status: Int, path: String)] {
            let all = try #require(row["requests"] as? [String: [[Any]]], "\(name): \(row)")
            return try #require(all[role], "\(name): no log for \(role)").map {
                (try #require($0[0] as? Double), try #require($0[1] as? Int), try #require($0[2] as? String))
            }
        }

        func mirror(_ role: String) throws -> [String: Any] {
            let mirrors = try #require(row["mirrors"] as? [String: [String: Any]], "\(name): \(row)")
            return try #require(mirrors[role], "\(name): \(role) not in the progress: \(mirrors)")
        }

        var wanIn: Int { row["wanIn"] as? Int ?? -1 }
    }

    /// Three cases in one lab (24 MiB: extra.bin 6 MiB first in the torrent, main.bin 18 MiB; 64 KiB pieces, so the
    /// files meet on a piece boundary; larger than the 4 × 2 MiB a mirror has in flight, so the LAN mirror's 404 for
    /// extra.bin comes while most of main.bin is still to be asked):
    /// - the LAN mirror lacks extra.bin: it supplies every byte of main.bin; extra.bin comes from the WAN seed and the
    ///   WAN mirror, which is asked for extra.bin only; the origin is never asked; what crosses the WAN is extra.bin
    ///   (plus headers);
    /// - the LAN mirror dies halfway: it supplied at least 40 % before; the WAN mirror's first request comes after the
    ///   LAN mirror's last; the origin is never asked;
    /// - nothing but the origin answers: the origin supplies everything, its first request not before 5 s
    ///   (`originGrace`).
    @Test func mirrorsAndPeersServeInOrder() throws {
        let run = try #require(
            try Self.run("mirrorsAndPeersServeInOrder", "mirror-order", ["--size", "24M"]).first)
        #expect(run.ok && run.row["verified"] as? Bool == true, "\(run.failures)")
        let files = try #require(run.row["files"] as? [String: Int], "\(run.row)")
        let main = try #require(files["release/main.bin"])
        let extra = try #require(files["release/extra.bin"])
        let cases = try #require(run.row["cases"] as? [String: [String: Any]], "\(run.row)")
        func named(_ name: String) throws -> MirrorCase {
            MirrorCase(name: name, row: try #require(cases[name], "no case \(name): \(cases.keys)"))
        }

        let lacking = try named("lan-lacks-a-file")
        #expect(lacking.row["complete"] as? Bool == true && lacking.row["verified"] as? Bool == true, "\(lacking.row)")
        #expect(try lacking.credits("release/main.bin") == ["lan-mirror": main], "\(lacking.row)")
        let extraCredits = try lacking.credits("release/extra.bin")
        #expect(Set(extraCredits.keys).isSubset(of: ["wan-mirror", "wan-peer"]), "\(extraCredits)")
        #expect(extraCredits.values.reduce(0, +) == extra, "\(extraCredits)")
        let wanMirrorPaths = Set(try lacking.requests("wan-mirror").map(\.path))
        #expect(wanMirrorPaths.isSubset(of: ["/release/extra.bin"]), "the WAN mirror was asked for \(wanMirrorPaths)")
        let originAsked = try lacking.requests("origin")
        #expect(originAsked.isEmpty, "the origin was asked: \(originAsked)")
        #expect(try lacking.mirror("lan-mirror")["locality"] as? String == "lan")
        #expect(try lacking.mirror("wan-mirror")["locality"] as? String == "wan")
        // What crossed into A: extra.bin and the headers (IP, TCP, HTTP, BitTorrent), not main.bin.
        #expect(lacking.wanIn >= extra && Double(lacking.wanIn) <= 1.2 * Double(extra), "WAN into A: \(lacking.wanIn)")

        let dying = try named("lan-dies-halfway")
        #expect(dying.row["complete"] as? Bool == true && dying.row["verified"] as? Bool == true, "\(dying.row)")
        let fromLAN = try dying.total("lan-mirror")
        let fromWAN = try dying.total("wan-mirror") + dying.total("wan-peer")
        #expect(Double(fromLAN) >= 0.4 * Double(main + extra) && fromLAN + fromWAN == main + extra, "\(dying.row)")
        #expect(try dying.total("origin") == 0 && (try dying.requests("origin")).isEmpty, "\(dying.row)")
        let lastLAN = try #require(try dying.requests("lan-mirror").last?.time, "\(dying.row)")
        if let firstWAN = try dying.requests("wan-mirror").first?.time {
            #expect(firstWAN >= lastLAN, "the WAN mirror was asked \(lastLAN - firstWAN) s before the LAN mirror died")
        }
        #expect(Double(dying.wanIn) <= 1.2 * Double(fromWAN), "WAN into A: \(dying.wanIn) for \(fromWAN) bytes")

        let origin = try named("origin-last")
        #expect(origin.row["complete"] as? Bool == true && origin.row["verified"] as? Bool == true, "\(origin.row)")
        #expect(try origin.credits("release/main.bin") == ["origin": main], "\(origin.row)")
        #expect(try origin.credits("release/extra.bin") == ["origin": extra], "\(origin.row)")
        let start = try #require(origin.row["start"] as? Double)
        let firstOrigin = try #require(try origin.requests("origin").first?.time, "\(origin.row)")
        #expect(firstOrigin - start >= 5, "the origin was asked \(firstOrigin - start) s after the start")
    }
}
