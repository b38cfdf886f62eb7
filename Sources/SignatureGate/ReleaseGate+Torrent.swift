import Foundation
import SystemSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The gate's decision for one file of a torrent.
public struct TorrentFileDecision: Sendable, Hashable {
    /// The file's path in the torrent (starting with the torrent's name).
    public var path: [String]
    public var decision: ReleaseDecision
}

extension ReleaseGate {
    /// Runs every artifact of a completed torrent through the gate: the torrent was downloaded into the staging
    /// directory (the torrent's top-level name directly under it). Each artifact is verified against its embedded
    /// signatures and the signature files shipped beside it in the torrent, then released or quarantined.
    /// A shipped signature file follows its artifact into the destination once the artifact was released, and is
    /// removed from staging with it otherwise.
    ///
    /// - Parameters:
    ///   - torrent: the raw `.torrent` bytes.
    ///   - subject: the torrent's name for messages.
    ///   - policy: the trust policy.
    ///   - infoHash: hex info-hash, for the audit log.
    ///   - peers: bytes supplied per peer for each file (keyed by the path joined with `/`), for the audit log.
    ///   - precomputed: SHA-256 digests taken while the torrent downloaded (``StreamingFileHasher``), keyed like
    ///     `peers`: a file that has one and is unchanged since is not read again (unless the policy needs a
    ///     digest it lacks); a file that has one but changed is quarantined (`changed-after-verification`).
    ///   - manifest: the release manifest the torrent came from, named in every audit record.
    ///   - expectedSHA256: each file's SHA-256 as the release manifest states it, keyed like `peers`: a file whose
    ///     bytes have another digest is quarantined (`digest-mismatch`) whatever its signatures say.
    /// - Returns: one decision per artifact, in torrent order.
    /// - Throws: ``SignatureGateError`` for a malformed torrent, a malformed shipped signature file, or I/O failure.
    public func releaseTorrent(
        _ torrent: [UInt8],
        subject: String,
        policy: TrustPolicy,
        infoHash: String? = nil,
        peers: [String: [PeerContribution]] = [:],
        mode: mode_t = 0o644,
        precomputed: [String: PrecomputedDigest] = [:],
        manifest: ManifestReference? = nil,
        expectedSHA256: [String: [UInt8]] = [:]
    ) throws(SignatureGateError) -> [TorrentFileDecision] {
        let files = try TorrentSignatures.files(of: torrent, subject: subject)
        let embedded = try TorrentSignatures.read(torrent, subject: subject)
        var decisions: [TorrentFileDecision] = []
        for artifact in TorrentSignatures.plan(files: files, embedded: embedded) {
            let name = artifact.file.path.joined(separator: "/")
            let signatures: [DetachedSignature]
            do {
                signatures = try artifact.signatures(dataDirectory: stagingDirectory)
            } catch let error where error.code == .malformedSignature || error.code == .malformedBundle {
                // A garbled shipped signature refuses its artifact rather than stopping the whole torrent.
                let decision = try quarantineUnverifiable(
                    name, because: error, infoHash: infoHash, peers: peers[name], manifest: manifest)
                for shipped in artifact.shipped { _ = unlink(stagingDirectory + "/" + shipped.joined(separator: "/")) }
                decisions.append(TorrentFileDecision(path: artifact.file.path, decision: decision))
                continue
            }
            let decision = try release(
                stagedFile: name, as: nil, signatures: signatures, policy: policy, mode: mode, infoHash: infoHash,
                peers: peers[name], precomputed: precomputed[name], expectedSHA256: expectedSHA256[name],
                manifest: manifest, afterVerification: {}
            )
            for shipped in artifact.shipped {
                let relative = shipped.joined(separator: "/")
                let from = stagingDirectory + "/" + relative
                if decision.isReleased {
                    let to = destinationDirectory + "/" + relative
                    _ = chmod(from, 0o644)
                    if rename(from, to) != 0 {
                        throw SignatureGateError(.io, to, "cannot move the signature file: \(ErrnoText.of())")
                    }
                } else {
                    _ = unlink(from)
                }
            }
            decisions.append(TorrentFileDecision(path: artifact.file.path, decision: decision))
        }
        return decisions
    }

    /// Quarantines a staged file whose signature file cannot even be parsed, and audits it.
    private func quarantineUnverifiable(
        _ name: String,
        because error: SignatureGateError,
        infoHash: String?,
        peers: [PeerContribution]?,
        manifest: ManifestReference?
    ) throws(SignatureGateError) -> ReleaseDecision {
        let reason = RejectionReason.refusedByPolicy(
            origin: error.subject, detail: "unreadable signature file: \(error.code.rawValue): \(error.detail)"
        )
        return try release(
            stagedFile: name, as: nil, signatures: [], policy: TrustPolicy(keys: []), mode: 0o600,
            infoHash: infoHash, peers: peers, forcedRejection: reason, manifest: manifest, afterVerification: {}
        )
    }
}
