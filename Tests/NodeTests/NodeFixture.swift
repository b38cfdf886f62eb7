import Engine
import Foundation
import Logging
import Metainfo
import Node
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
