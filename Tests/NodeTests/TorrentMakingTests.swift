import Foundation
import Metainfo
import Node
import SignatureGate
import TestSupport
import Testing

/// make-and-sign as the node does it: a signed torrent whose signatures verify with the same verifier the leech
/// uses, a second signer added later, and an existing output left alone unless overwriting was asked for.
struct TorrentMakingTests {
    @Test func signedTorrentVerifiesTakesASecondSignerAndIsNotOverwritten() throws {
        let dir = try TestFiles.makeTemporaryDirectory("node-make")
        defer { TestFiles.cleanup(dir) }
        let content = dir.appendingPathComponent("rel")
        try FileManager.default.createDirectory(at: content, withIntermediateDirectories: true)
        try TestFiles.writeRandomFile(content.appendingPathComponent("a.bin"), size: 90_000, seed: 5)
        try TestFiles.writeRandomFile(content.appendingPathComponent("b.bin"), size: 1_000, seed: 6)
        let first = try SigningKey.generateP256()
        let second = try SigningKey.generateP256()
        let keyFiles = [("first.pub", first), ("second.pub", second)].map { name, key in
            let path = dir.appendingPathComponent(name).path
            _ = FileManager.default.createFile(atPath: path, contents: Data(key.publicKey.pem.utf8))
            return path
        }
        let torrent = dir.appendingPathComponent("rel.torrent").path
        let making = TorrentMaking(options: TorrentOptions(), signingKeys: [.cosign(first)])

        let written = try making.make(path: content.path, destination: torrent, overwrite: false)
        #expect(written.destination == torrent)
        #expect(written.made.content.files.count == 2)
        let one = try TrustPolicySources(keyFiles: [keyFiles[0]]).policy()
        let verdicts = try ArtifactVerifier(policy: one).verify(torrentPath: torrent, dataDirectory: dir.path)
        #expect(verdicts.count == 2)
        #expect(verdicts.allSatisfy { if case .verified(let s) = $0.result { s.count == 1 } else { false } })

        // Two of two fails until the second key signs; signing leaves the info-hash alone.
        let both = try TrustPolicySources(keyFiles: keyFiles, requiredSigners: 2).policy()
        #expect(try ArtifactVerifier(policy: both).verify(torrentPath: torrent, dataDirectory: dir.path).allSatisfy {
            if case .rejected(.notEnoughSigners) = $0.result { true } else { false }
        })
        let (path, made) = try MakeSigning.signTorrent(torrent, dataDirectory: dir.path, key: .cosign(second))
        #expect(path == torrent && made.count == 2)
        #expect(try ArtifactVerifier(policy: both).verify(torrentPath: torrent, dataDirectory: dir.path).allSatisfy {
            if case .verified(let s) = $0.result { s.count == 2 } else { false }
        })
        #expect(try Torrent(contentsOfFile: torrent).infoHash == written.made.infoHash)

        let signed = try Data(contentsOf: URL(fileURLWithPath: torrent))
        #expect { try making.make(path: content.path, destination: torrent, overwrite: false) } throws: {
            ($0 as? NodeError)?.code == .outputExists
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: torrent)) == signed)
        _ = try making.make(path: content.path, destination: torrent, overwrite: true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: torrent)) != signed)
    }
}
