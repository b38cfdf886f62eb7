import Foundation
import SignatureGate

/// The signature gate on its own, as `swtorrent verify` runs it: one file against its detached signatures, or every
/// file of a torrent against the signatures embedded in it and shipped beside it. Uses the same trust policy and the
/// same ``Verifier`` as ``GatedLeech``, so a file this accepts is a file the leech releases.
public struct ArtifactVerifier: Sendable {
    public var policy: TrustPolicy

    public init(policy: TrustPolicy) {
        self.policy = policy
    }

    /// One torrent file's verdict.
    public struct Verdict: Sendable, Hashable {
        /// Where the file is on disk.
        public var path: String
        public var result: VerificationResult
    }

    /// Verifies `file` against the signature files `signatureFiles` (`.sig`, `.minisig`, sigstore bundles); with
    /// none, against `FILE.sig`, `FILE.minisig` and `FILE.sigstore.json` where they exist.
    ///
    /// - Throws: ``NodeError`` `.io` when a file cannot be read, `.malformedInput` for a signature file that does
    ///   not parse.
    public func verify(file: String, signatureFiles: [String]) throws(NodeError) -> VerificationResult {
        var paths = signatureFiles
        if paths.isEmpty {
            paths = TorrentSignatures.shippedSignatureExtensions.map { file + $0 }
                .filter { FileManager.default.fileExists(atPath: $0) }
        }
        do {
            let signatures = try paths.map { path throws(SignatureGateError) in try DetachedSignature.load(path) }
            return try Verifier(policy: policy).verify(path: file, signatures: signatures, alwaysSHA256: false).0
        } catch {
            throw NodeError(error)
        }
    }

    /// Verifies every artifact of the torrent at `torrentPath`, whose content is under `dataDirectory` (the
    /// directory that holds the torrent's top-level name), in torrent order.
    ///
    /// - Throws: ``NodeError`` `.io` when a file cannot be read, `.malformedInput` for a torrent or signature file
    ///   that does not parse.
    public func verify(torrentPath: String, dataDirectory: String) throws(NodeError) -> [Verdict] {
        do {
            let bytes = try TorrentSignatures.readTorrentFile(torrentPath)
            let embedded = try TorrentSignatures.read(bytes, subject: torrentPath)
            let files = try TorrentSignatures.files(of: bytes, subject: torrentPath)
            var verdicts: [Verdict] = []
            for artifact in TorrentSignatures.plan(files: files, embedded: embedded) {
                let path = TorrentSignatures.contentPath(artifact.file.path, dataDirectory: dataDirectory)
                let signatures = try artifact.signatures(dataDirectory: dataDirectory)
                verdicts.append(Verdict(path: path, result: try Verifier(policy: policy).verify(
                    path: path, signatures: signatures).0))
            }
            return verdicts
        } catch {
            throw NodeError(error)
        }
    }
}
