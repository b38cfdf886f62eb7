import Engine
import Foundation
import LocalDiscovery
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwarmPrimitives
import TestSupport
import Testing

/// Which torrents a host puts on local discovery (Docs/local-discovery.md#private-torrents): public torrents always,
/// private torrents only when the transport slot authenticates every connection of theirs
/// (``PeerTransportSecurity/authenticatesPrivateSwarms`` with an admission hook). A real host with a real announcer
/// on `lo`, and a second announcer beside it that records what it hears; both on a group port of the test's own, so
/// no other process hears them. (The TLS transport itself, and LSD-found peers dialled through it, are tested end
/// to end in `LocalDiscoveryLabTests+Private.swift`.)
@Suite(.serialized) struct PrivateLocalDiscoveryTests {
    /// A transport slot that adds nothing and only says whether it authenticates private swarms: what the host reads
    /// to decide.
    struct Slot: PeerTransportSecurity {
        let authenticatesPrivateSwarms: Bool
        func addHandlers(to pipeline: ChannelPipeline.SynchronousOperations, connection: PeerConnectionSetup) {}
        func authenticatedIdentity(of channel: any Channel) -> PeerIdentity? { nil }
    }

    enum Node: String, CaseIterable, CustomTestStringConvertible {
        /// No transport slot: plain BitTorrent (no `--allow`).
        case plain
        /// A slot that admits unauthenticated peers to private torrents (`--allow-plain-peers`).
        case plainPeersAdmitted
        /// An authenticating slot but no admission hook to enforce it.
        case noAdmission
        /// `--key` and `--allow`.
        case authenticated

        var testDescription: String { rawValue }

        func configure(_ host: inout HostConfiguration) {
            switch self {
            case .plain: break
            case .plainPeersAdmitted:
                host.transportSecurity = Slot(authenticatesPrivateSwarms: false)
                host.admission = { _ in .admit }
            case .noAdmission:
                host.transportSecurity = Slot(authenticatesPrivateSwarms: true)
            case .authenticated:
                host.transportSecurity = Slot(authenticatesPrivateSwarms: true)
                host.admission = { _ in .admit }
            }
        }
    }

    /// What the listening announcer reported.
    final class Heard: Sendable {
        private let peers = NIOLockedValueBox<Set<LocalPeer>>([])
        func add(_ peer: LocalPeer) { _ = peers.withLockedValue { $0.insert(peer) } }
        func contains(_ infoHash: InfoHash, port: Int) -> Bool {
            peers.withLockedValue { $0.contains { $0.infoHash == infoHash && $0.port == port } }
        }
    }

    static func announcer(groupPort: Int) -> LocalDiscovery {
        var configuration = LocalDiscoveryConfiguration(interfaces: ["lo"])
        configuration.groupPort = groupPort
        return LocalDiscovery(configuration: configuration, logger: quietLogger)
    }

    // Its waits are 15 s + 3 s; the limit is generous because the first case starts with the whole suite, when the
    // cooperative pool is most contended (over 60 s twice in full runs on 2 cores, seconds alone).
    @Test(.timeLimit(.minutes(3)), arguments: Node.allCases)
    func privateTorrentsAreAnnouncedOnlyWhenEveryPeerAuthenticates(node: Node) async throws {
        let directory = try TestFiles.makeTemporaryDirectory("host-lsd")
        defer { TestFiles.cleanup(directory) }
        let open = try TorrentFixture(name: "public.bin", size: 256 << 10, pieceLength: 64 << 10, seed: 31, in: directory)
        let closed = try TorrentFixture(
            name: "private.bin", size: 256 << 10, pieceLength: 64 << 10, seed: 32, in: directory, isPrivate: true)
        let groupPort = Int.random(in: 20000...60000)

        // The neighbour: runs both torrents (it reports only hashes it runs) and listens on the same group.
        let neighbour = Self.announcer(groupPort: groupPort)
        let heard = Heard()
        try await neighbour.start(listenPort: try TestFiles.freePort()) { heard.add($0) }.get()
        neighbour.add(open.torrent.infoHash)
        neighbour.add(closed.torrent.infoHash)

        var configuration = HostConfiguration()
        configuration.listenHost = "127.0.0.1"
        configuration.localDiscovery = Self.announcer(groupPort: groupPort)
        node.configure(&configuration)
        let host = SessionHost(configuration: configuration, logger: quietLogger)
        let port = try await host.start()

        var seeding = SessionConfiguration()
        seeding.useTrackers = false
        seeding.seedUntilStopped = true
        let seeds = [
            TorrentSession(
                torrent: open.torrent, storage: try await open.seedStorage(), configuration: seeding,
                logger: quietLogger, host: host),
            TorrentSession(
                torrent: closed.torrent, storage: try await closed.seedStorage(), configuration: seeding,
                logger: quietLogger, host: host),
        ]
        try await withThrowingTaskGroup(of: SessionOutcome.self) { runs in
            for seed in seeds { runs.addTask { try await seed.run() } }
            // The public torrent is always announced: once it is heard, the host's first announcement has gone out.
            #expect(await TestFiles.waitUntilAsync(timeout: 15) { heard.contains(open.torrent.infoHash, port: port) })
            let expected = node == .authenticated
            if expected {
                #expect(await TestFiles.waitUntilAsync(timeout: 15) { heard.contains(closed.torrent.infoHash, port: port) })
            } else {
                // Its first repeat comes 2 s after the first announcement: nothing of the private torrent in 3 s.
                try await Task.sleep(for: .seconds(3))
                #expect(!heard.contains(closed.torrent.infoHash, port: port))
            }
            let statistics = try #require(try await host.statistics().localDiscovery)
            #expect(statistics.torrents == (expected ? 2 : 1), "\(statistics)")
            for seed in seeds { seed.stop() }
            for try await _ in runs {}
        }
        await host.shutdown()
        try await neighbour.shutdown().get()
    }
}
