import Engine
import Foundation
import Logging
import Metainfo
import Node
import ServiceLifecycle
import SignatureGate
import TestSupport
import Testing

/// A signed multi-file torrent on real files: `src/rel/{app.tar,lib.so}`, the torrent with embedded cosign
/// signatures by `signer` (and, for `lib.so`, none when `unsignedLibrary`), trusted and untrusted key files, and the
/// directories a gated leech needs.
struct NodeFixture {
    let root: URL
    let torrentPath: String
    let infoHash: String
    let signerKeyFile: String
    let otherKeyFile: String
    let source: String
    /// The key whose signatures the torrent embeds, and one nobody trusts.
    let signer: SigningKey
    let other: SigningKey

    init(_ label: String, unsignedLibrary: Bool = false, secondSigner: Bool = false) throws {
        root = try TestFiles.makeTemporaryDirectory(label)
        source = root.appendingPathComponent("src").path
        let content = root.appendingPathComponent("src/rel")
        try FileManager.default.createDirectory(at: content, withIntermediateDirectories: true)
        try TestFiles.writeRandomFile(content.appendingPathComponent("app.tar"), size: 200_000, seed: 1)
        try TestFiles.writeRandomFile(content.appendingPathComponent("lib.so"), size: 70_000, seed: 2)
        var options = TorrentOptions()
        options.pieceLength = 16384
        let made = try TorrentBuilder(options: options).make(content: try TorrentContent.scan(content.path))
        infoHash = made.infoHash.hex

        signer = try SigningKey.generateP256()
        other = try SigningKey.generateP256()
        signerKeyFile = root.appendingPathComponent("signer.pub").path
        otherKeyFile = root.appendingPathComponent("other.pub").path
        try signer.publicKey.pem.write(toFile: signerKeyFile, atomically: true, encoding: .utf8)
        try other.publicKey.pem.write(toFile: otherKeyFile, atomically: true, encoding: .utf8)

        var torrent = made.bytes
        let (signer, other) = (signer, other)
        let keys = secondSigner ? [signer, other] : [signer]
        for index in keys.indices {
            let key = keys[index]
            var signed: [EmbeddedSignature] = []
            for file in try TorrentSignatures.files(of: torrent, subject: "t") {
                if unsignedLibrary && file.path.last == "lib.so" { continue }
                if index == 1 && file.path.last == "lib.so" { continue }  // the second signer signs app.tar only
                let digests = try SignatureGate.FileDigests.compute(
                    path: TorrentSignatures.contentPath(file.path, dataDirectory: source), needs: .all)
                signed.append(try TorrentSignatures.embedded(for: file.path, digests: digests, key: .cosign(key)))
            }
            torrent = try TorrentSignatures.adding(signed, to: torrent, subject: "t")
        }
        torrentPath = root.appendingPathComponent("rel.torrent").path
        try Data(torrent).write(to: URL(fileURLWithPath: torrentPath))
    }

    var output: String { root.appendingPathComponent("out").path }
    var layout: GateLayout {
        GateLayout(
            staging: root.appendingPathComponent("gate/staging").path,
            quarantine: root.appendingPathComponent("gate/quarantine").path,
            auditLog: root.appendingPathComponent("gate/audit.jsonl").path)
    }

    /// Puts the complete content into staging, as a finished download leaves it.
    func stageContent() throws {
        try FileManager.default.createDirectory(atPath: layout.staging, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source + "/rel", toPath: layout.staging + "/rel")
    }

    /// A loopback-only session: no tracker, no peers (the content is already staged, so the download completes as
    /// soon as the data is checked).
    static var configuration: SessionConfiguration {
        var configuration = SessionConfiguration()
        configuration.listenHost = "127.0.0.1"
        configuration.useTrackers = false
        configuration.stallTimeout = .seconds(30)
        return configuration
    }

    func leech(policy: TrustPolicy) -> GatedLeech {
        GatedLeech(
            torrentPath: torrentPath, output: output, policy: policy, staging: layout.staging,
            quarantine: layout.quarantine, auditLog: layout.auditLog, configuration: Self.configuration,
            logger: Logger(label: "test.node"))
    }

    func auditRecords() throws -> [[String: Any]] {
        let text = try String(contentsOfFile: layout.auditLog, encoding: .utf8)
        return try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    func outputEntries() -> [String] {
        (FileManager.default.enumerator(atPath: output)?.allObjects as? [String] ?? []).sorted()
    }

    func cleanup() { TestFiles.cleanup(root) }
}

/// A seed of a fixture's torrent on a host of its own (loopback), run as a ``TransferService`` in a ``ServiceGroup``
/// until ``stop()``.
struct RunningSeed {
    let host: SessionHost
    let port: Int
    let group: ServiceGroup
    let service: TransferService<Result<SessionOutcome, NodeError>>
    let running: Task<Void, any Error>

    static func host() -> SessionHost {
        var configuration = HostConfiguration()
        configuration.listenHost = "127.0.0.1"
        return SessionHost(configuration: configuration, logger: Logger(label: "test.node.host"))
    }

    /// Starts seeding `f`'s content and returns once the seed's session has joined its host (checking the data
    /// takes a while on a loaded machine; a dial before that is refused as an unknown info-hash and backs off).
    init(_ f: NodeFixture) async throws {
        host = Self.host()
        port = try await host.start()
        var seeding = NodeFixture.configuration
        seeding.seedUntilStopped = true
        let seed = TransferRunner(
            torrentPath: f.torrentPath, directory: f.source, mode: .seed, configuration: seeding,
            logger: Logger(label: "test.node.seed"), host: host)
        service = TransferService { () async -> Result<SessionOutcome, NodeError> in
            do throws(NodeError) {
                return .success(try await seed.run())
            } catch {
                return .failure(error)
            }
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                logger: Logger(label: "test.node.group")))
        self.group = group
        running = Task { try await group.run() }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(120)
        while try await host.statistics().sessions == 0, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await host.statistics().sessions == 1, "the seed never joined its host")
    }

    /// Stops the seed gracefully and waits for it.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await running.value
        await host.shutdown()
    }
}

extension GatedLeechOutcome {
    var released: ([TorrentFileDecision], SessionOutcome?)? {
        if case .released(let decisions, let seeding) = self { (decisions, seeding) } else { nil }
    }

    var refused: [TorrentFileDecision]? {
        if case .refused(let decisions) = self { decisions } else { nil }
    }
}

extension ReleaseDecision {
    var quarantine: (path: String, reason: GateRefusal)? {
        if case .quarantined(let path, let reason) = self { (path, reason) } else { nil }
    }
}
