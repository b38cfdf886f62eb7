import Engine
import Foundation
import Logging
import Metainfo
import SignatureGate

/// A leech through the signature gate, as `swtorrent leech` runs it: nothing unverified is ever placed in the
/// output directory.
///
/// 1. The torrent is downloaded into the ``GateLayout/staging`` directory (mode 0700), never into the output. Files
///    already in the output at their full length are copied into staging first, so a re-run fetches only what is
///    missing or damaged and the output is only ever replaced by rename.
/// 2. While it downloads, each file's SHA-256 is taken from the verified pieces the engine still holds in memory
///    (``StreamingFileHasher``), so the gate does not read the staged files again after the last piece.
/// 3. When every piece is verified, each file's signatures (embedded in the torrent, or shipped beside it in the
///    torrent) are checked against the trust policy; files that pass are released into the output by an atomic
///    rename, the others are moved to the quarantine. Every decision is appended to the audit log, with the bytes
///    each peer supplied.
/// 4. With ``SessionConfiguration/seedAfterComplete``, the released files are then seeded from the output.
///
/// The gate's blocking I/O runs on the calling task after the download session has ended; call ``run(events:)``
/// from a task, not from an event loop. Run inside a ``ServiceGroup`` (``TransferService``), a graceful shutdown
/// stops the current transfer.
public struct GatedLeech: Sendable {
    public var torrentPath: String
    /// The output directory: released files go here.
    public var output: String
    public var policy: TrustPolicy
    /// Staging, quarantine and audit log where they are not the defaults beside the output (see
    /// ``GateLayout/beside(output:infoHash:staging:quarantine:auditLog:)``).
    public var staging: String?
    public var quarantine: String?
    public var auditLog: String?
    /// Session settings for the download (and, with `seedAfterComplete`, the seeding that follows the release).
    public var configuration: SessionConfiguration
    /// Copies of verified pieces the streaming SHA-256 may hold ahead of the file's front
    /// (``StreamingFileHasher/windowBytes``); nil turns it off, and the gate then reads every staged file again.
    public var digestWindowBytes: Int? = StreamingFileHasher.defaultWindowBytes
    /// The node's host for the download and the seed-after phase (see ``TransferRunner/host``); nil: a host of
    /// their own.
    public var host: SessionHost?
    /// The release manifest the torrent came from (``ManifestLeech``): named in every audit record.
    public var manifest: ManifestReference?
    /// Each file's SHA-256 as the release manifest states it (path joined with `/`): a file with other bytes is
    /// quarantined (`digest-mismatch`) whatever its signatures say.
    public var expectedSHA256: [String: [UInt8]] = [:]
    let logger: Logger
    /// Where the gate logs its decisions (they are also returned and audited).
    let gateLogger: Logger

    /// - Parameters:
    ///   - torrentPath: the `.torrent` file.
    ///   - output: where released files go (created if missing).
    ///   - policy: the trust policy (``TrustPolicySources/policy()``, or ``TrustPolicySources/unsigned``).
    ///   - staging, quarantine, auditLog: where they go when not beside `output` (``GateLayout``).
    ///   - configuration: the download's session settings.
    ///   - logger: where the sessions log.
    ///   - gateLogger: where the gate logs (default: `logger`).
    public init(
        torrentPath: String, output: String, policy: TrustPolicy, staging: String? = nil, quarantine: String? = nil,
        auditLog: String? = nil, configuration: SessionConfiguration, logger: Logger, gateLogger: Logger? = nil
    ) {
        self.torrentPath = torrentPath
        self.output = output
        self.policy = policy
        self.staging = staging
        self.quarantine = quarantine
        self.auditLog = auditLog
        self.configuration = configuration
        self.logger = logger
        self.gateLogger = gateLogger ?? logger
    }

