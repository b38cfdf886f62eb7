import Foundation
import Metainfo
import SignatureGate

/// `make --manifest`: the signed release manifest written in the same run that hashes and signs the files (the
/// files' SHA-256 come from the piece hasher's single read pass; nothing is read twice).
public struct ManifestMaking: Sendable {
    /// Where the signed manifest goes.
    public var output: String
    /// The release name (default: the torrent's name, when it is a valid release name).
    public var name: String?
    public var version: ReleaseVersion
    /// Seconds from creation to expiry.
    public var lifetime: Int64
    /// Creation time, seconds since 1970 (`SOURCE_DATE_EPOCH` or now).
    public var created: Int64
    public var mirrors: [ReleaseManifest.Mirror]
    public var origin: String?
    /// Attestation files (DSSE envelopes or sigstore bundles, as `cosign attest-blob` writes them): each goes to
    /// every file of the release whose SHA-256 is one of its subjects.
    public var attestationFiles: [String]

    public init(
        output: String, name: String? = nil, version: ReleaseVersion, lifetime: Int64, created: Int64,
        mirrors: [ReleaseManifest.Mirror] = [], origin: String? = nil, attestationFiles: [String] = []
    ) {
        self.output = output
        self.name = name
        self.version = version
        self.lifetime = lifetime
        self.created = created
        self.mirrors = mirrors
        self.origin = origin
        self.attestationFiles = attestationFiles
    }

    /// Checks what can be checked before hashing: a name, a positive lifetime, URLs, readable attestations.
    ///
    /// - Throws: ``NodeError`` `.malformedInput` or `.io`.
    public func validate(contentName: String) throws(NodeError) {
        let name = name ?? contentName
        guard ReleaseManifest.isValidName(name) else {
            throw NodeError(
                .malformedInput,
                "release name '\(name)' must be 1 to 128 characters of A-Z a-z 0-9 . _ - (give --release-name)")
        }
        guard lifetime > 0 else { throw NodeError(.malformedInput, "--expires must be a positive duration") }
        for url in mirrors.map(\.url) + (origin.map { [$0] } ?? []) where !ReleaseManifest.isHTTPURL(url) {
            throw NodeError(.malformedInput, "'\(url)' is not an http(s) URL")
        }
        _ = try attestations()
    }

    /// The manifest for a made (and signed) torrent, signed with `keys`.
    ///
    /// - Parameters:
    ///   - made: the hasher's result (its per-file SHA-256 are used).
    ///   - torrent: the torrent's bytes as written (with embedded signatures).
    /// - Throws: ``NodeError`` `.malformedInput` for an attestation that names no file of the release,
    ///   `.signingFailed` when the hasher returned no SHA-256, or a signing error.
    public func manifest(
        made: MadeTorrent, torrent: [UInt8], keys: [ArtifactSigningKey]
    ) throws(NodeError) -> SignedManifest {
        guard !keys.isEmpty else { throw NodeError(.malformedInput, "a release manifest needs --sign KEY") }
        guard let sha256s = made.fileSHA256, sha256s.count == made.content.files.count else {
            throw NodeError(.signingFailed, "\(made.content.name): the hasher did not return per-file SHA-256")
        }
        var files = zip(made.content.files, sha256s).map { file, sha256 in
            ReleaseManifest.File(path: MakeSigning.torrentPath(of: file, in: made), size: file.length, sha256: sha256)
        }
        for (path, attestation) in try attestations() {
            let subjects = Set(attestation.subjectSHA256)
            var used = false
            for index in files.indices where subjects.contains(files[index].sha256Hex) {
                files[index].attestations.append(attestation.bytes)
                used = true
            }
            guard used else {
                throw NodeError(.malformedInput, "\(path): the attestation names no file of this release by SHA-256")
            }
        }
        let manifest = ReleaseManifest(
            name: name ?? made.content.name, version: version, created: created, expires: created + lifetime,
            files: files, infoHash: made.infoHash.hex, torrent: torrent, mirrors: mirrors, origin: origin)
        let fileName = (output as NSString).lastPathComponent
        do {
            return try SignedManifest.sign(manifest.canonicalJSON, keys: keys, fileName: fileName)
        } catch {
            throw NodeError(error)
        }
    }

    /// Writes the envelope to ``output``.
    public func write(_ signed: SignedManifest, overwrite: Bool) throws(NodeError) {
        do {
            try Data(signed.envelope).write(
                to: URL(fileURLWithPath: output), options: overwrite ? [.atomic] : [.withoutOverwriting])
        } catch {
            throw NodeError(.io, "\(output): cannot write: \(error.localizedDescription)")
        }
    }

    private func attestations() throws(NodeError) -> [(String, ProvenanceAttestation)] {
        var out: [(String, ProvenanceAttestation)] = []
        for path in attestationFiles {
            do {
                out.append((path, try ProvenanceAttestation.load(path)))
            } catch {
                throw NodeError(error)
            }
        }
        return out
    }
}
