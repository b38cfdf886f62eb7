import Engine
import Foundation
import LocalDiscovery
import Metainfo
import SwarmPrimitives
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A magnet link's fetch on a node's host (``SessionHost/fetchMetadata(_:peers:)``), in process on loopback: the
/// host routes a connection that dials it for the info-hash, while no session runs the torrent, to the fetch; the
/// torrent's session then joins the same host and downloads. (Local discovery's part is in the namespace lab:
/// `LocalDiscoveryLabTests+Magnet`.)
@Suite(.serialized) struct MetadataLookupTests {
    /// A TCP listener on loopback that never accepts: the kernel completes connections to it and nothing ever
    /// answers, so a fetch that dials it waits for the handshake timeout.
    final class SilentListener {
        let descriptor: Int32
        let port: Int

        init() throws {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw HarnessError("socket: \(errno)") }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    bind(descriptor, address, length) == 0 && listen(descriptor, 8) == 0
                        && getsockname(descriptor, address, &length) == 0
                }
            }
            guard bound else {
                close(descriptor)
                throw HarnessError("bind/listen on 127.0.0.1: \(errno)")
            }
            self.descriptor = descriptor
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        deinit { close(descriptor) }
    }

    static func fetch(_ torrent: Torrent) -> MetadataFetch {
        var fetch = MetadataFetch(infoHash: torrent.infoHash, peerID: PeerID.generate(), logger: quietLogger)
        fetch.timeout = .seconds(60)
        return fetch
    }

    @Test func withNoPeerToAskAndNoLocalDiscoveryAFetchFailsAtOnce() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("lookup")
        defer { TestFiles.cleanup(directory) }
        let fixture = try TorrentFixture(name: "a.bin", size: 256 << 10, pieceLength: 32 << 10, seed: 31, in: directory)
        let host = SessionHost.loopback()
        let error = await #expect(throws: EngineError.self) {
            try await host.fetchMetadata(Self.fetch(fixture.torrent), peers: [])
        }
        #expect(error?.code == .noPeers, "\(String(describing: error))")
        #expect(error?.context.contains("no peer to ask for the info dictionary") == true)
        await host.shutdown()
    }

    /// The leech's host has no peer that answers (a silent one keeps the fetch waiting); a seed on another host
    /// that was given the leech's address dials it. The host hands the connection to the fetch, which takes the info
    /// dictionary from it; then a session for the torrent joins the same host and the seed's next dial downloads
    /// it. A second fetch of the same info-hash while the first runs is refused, as a second session would be.
    @Test(.timeLimit(.minutes(2)))
    func aPeerThatDialsTheHostForTheInfoHashGivesTheInfoDictionaryAndThenTheData() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("lookup")
        defer { TestFiles.cleanup(directory) }
        let fixture = try TorrentFixture(name: "a.bin", size: 1 << 20, pieceLength: 64 << 10, seed: 32, in: directory)
        let leechHost = SessionHost.loopback()
        let leechPort = try await leechHost.start()
        let silent = try SilentListener()

        var seedConfiguration = SessionConfiguration()
        seedConfiguration.useTrackers = false
        seedConfiguration.seedUntilStopped = true
        seedConfiguration.listenHost = "127.0.0.1"
        seedConfiguration.manualPeers = [PeerAddress(host: "127.0.0.1", port: leechPort)]
        let seed = TorrentSession(
            torrent: fixture.torrent, storage: try await fixture.seedStorage(), configuration: seedConfiguration,
            logger: quietLogger)

        try await withThrowingTaskGroup(of: Void.self) { group in
            defer { seed.stop() }  // on every path: the group waits for the seed's run before it returns or throws
            let first = Self.fetch(fixture.torrent)
            let silentPeer = PeerAddress(host: "127.0.0.1", port: silent.port)
            let lookup = Task { try await leechHost.fetchMetadata(first, peers: [silentPeer]) }
            // The same info-hash again, while the first fetch runs: refused.
            var second: EngineError?
            for _ in 0..<100 where second == nil {
                do throws(EngineError) {
                    _ = try await leechHost.fetchMetadata(Self.fetch(fixture.torrent), peers: [])
                } catch {
                    second = error.code == .duplicateTorrent ? error : nil
                }
                if second == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(second?.code == .duplicateTorrent, "\(String(describing: second))")

            group.addTask { _ = try await seed.run() }
            let info = try await lookup.value
            #expect(info == fixture.torrent.infoBytes)

            var leechConfiguration = SessionConfiguration()
            leechConfiguration.useTrackers = false
            leechConfiguration.stallTimeout = .seconds(60)
            let leech = TorrentSession(
                torrent: try Torrent(bytes: MagnetLink(parsing: "magnet:?xt=urn:btih:\(fixture.torrent.infoHash.hex)")
                    .torrentFile(info: info)),
                storage: try await fixture.leechStorage(in: directory.appendingPathComponent("leech")),
                configuration: leechConfiguration, logger: quietLogger, host: leechHost)
            let outcome = try await leech.run()
            let progress = try #require(outcome.completed, "leech ended \(outcome)")
            #expect(progress.verifiedBytes == Int64(fixture.content.count))
            let file = directory.appendingPathComponent("leech").appendingPathComponent(fixture.torrent.name)
            #expect(try Data(contentsOf: file) == Data(fixture.content))
        }
        await leechHost.shutdown()
    }

    /// The peers local discovery found during the fetch join the torrent's session. One announcement names the seed
    /// (a test announcer on `lo`, on a group port of the test's own, shut down once the fetch has the info
    /// dictionary, before its +2 s repeat); the seed has no discovery and no peers, so it never dials. The session
    /// that then joins the leech's host has no other source for the seed than the hand-over, and completes.
    @Test(.timeLimit(.minutes(2)))
    func thePeersLocalDiscoveryFoundDuringTheFetchJoinTheSession() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("lookup")
        defer { TestFiles.cleanup(directory) }
        let fixture = try TorrentFixture(name: "a.bin", size: 1 << 20, pieceLength: 64 << 10, seed: 33, in: directory)
        let groupPort = Int.random(in: 20000...60000)

        let seedHost = SessionHost.loopback()
        let seedPort = try await seedHost.start()
        var seeding = SessionConfiguration()
        seeding.useTrackers = false
        seeding.seedUntilStopped = true
        let seed = TorrentSession(
            torrent: fixture.torrent, storage: try await fixture.seedStorage(), configuration: seeding,
            logger: quietLogger, host: seedHost)

        let leechHost = SessionHost.loopback {
            $0.localDiscovery = PrivateLocalDiscoveryTests.announcer(groupPort: groupPort)
        }
        _ = try await leechHost.start()

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { _ = try await seed.run() }
            defer { seed.stop() }  // on every path: the group waits for the seed's run before it returns or throws
            let lookup = Task { try await leechHost.fetchMetadata(Self.fetch(fixture.torrent), peers: []) }
            // The neighbour announces the seed's port for the info-hash (it names what it is told to).
            let neighbour = PrivateLocalDiscoveryTests.announcer(groupPort: groupPort)
            try await neighbour.start(listenPort: seedPort) { _ in }.get()
            neighbour.add(fixture.torrent.infoHash)
            let info = try await lookup.value
            try await neighbour.shutdown().get()
            #expect(info == fixture.torrent.infoBytes)

            var leeching = SessionConfiguration()
            leeching.useTrackers = false
            leeching.stallTimeout = .seconds(30)
            let leech = TorrentSession(
                torrent: fixture.torrent, storage: try await fixture.leechStorage(in: directory.appendingPathComponent("leech")),
                configuration: leeching, logger: quietLogger, host: leechHost)
            let outcome = try await leech.run()
            let progress = try #require(outcome.completed, "leech ended \(outcome)")
            #expect(progress.verifiedBytes == Int64(fixture.content.count))
        }
        await leechHost.shutdown()
        await seedHost.shutdown()
    }
}
