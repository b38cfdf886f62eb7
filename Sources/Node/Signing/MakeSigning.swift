import Foundation
import Metainfo
import SignatureGate

/// `make --sign`: signs each file with the SHA-256 the piece hasher computed in its single read pass, and embeds
/// the signatures in the torrent outside the info dictionary (the info-hash does not change).
public enum MakeSigning {
    /// Loads the signing keys, asking for passwords (from `COSIGN_PASSWORD` / `MINISIGN_PASSWORD`, or the terminal)
    /// before any hashing starts.
    ///
    /// - Throws: ``NodeError`` `.io`, `.malformedInput` or `.password`.
    public static func loadKeys(_ paths: [String]) throws(NodeError) -> [ArtifactSigningKey] {
        var keys: [ArtifactSigningKey] = []
        do {
            for path in paths {
                keys.append(try loadKey(path))
            }
        } catch {
            throw NodeError(error)
        }
        return keys
    }

    /// Loads one signing key (cosign or minisign), asking for its password if it is encrypted.
    public static func loadKey(_ path: String) throws(SignatureGateError) -> ArtifactSigningKey {
        try ArtifactSigningKey.load(path) { format throws(SignatureGateError) in
            let variable = format == .minisign ? "MINISIGN_PASSWORD" : "COSIGN_PASSWORD"
            return try PasswordSource.read(environmentVariable: variable, prompt: "Password for \(path): ")
        }
    }

    /// The digests the hasher computes in its read pass for these keys: SHA-256, plus BLAKE2b-512 for minisign keys
    /// (prehashed minisign signs BLAKE2b-512), so no file is read twice.
    public static func fileDigests(for keys: [ArtifactSigningKey]) -> WholeFileDigests {
        keys.contains { $0.format == .minisign } ? .sha256AndBLAKE2b512 : .sha256
    }

    /// Signs every file of the torrent at `torrentPath` (its content under `dataDirectory`, the directory holding the
    /// torrent's top-level name) with `key`, and writes the torrent with the signatures embedded to `output`
    /// (default: in place, atomically). More signers can be added later the same way; the info-hash never changes.
    ///
    /// - Returns: where the torrent was written and the signatures made.
    /// - Throws: ``NodeError`` `.io`, `.malformedInput` or `.signingFailed`.
    public static func signTorrent(
        _ torrentPath: String, dataDirectory: String, key: ArtifactSigningKey, output: String? = nil
    ) throws(NodeError) -> (path: String, signatures: [EmbeddedSignature]) {
        let signed: [UInt8]
        let made: [EmbeddedSignature]
        do {
            let bytes = try TorrentSignatures.readTorrentFile(torrentPath)
            (signed, made) = try TorrentSignatures.sign(
                torrent: bytes, subject: torrentPath, dataDirectory: dataDirectory, key: key)
        } catch {
            throw NodeError(error)
        }
        let target = output ?? torrentPath
        do {
            try Data(signed).write(to: URL(fileURLWithPath: target), options: .atomic)
        } catch {
            throw NodeError(.io, "\(target): cannot write: \(error.localizedDescription)")
        }
        return (target, made)
    }

    /// A file's path in the torrent, starting with the torrent's name (as signatures, manifests and the audit log
    /// name it).
    public static func torrentPath(of file: ContentFile, in made: MadeTorrent) -> [String] {
        made.content.isSingleFile ? file.path : [made.content.name] + file.path
    }

    /// Returns `made.bytes` with every file signed by every key.
    ///
    /// - Throws: ``NodeError`` `.signingFailed` when the hasher did not return per-file SHA-256, or a signing or
    ///   read failure.
    public static func embed(made: MadeTorrent, keys: [ArtifactSigningKey]) throws(NodeError) -> [UInt8] {
        guard let sha256s = made.fileSHA256, sha256s.count == made.content.files.count else {
            throw NodeError(.signingFailed, "\(made.content.name): the hasher did not return per-file SHA-256")
        }
        do {
            var signatures: [EmbeddedSignature] = []
            for (index, (file, sha256)) in zip(made.content.files, sha256s).enumerated() {
                let path = torrentPath(of: file, in: made)
                var digests = SignatureGate.FileDigests(size: file.length, sha256: sha256, blake2b512: nil)
                if let blake2b = made.fileBLAKE2b512, blake2b.count == sha256s.count {
                    digests.blake2b512 = blake2b[index]
                } else if keys.contains(where: { $0.format == .minisign }) {
                    let blake = try SignatureGate.FileDigests.compute(
                        path: file.sourcePath, needs: .init(sha256: false, blake2b512: true))
                    digests.blake2b512 = blake.blake2b512
                }
                for key in keys {
                    signatures.append(try TorrentSignatures.embedded(for: path, digests: digests, key: key))
                }
            }
            return try TorrentSignatures.adding(signatures, to: made.bytes, subject: made.content.name)
        } catch {
            throw NodeError(error)
        }
    }
}
