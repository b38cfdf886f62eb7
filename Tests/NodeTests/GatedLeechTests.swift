import Engine
import Foundation
import Logging
import Node
import ServiceLifecycle
import SignatureGate
import Synchronization
import Testing

struct GatedLeechTests {
    @Test func signedTorrentIsReleasedIntoTheOutputAndAudited() async throws {
        let f = try NodeFixture("node-release")
        defer { f.cleanup() }
        try f.stageContent()
        let policy = try TrustPolicySources(keyFiles: [f.signerKeyFile]).policy()
        let outcome = try await f.leech(policy: policy).run()
        let (decisions, seeding) = try #require(outcome.released, "expected a release, got \(outcome)")
        #expect(seeding == nil)
        #expect(decisions.map { $0.path.joined(separator: "/") } == ["rel/app.tar", "rel/lib.so"])
        #expect(f.outputEntries() == ["rel", "rel/app.tar", "rel/lib.so"])
        let released = try Data(contentsOf: URL(fileURLWithPath: f.output + "/rel/app.tar"))
        #expect(released == (try Data(contentsOf: URL(fileURLWithPath: f.source + "/rel/app.tar"))))
        let records = try f.auditRecords()
        #expect(records.map { $0["result"] as? String } == ["released", "released"])
        #expect(records.allSatisfy { $0["info_hash"] as? String == f.infoHash })
        // Staging is left empty: the released files were renamed out of it.
        #expect(!FileManager.default.fileExists(atPath: f.layout.staging + "/rel"))
    }

    @Test func unsignedFileIsQuarantinedAndNeverReachesTheOutput() async throws {
        let f = try NodeFixture("node-refuse", unsignedLibrary: true)
        defer { f.cleanup() }
        try f.stageContent()
        let policy = try TrustPolicySources(keyFiles: [f.signerKeyFile]).policy()
        let outcome = try await f.leech(policy: policy).run()
        let decisions = try #require(outcome.refused, "expected a refusal, got \(outcome)")
        let library = try #require(decisions.first { $0.path.last == "lib.so" })
        let (path, reason) = try #require(library.decision.quarantine, "lib.so: \(library.decision)")
        #expect(reason.name == "missing-signature")
        #expect(path.hasPrefix(f.layout.quarantine + "/"))
        #expect(FileManager.default.fileExists(atPath: path))
        // Nothing unverified at the destination: only the signed file is there.
        #expect(f.outputEntries() == ["rel", "rel/app.tar"])
        let records = try f.auditRecords()
        let refused = try #require(records.first { $0["file"] as? String == "rel/lib.so" })
        #expect(refused["result"] as? String == "quarantined")
        #expect(refused["reason"] as? String == "missing-signature")
    }

    @Test func untrustedSignerIsRefusedForEveryFile() async throws {
        let f = try NodeFixture("node-untrusted")
        defer { f.cleanup() }
        try f.stageContent()
        let policy = try TrustPolicySources(keyFiles: [f.otherKeyFile]).policy()
        let outcome = try await f.leech(policy: policy).run()
        #expect(outcome.decisions.count == 2)
        #expect(outcome.decisions.allSatisfy { !$0.decision.isReleased })
        #expect(f.outputEntries().isEmpty)
    }

