import Foundation
import LocalDiscovery
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwarmPrimitives
import Testing

/// Two announcers in this process on the loopback interface (multicast on `lo` never leaves the host), on a group
/// port of the test's own so no other process's discovery hears them or is heard.
@Suite(.serialized) struct LocalDiscoveryLoopbackTests {
    /// Collects what an announcer reports.
    final class Found: Sendable {
        private let peers = NIOLockedValueBox<Set<LocalPeer>>([])
        func add(_ peer: LocalPeer) { peers.withLockedValue { _ = $0.insert(peer) } }
        var all: Set<LocalPeer> { peers.withLockedValue { $0 } }
    }

    static func announcer(port: Int) -> LocalDiscovery {
        var configuration = LocalDiscoveryConfiguration(interfaces: ["lo"])
        configuration.groupPort = port
        return LocalDiscovery(configuration: configuration, logger: Logger(label: "test.lsd"))
    }

    /// 30 torrents on one side (one datagram each, at most 2 a tick), 2 of them on the other: each side learns the other's port
    /// for exactly the torrents both run, from 127.0.0.1, and drops its own looped-back datagrams by cookie.
    @Test func twoAnnouncersFindEachOtherOnLoopback() async throws {
        let groupPort = Int.random(in: 20000...60000)
        let hashes = (0..<30).map { InfoHash([UInt8](repeating: UInt8($0), count: 20))! }
        let a = Self.announcer(port: groupPort)
        let b = Self.announcer(port: groupPort)
        let foundByA = Found()
        let foundByB = Found()
        try await a.start(listenPort: 7001) { foundByA.add($0) }.get()
        do {
            try await b.start(listenPort: 7002) { foundByB.add($0) }.get()
        } catch {
            try await a.shutdown().get()
            throw error
        }
        // Torrents added once both listen: however slow a loaded machine starts them, every announcement (at once,
        // +2 s, +6 s) finds the other side listening.
        let added = Date()
        for hash in hashes { a.add(hash) }
        b.add(hashes[0])
        b.add(hashes[29])
        let expectedByB: Set = [
            LocalPeer(infoHash: hashes[0], host: "127.0.0.1", port: 7001),
            LocalPeer(infoHash: hashes[29], host: "127.0.0.1", port: 7001),
        ]
        let expectedByA: Set = [
            LocalPeer(infoHash: hashes[0], host: "127.0.0.1", port: 7002),
            LocalPeer(infoHash: hashes[29], host: "127.0.0.1", port: 7002),
        ]
        // Bounded: 15 s.
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline && (foundByA.all != expectedByA || foundByB.all != expectedByB) {
            try await Task.sleep(for: .milliseconds(100))
        }
        let statsA = try await a.statistics().get()
        let elapsed = -added.timeIntervalSinceNow
        let statsB = try await b.statistics().get()
        try await a.shutdown().get()
        try await b.shutdown().get()
        #expect(foundByB.all == expectedByB)
        #expect(foundByA.all == expectedByA)
        // One datagram per hash: B heard the 30th, so A sent at least 30; at most 2 a tick (0.5 s), 4 a second.
        #expect(statsA.sent >= 30 && Double(statsA.sent) <= 2 * (elapsed / 0.5 + 1), "\(statsA) in \(elapsed) s")
        #expect(statsA.torrents == 30 && statsB.torrents == 2)
        #expect(statsA.dropped[.ownCookie, default: 0] >= 2, "\(statsA)")
        #expect(statsB.dropped[.ownCookie, default: 0] >= 1, "\(statsB)")
        #expect(statsB.accepted >= 2, "\(statsB)")
    }

    /// A named interface that does not exist: start fails with `unknownInterface` and opens nothing.
    @Test func unknownInterfaceFailsToStart() async throws {
        var configuration = LocalDiscoveryConfiguration(interfaces: ["swtnosuch0"])
        configuration.groupPort = Int.random(in: 20000...60000)
        let discovery = LocalDiscovery(configuration: configuration, logger: Logger(label: "test.lsd"))
        await #expect {
            try await discovery.start(listenPort: 7001) { _ in }.get()
        } throws: { error in
            (error as? LocalDiscoveryError)?.code == .unknownInterface
        }
        try await discovery.shutdown().get()
    }
}
