import Engine
import Foundation
import Synchronization
import TestSupport
import Testing

/// LAN-first over real sockets on loopback. Loopback is LAN; the WAN seed listens on 127.0.0.2, which the leech is
/// told is WAN (`--wan 127.0.0.2/32`). A LAN peer holds the even pieces and uploads slowly (256 KiB/s); the WAN seed
/// holds everything and is fast. The leech is connected to the LAN peer and downloading before the WAN seed starts
/// listening (it redials it), so it knows what the LAN has when the WAN seed unchokes it.
@Suite(.serialized) struct LANFirstTransferTests {
    static let size = 4 << 20
    static let pieceLength = 64 << 10

    /// With LAN-first the WAN seed supplies exactly the odd pieces (the ones the LAN lacked), however much faster it
    /// is; the LAN peer supplies the even ones.
    @Test(.timeLimit(.minutes(2)))
    func wanBytesOnlyForPiecesTheLANLacks() async throws {
        let supplied = try await transfer(lanFirst: true, name: "lan-first")
        #expect(supplied.wan == Int64(Self.size / 2), "WAN \(supplied.wan), LAN \(supplied.lan)")
        #expect(supplied.lan == Int64(Self.size / 2), "WAN \(supplied.wan), LAN \(supplied.lan)")
    }

    /// The same swarm with `--no-lan-first`: the fast WAN seed also supplies pieces the LAN had (what the first test
    /// rules out is what happens without it).
    @Test(.timeLimit(.minutes(2)))
    func withoutLANFirstTheWANAlsoSuppliesLANPieces() async throws {
        let supplied = try await transfer(lanFirst: false, name: "rarest-first")
        #expect(supplied.wan > Int64(Self.size / 2), "WAN \(supplied.wan), LAN \(supplied.lan)")
        #expect(supplied.wan + supplied.lan == Int64(Self.size))
    }

    /// Runs the swarm and returns the verified bytes the leech credits to each of its two peers.
    func transfer(lanFirst: Bool, name: String) async throws -> (lan: Int64, wan: Int64) {
        let directory = try TestFiles.makeTemporaryDirectory("lanfirst-\(name)")
        defer { TestFiles.cleanup(directory) }
        let fixture = try TorrentFixture(
            name: "artifact.bin", size: Self.size, pieceLength: Self.pieceLength, seed: 41, in: directory)
        // The LAN peer's copy: the odd pieces zeroed, so its check finds the even ones only.
        let lanDirectory = directory.appendingPathComponent("lan")
        try FileManager.default.createDirectory(at: lanDirectory, withIntermediateDirectories: true)
        var partial = fixture.content
        for piece in stride(from: 1, to: Self.size / Self.pieceLength, by: 2) {
            let start = piece * Self.pieceLength
            partial.replaceSubrange(start..<start + Self.pieceLength, with: repeatElement(0, count: Self.pieceLength))
        }
        try Data(partial).write(to: lanDirectory.appendingPathComponent("artifact.bin"))
        let lanStorage = try await fixture.leechStorage(in: lanDirectory)
        #expect(lanStorage.have.setCount == Self.size / Self.pieceLength / 2)

        var lanConfiguration = SessionConfiguration()
        lanConfiguration.useTrackers = false
        lanConfiguration.listenHost = "127.0.0.1"
        lanConfiguration.port = try TestFiles.freePort()
        lanConfiguration.seedUntilStopped = true
        lanConfiguration.uploadRateLimit = 256 << 10
        let lanPeer = TorrentSession(
            torrent: fixture.torrent, storage: lanStorage, configuration: lanConfiguration, logger: quietLogger)

        var wanConfiguration = SessionConfiguration()
        wanConfiguration.useTrackers = false
        wanConfiguration.listenHost = "127.0.0.2"
        wanConfiguration.port = try TestFiles.freePort()
        wanConfiguration.seedUntilStopped = true
        let wanSeed = TorrentSession(
            torrent: fixture.torrent, storage: try await fixture.seedStorage(), configuration: wanConfiguration,
            logger: quietLogger)

        var leechConfiguration = SessionConfiguration()
        leechConfiguration.useTrackers = false
        leechConfiguration.listenHost = "127.0.0.1"
        leechConfiguration.lanFirst = lanFirst
        leechConfiguration.wanNetworks = [try CIDR(parsing: "127.0.0.2/32")]
        let lanAddress = PeerAddress(host: "127.0.0.1", port: lanConfiguration.port)
        let wanAddress = PeerAddress(host: "127.0.0.2", port: wanConfiguration.port)
        leechConfiguration.manualPeers = [lanAddress, wanAddress]
        leechConfiguration.stallTimeout = .seconds(60)
        leechConfiguration.progressInterval = .milliseconds(50)
        let leechStorage = try await fixture.leechStorage(in: directory.appendingPathComponent("leech"))
        let leech = TorrentSession(
            torrent: fixture.torrent, storage: leechStorage, configuration: leechConfiguration, logger: quietLogger)
        let downloaded = DownloadedBytes()

        return try await withThrowingTaskGroup(of: SessionOutcome?.self) { group in
            group.addTask { try await lanPeer.run() }
            defer {
                lanPeer.stop()
                wanSeed.stop()
            }
            // The LAN peer listens before the leech dials it.
            try await Task.sleep(for: .milliseconds(200))
            group.addTask { try await leech.run { downloaded.value.store($0.downloaded, ordering: .relaxed) } }
            // The leech is downloading from the LAN peer (and failed to reach the WAN seed) ...
            var lanFlowing = false
            for _ in 0..<200 where !lanFlowing {
                try await Task.sleep(for: .milliseconds(25))
                lanFlowing = downloaded.value.load(ordering: .relaxed) > 0
            }
            try #require(lanFlowing, "the leech got nothing from the LAN peer")
            // ... before the WAN seed starts listening; the leech redials it after its backoff.
            group.addTask { try await wanSeed.run() }
            let outcome = try #require(try await group.next() ?? nil, "the leech ended without an outcome")
            let final = try #require(outcome.completed, "the leech ended \(outcome)")
            let file = directory.appendingPathComponent("leech/artifact.bin")
            #expect(try Data(contentsOf: file) == Data(fixture.content))
            let credited = try #require(final.suppliedBytes["artifact.bin"], "\(final.suppliedBytes)")
            #expect(Set(credited.keys).isSubset(of: [lanAddress.description, wanAddress.description]), "\(credited)")
            return (credited[lanAddress.description] ?? 0, credited[wanAddress.description] ?? 0)
        }
    }
}

/// The bytes a session's progress reports downloaded so far, for the test to watch.
final class DownloadedBytes: Sendable {
    let value = Atomic<Int64>(0)
}