    /// A re-run over files already released: staging is prefilled from copies of them (never the same inode), the
    /// download completes without a peer, and the files are released again.
    @Test func rerunPrefillsStagingFromTheOutput() async throws {
        let f = try NodeFixture("node-rerun")
        defer { f.cleanup() }
        try FileManager.default.createDirectory(atPath: f.output, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: f.source + "/rel", toPath: f.output + "/rel")
        let before = try #require(try FileManager.default.attributesOfItem(atPath: f.output + "/rel/app.tar")[
            .systemFileNumber] as? Int)
        let policy = try TrustPolicySources(keyFiles: [f.signerKeyFile]).policy()
        let outcome = try await f.leech(policy: policy).run()
        #expect(outcome.decisions.count == 2)
        #expect(outcome.decisions.allSatisfy { $0.decision.isReleased })
        let after = try #require(try FileManager.default.attributesOfItem(atPath: f.output + "/rel/app.tar")[
            .systemFileNumber] as? Int)
        #expect(after != before, "the output file was replaced by rename, not written in place")
    }

    @Test func policyWithoutKeysThatRequiresSignersIsRefusedBeforeAnyDownload() async throws {
        let f = try NodeFixture("node-nokey")
        defer { f.cleanup() }
        await #expect {
            _ = try await f.leech(policy: TrustPolicy(keys: [], requiredSigners: 1)).run()
        } throws: { ($0 as? NodeError)?.code == .noTrustedKey }
        #expect(!FileManager.default.fileExists(atPath: f.layout.staging))
    }

    /// Each file's SHA-256 is taken during the download (here every piece was already staged, so all are read back
    /// by the streaming hasher); the audit log's digests are the released files' own. With the window off (nil) the
    /// gate reads the files itself, with the same result.
    @Test(arguments: [StreamingFileHasher.defaultWindowBytes, nil])
    func digestsAreStreamedDuringTheDownloadAndMatchTheReleasedFiles(window: Int?) async throws {
        let f = try NodeFixture("node-digests")
        defer { f.cleanup() }
        try f.stageContent()
        var leech = f.leech(policy: try TrustPolicySources(keyFiles: [f.signerKeyFile]).policy())
        leech.digestWindowBytes = window
        let streamed = Mutex<[GatedLeechEvent]>([])
        let outcome = try await leech.run { event in
            if case .digestsStreamed = event { streamed.withLock { $0.append(event) } }
        }
        #expect(outcome.decisions.count == 2 && outcome.decisions.allSatisfy { $0.decision.isReleased })
        var expected: [GatedLeechEvent] = []
        if window != nil {
            // 270,000 bytes in 16 KiB pieces, all already staged: read back.
            expected = [.digestsStreamed(files: 2, of: 2, StreamingFileHasher.Statistics(piecesReadBack: 17))]
        }
        #expect(streamed.withLock { $0 } == expected)
        for record in try f.auditRecords() {
            let file = try #require(record["file"] as? String)
            let released = try SignatureGate.FileDigests.compute(
                path: f.output + "/" + file, needs: .init(sha256: true, blake2b512: false))
            let hex = released.sha256.map { $0.map { String(format: "%02x", $0) }.joined() }
            #expect(record["sha256"] as? String == hex, "\(file)")
        }
    }
}

/// The gated leech downloading for real: a seed runs as a ``TransferService`` in a ``ServiceGroup`` on one host, the
/// leech dials it from another host over loopback, and the gate releases what the seed served.
struct GatedLeechTransferTests {
    @Test func downloadsFromASeedServiceAndReleasesWhatItServed() async throws {
        let f = try NodeFixture("node-transfer")
        defer { f.cleanup() }
        let seed = try await RunningSeed(f)
        let port = seed.port
        let service = seed.service

        var leech = f.leech(policy: try TrustPolicySources(keyFiles: [f.signerKeyFile]).policy())
        leech.configuration.manualPeers = [try PeerAddress(parsing: "127.0.0.1:\(port)")]
        leech.configuration.stallTimeout = .seconds(90)
        leech.host = RunningSeed.host()
        let outcome = try await leech.run()
        try await seed.stop()
        await leech.host?.shutdown()

        let (decisions, _) = try #require(outcome.released, "expected a release, got \(outcome)")
        #expect(decisions.count == 2)
        for name in ["app.tar", "lib.so"] {
            let released = try Data(contentsOf: URL(fileURLWithPath: f.output + "/rel/" + name))
            #expect(released == (try Data(contentsOf: URL(fileURLWithPath: f.source + "/rel/" + name))))
        }
        let peers = try f.auditRecords().compactMap { $0["peers"] as? [[String: Any]] }
        #expect(peers.count == 2)
        #expect(peers.allSatisfy { $0.map { $0["peer"] as? String } == ["127.0.0.1:\(port)"] }, "\(peers)")
        let ended = try #require(service.result, "the seed service did not finish")
        #expect((try? ended.get()) != nil, "seed: \(ended)")
    }
}
