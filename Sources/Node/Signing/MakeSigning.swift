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
                let path = made.content.isSingleFile ? file.path : [made.content.name] + file.path
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
