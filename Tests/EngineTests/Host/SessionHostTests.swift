import Engine
import Foundation
import NIOCore
import TestSupport
import Testing

/// One host, real sockets on loopback.
@Suite struct SessionHostTests {
    @Test(.timeLimit(.minutes(2)))
    func oneHostServesTwoTorrentsOnOnePort() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("host")
        defer { TestFiles.cleanup(directory) }
        let fixtures = [
            try TorrentFixture(name: "a.bin", size: 3 << 20, pieceLength: 64 << 10, seed: 21, in: directory),
            try TorrentFixture(name: "b.bin", size: (2 << 20) + 12_345, pieceLength: 32 << 10, seed: 22, in: directory),
        ]
        let host = SessionHost.loopback()
        let port = try await host.start()

        var seedConfiguration = SessionConfiguration()
        seedConfiguration.useTrackers = false
        seedConfiguration.seedUntilStopped = true
        var seeds: [TorrentSession] = []
        for fixture in fixtures {
            seeds.append(
                TorrentSession(
                    torrent: fixture.torrent, storage: try await fixture.seedStorage(),
                    configuration: seedConfiguration, logger: quietLogger, host: host))
        }
        try await withThrowingTaskGroup(of: SessionOutcome.self) { seedRuns in
            for seed in seeds { seedRuns.addTask { try await seed.run() } }
            // Both seeds are in the host before the leechers dial.
            var running = 0
            for _ in 0..<250 where running < 2 {
                running = try await host.statistics().sessions
                if running < 2 { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(running == 2)

            // One leecher per torrent, each with its own private host, dialling the one port.
            var leechConfiguration = SessionConfiguration()
            leechConfiguration.useTrackers = false
            leechConfiguration.listenHost = "127.0.0.1"
            leechConfiguration.manualPeers = [PeerAddress(host: "127.0.0.1", port: port)]
            leechConfiguration.stallTimeout = .seconds(60)
            try await withThrowingTaskGroup(of: (Int, SessionOutcome).self) { leeches in
                for (index, fixture) in fixtures.enumerated() {
                    let storage = try await fixture.leechStorage(in: directory.appendingPathComponent("leech-\(index)"))
                    let leech = TorrentSession(
                        torrent: fixture.torrent, storage: storage, configuration: leechConfiguration,
                        logger: quietLogger)
                    leeches.addTask { (index, try await leech.run()) }
                }
                for try await (index, outcome) in leeches {
                    let progress = try #require(outcome.completed, "leecher \(index) ended \(outcome)")
                    #expect(progress.verifiedBytes == Int64(fixtures[index].content.count))
                    let name = fixtures[index].torrent.name
                    let file = directory.appendingPathComponent("leech-\(index)").appendingPathComponent(name)
                    #expect(try Data(contentsOf: file) == Data(fixtures[index].content))
                }
            }
            let statistics = try await host.statistics()
            #expect(statistics.port == port)
            #expect(statistics.refusals[.unknownInfoHash] == nil)

            // Stopping one seed removes it from the host; the other keeps running.
            seeds[0].stop()
            let first = try #require(try await seedRuns.next())
            // A seed holds every piece, so it ends complete.
            #expect(first.completed != nil)
            #expect(try await host.statistics().sessions == 1)
            seeds[1].stop()
            _ = try await seedRuns.next()
            #expect(try await host.statistics().sessions == 0)
        }
        await host.shutdown()
    }
}

extension SessionOutcome {
    /// The final progress when the session ended complete.
    var completed: SessionProgress? {
        if case .complete(let progress) = self { return progress }
        return nil
    }

    /// The final progress when the session ended stalled.
    var stalled: SessionProgress? {
        if case .stalled(let progress) = self { return progress }
        return nil
    }
}
