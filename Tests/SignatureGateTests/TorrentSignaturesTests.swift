import Bencode
import CryptoPrimitives
import Foundation
import SignatureGate
import TestSupport
import Testing

struct TorrentSignaturesTests {
    /// A multi-file v1 torrent over `root/<name>/…`, with keys before and after `swtorrent-signatures`.
    static func makeTorrent(in dir: URL, name: String, files: [(String, Int)]) throws -> [UInt8] {
        let root = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        var entries: [BencodeValue] = []
        var all: [UInt8] = []
        for (index, (file, size)) in files.enumerated() {
            let url = root.appendingPathComponent(file)
            try TestFiles.writeRandomFile(url, size: size, seed: UInt64(index + 7))
            all += [UInt8](try Data(contentsOf: url))
            entries.append(.dict(["length": .integer(Int64(size)), "path": .list([.string(file)])]))
        }
        let pieceLength = 16384
        var pieces: [UInt8] = []
        var offset = 0
        while offset < all.count {
            pieces += DigestAlgorithm.sha1.hash(all[offset..<min(offset + pieceLength, all.count)])
            offset += pieceLength
        }
        let info = BencodeValue.dict([
            "files": .list(entries), "name": .string(name), "piece length": .integer(Int64(pieceLength)),
            "pieces": .bytes(pieces), "private": .integer(1),
        ])
        return BencodeValue.dict([
            "announce": .string("http://127.0.0.1:6969/announce"), "info": info,
            "url-list": .list([.string("http://127.0.0.1/")]),
        ]).encoded()
    }

    @Test func signingEmbedsSignaturesWithoutChangingTheInfoHashAndMoreSignersCanBeAdded() throws {
        let dir = try TestFiles.makeTemporaryDirectory("gate-torrent")
        defer { TestFiles.cleanup(dir) }
        let torrent = try Self.makeTorrent(in: dir, name: "release", files: [("a.bin", 40000), ("b.bin", 100)])
        let infoBefore = try BencodeDecoder().decodeDocument(torrent).rawBytes(atPath: ["info"])!
        let cosign = ArtifactSigningKey.cosign(try SigningKey.generateP256())
        let minisign = ArtifactSigningKey.minisign(MinisignSecretKey.generate())

        let (once, made) = try TorrentSignatures.sign(
            torrent: torrent, subject: "t", dataDirectory: dir.path, key: cosign)
        #expect(made.count == 2)
        let (twice, _) = try TorrentSignatures.sign(torrent: once, subject: "t", dataDirectory: dir.path, key: minisign)
        // Still canonical bencode (strict decoder), info bytes untouched.
        let document = try BencodeDecoder().decodeDocument(twice)
        #expect(document.rawBytes(atPath: ["info"]).map(Array.init) == Array(infoBefore))
        #expect(
            DigestAlgorithm.sha1.hash(document.rawBytes(atPath: ["info"])!) == DigestAlgorithm.sha1.hash(infoBefore))
        #expect(document.value["announce"]?.utf8String == "http://127.0.0.1:6969/announce")
        #expect(document.value["url-list"] != nil)

        let embedded = try TorrentSignatures.read(twice, subject: "t")
        #expect(embedded.count == 4)
        #expect(Set(embedded.map(\.keyID)) == [cosign.keyID, minisign.keyID])
        // Re-signing with the same key replaces its entries instead of duplicating them.
        let (thrice, _) = try TorrentSignatures.sign(torrent: twice, subject: "t", dataDirectory: dir.path, key: cosign)
        #expect(try TorrentSignatures.read(thrice, subject: "t").count == 4)

        // Every file verifies 2-of-2 against the embedded signatures.
        let cosignKey = try #require(cosign.cosignKey, "the cosign signing key")
        let minisignKey = try #require(minisign.minisignKey, "the minisign signing key")
        let policy = TrustPolicy(
            keys: [.cosign(cosignKey.publicKey), .minisign(minisignKey.publicKey)], requiredSigners: 2
        )
        for file in try TorrentSignatures.files(of: twice, subject: "t") {
            let signatures = try embedded.filter { $0.path == file.path }.map { try $0.detached() }
            let path = TorrentSignatures.contentPath(file.path, dataDirectory: dir.path)
            let (result, _) = try Verifier(policy: policy).verify(path: path, signatures: signatures)
            #expect(result.isVerified, "\(file.path): \(result)")
        }
        // A modified file is refused with digest-mismatch (the torrent recorded its SHA-256).
        let target = dir.appendingPathComponent("release/b.bin")
        try Data(repeating: 7, count: 100).write(to: target)
        let signatures = try embedded.filter { $0.path == ["release", "b.bin"] }.map { try $0.detached() }
        let (result, _) = try Verifier(policy: policy).verify(path: target.path, signatures: signatures)
        #expect(result == .rejected(.digestMismatch(origin: signatures[0].origin)))
    }

    @Test func wrongDataDirectoryIsReported() throws {
        let dir = try TestFiles.makeTemporaryDirectory("gate-torrent")
        defer { TestFiles.cleanup(dir) }
        let torrent = try Self.makeTorrent(in: dir, name: "release", files: [("a.bin", 10)])
        let key = ArtifactSigningKey.cosign(try SigningKey.generateP256())
        #expect {
            _ = try TorrentSignatures.sign(torrent: torrent, subject: "t", dataDirectory: dir.path + "/nope", key: key)
        } throws: { ($0 as? SignatureGateError)?.code == .io }
    }

    @Test(arguments: [
        Array("not bencode".utf8),
        Array("d4:name1:xe".utf8),
        Array("d4:infod4:name2:..6:lengthi1eee".utf8),
    ])
    func malformedTorrentsThrowTypedErrors(bytes: [UInt8]) {
        #expect {
            _ = try TorrentSignatures.files(of: bytes, subject: "t")
        } throws: { ($0 as? SignatureGateError)?.code == .malformedTorrent }
    }
}