    /// Downloads, gates, releases and (if asked) seeds.
    ///
    /// - Parameter events: progress and decisions as they happen (see ``GatedLeechEvent``).
    /// - Returns: released, refused (with each file's reason), or not downloaded (stopped or stalled).
    /// - Throws: ``NodeError``: `.malformedInput` for a torrent or signature data that cannot be parsed, or a policy
    ///   that requires provenance attestations without a ``manifest`` (attestations travel in manifests),
    ///   `.noTrustedKey` for a policy that requires signers but trusts no key, `.io` for staging, download or release
    ///   failures.
    public func run(
        events: @escaping @Sendable (GatedLeechEvent) -> Void = { _ in }
    ) async throws(NodeError) -> GatedLeechOutcome {
        let (gate, torrentBytes, infoHash, files, pieceLength) = try prepare()

        // Each file's SHA-256 is taken while it downloads, from the verified pieces' buffers the engine hands over
        // (shared, not copied; read back from staging where it has none), so the gate need not read the files again.
        let hasher = digestWindowBytes.map {
            StreamingFileHasher(
                directory: gate.stagingDirectory,
                files: files.map { StreamingFileHasher.File(path: $0.path.joined(separator: "/"), length: $0.length) },
                pieceLength: pieceLength, windowBytes: $0)
        }
        // Download into staging and stop at completion: seeding (if asked) starts from the released files.
        var download = configuration
        download.seedAfterComplete = nil
        download.seedUntilStopped = false
        let downloaded: SessionOutcome
        do throws(NodeError) {
            downloaded = try await TransferRunner(
                torrentPath: torrentPath, directory: gate.stagingDirectory, mode: .leech, configuration: download,
                logger: logger, host: host
            ).run(
                progress: { events(.progress($0)) },
                storageOpened: { storage in
                    guard let hasher else { return }
                    let before = storage.observeVerifiedPieces {
                        hasher.pieceVerified($0, bytes: $1.map(VerifiedPieceBytes.init))
                    }
                    for piece in before.setIndices { hasher.pieceVerified(piece, bytes: nil) }
                })
        } catch {
            hasher?.cancel()
            throw error
        }
        events(.downloadEnded(downloaded))
        guard case .complete(let final) = downloaded else {
            hasher?.cancel()
            return .notDownloaded(downloaded)
        }
        let precomputed = hasher?.finish() ?? [:]
        if let statistics = hasher?.statistics {
            events(.digestsStreamed(files: precomputed.count, of: files.count, statistics))
            let (memory, readBack) = (statistics.piecesFromMemory, statistics.piecesReadBack)
            let held = statistics.peakHeldBytes >> 20
            gateLogger.info(
                """
                streamed SHA-256 of \(precomputed.count) of \(files.count) files: \(memory) pieces from memory, \
                \(readBack) read back, at most \(held) MiB held
                """)
        }

        // The session has ended and closed its files; the gate's blocking I/O runs on this task.
        let decisions: [TorrentFileDecision]
        do {
            decisions = try gate.releaseTorrent(
                torrentBytes, subject: torrentPath, policy: policy, infoHash: infoHash,
                peers: Self.contributions(final.suppliedBytes, identities: final.supplierIdentities), precomputed: precomputed, manifest: manifest,
                expectedSHA256: expectedSHA256)
        } catch {
            throw NodeError(error)
        }
        decisions.forEach { events(.decision($0)) }
        Self.removeEmptyDirectories(gate.stagingDirectory)
        if decisions.contains(where: { !$0.decision.isReleased }) { return .refused(decisions) }

        guard configuration.seedAfterComplete != nil else { return .released(decisions, seeding: nil) }
        // Seed the released bytes from the output, read-only (the seed mode never writes).
        var seeding = configuration
        seeding.seedUntilStopped = false
        let seeded = try await TransferRunner(
            torrentPath: torrentPath, directory: output, mode: .seed, configuration: seeding, logger: logger,
            host: host
        ).run { events(.seedingProgress($0)) }
        events(.seedingEnded(seeded))
        return .released(decisions, seeding: seeded)
    }

    /// Reads the torrent, checks the policy, opens the gate and prefills staging from the output.
    func prepare() throws(NodeError) -> (
        gate: ReleaseGate, torrent: [UInt8], infoHash: String, files: [TorrentFileEntry], pieceLength: Int
    ) {
        let torrentBytes: [UInt8]
        do {
            torrentBytes = try TorrentSignatures.readTorrentFile(torrentPath)
        } catch {
            throw NodeError(error)
        }
        try TrustPolicySources.requireUsable(policy)
        if manifest == nil && !policy.attestationPredicateTypes.isEmpty {
            // Attestations travel in release manifests: a bare torrent could never satisfy the policy.
            throw NodeError(
                .malformedInput,
                "\(torrentPath): the trust policy requires provenance attestations (require-attestation), which "
                    + "travel in release manifests: leech the release's signed manifest instead of its torrent")
        }
        let infoHash: String
        let pieceLength: Int
        do {
            let torrent = try Torrent(bytes: torrentBytes)
            infoHash = torrent.infoHash.hex
            pieceLength = torrent.pieceLength
        } catch {
            throw NodeError(.malformedInput, "\(torrentPath): \(error)")
        }
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw NodeError(.io, "\(output): cannot create the output directory: \(error.localizedDescription)")
        }
        let layout = try GateLayout.beside(
            output: output, infoHash: infoHash, staging: staging, quarantine: quarantine, auditLog: auditLog)
        var gate: ReleaseGate
        do {
            gate = try ReleaseGate(
                stagingDirectory: layout.staging, destinationDirectory: output, quarantineDirectory: layout.quarantine,
                auditLogPath: layout.auditLog, logger: gateLogger)
        } catch {
            throw NodeError(.io, "\(error)")
        }
        // The engine writes whole pieces with O_DIRECT, so the staged data is on disk, not in the page cache: hash it
        // the same way rather than paying for a page-cache fill (more CPU than the SHA-256 here).
        gate.readsBypassPageCache = true
        let files: [TorrentFileEntry]
        do {
            files = try TorrentSignatures.files(of: torrentBytes, subject: torrentPath)
        } catch {
            throw NodeError(error)
        }
        try Self.prefillStaging(files: files, from: output, into: gate.stagingDirectory)
        return (gate, torrentBytes, infoHash, files, pieceLength)
    }

    /// The engine's verified bytes per file per peer address, as the audit log records them (largest first).
    static func contributions(_ supplied: [String: [String: Int64]], identities: [String: PeerIdentity])
        -> [String: [PeerContribution]]
    {
        supplied.mapValues { byPeer in
            byPeer.map { peer, bytes in
                let identity = identities[peer]
                return PeerContribution(peer: peer, bytes: bytes, name: identity?.name, key: identity?.fingerprint)
            }
                .sorted { $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.peer < $1.peer }
        }
    }
}
