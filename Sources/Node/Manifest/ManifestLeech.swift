import Engine
import Foundation
import Logging
import Metainfo
import SignatureGate

/// `swtorrent leech MANIFEST`: a leech that starts from a signed release manifest instead of a `.torrent`.
///
/// 1. The manifest is checked before anything is fetched (``ManifestAcceptance``): signatures against the trust
///    policy, freshness, minimum version, rollback, agreement with its embedded torrent, provenance attestations. A
///    refused manifest releases nothing: the refusal is appended to the audit log and returned.
/// 2. The embedded torrent is written into the gate directory and downloaded through the signature gate
///    (``GatedLeech``) from peers (the torrent's trackers, `manualPeers`, local discovery: LAN peers first) and from
///    the manifest's mirrors (HTTP block sources beside the configured ones, LAN mirrors first), and from its origin
///    as a last resort when ``allowOrigin`` is set. Each file is released only if its SHA-256 is the one the
///    manifest states and its own signatures verify; every audit record names the manifest.
/// 3. When every file was released, the release's version is recorded in the node's ``VersionLedger``, so an older
///    manifest of the same name is refused from then on.
public struct ManifestLeech: Sendable {
    /// Where the manifest came from (a path), for messages and the audit log.
    public var source: String
    public var signed: SignedManifest
    public var acceptance: ManifestAcceptance
    /// The gated leech that fetches and releases the manifest's torrent (output, gate paths, session settings,
    /// loggers); its torrent, policy, manifest and expected digests are set from the manifest when it runs.
    var gated: GatedLeech
    /// Fetch from the manifest's origin (CDN) when nothing else can serve (`leech --allow-origin`); without it the
    /// origin is never contacted.
    public var allowOrigin = false
    /// The site this node is in (`leech --site`): the manifest's mirrors of this site are LAN and those of another
    /// site WAN, whatever their address (``mirrorLocalities(_:site:)``); nil leaves every mirror to the address rules.
    public var site: String?

    /// Where released files go.
    public var output: String { gated.output }
    /// The node's host for the download (see ``GatedLeech/host``).
    public var host: SessionHost? {
        get { gated.host }
        set { gated.host = newValue }
    }
    /// The download's session settings (see ``GatedLeech/configuration``).
    public var configuration: SessionConfiguration {
        get { gated.configuration }
        set { gated.configuration = newValue }
    }

    /// - Parameters:
    ///   - source: the manifest's path (or URL), named in messages and the audit log.
    ///   - signed: the signed manifest as read.
    ///   - output: where released files go.
    ///   - acceptance: the policy, the version ledger, and the freshness and rollback settings.
    ///   - staging, quarantine, auditLog, configuration, logger, gateLogger: as for ``GatedLeech``.
    public init(
        source: String, signed: SignedManifest, output: String, acceptance: ManifestAcceptance, staging: String? = nil,
        quarantine: String? = nil, auditLog: String? = nil, configuration: SessionConfiguration, logger: Logger,
        gateLogger: Logger? = nil
    ) {
        self.source = source
        self.signed = signed
        self.acceptance = acceptance
        gated = GatedLeech(
            torrentPath: "", output: output, policy: acceptance.policy, staging: staging, quarantine: quarantine,
            auditLog: auditLog, configuration: configuration, logger: logger, gateLogger: gateLogger)
    }

    /// How a manifest leech ended.
    public enum Outcome: Sendable, Hashable {
        /// The manifest was refused before anything was fetched; nothing was released.
        case refused(ManifestAcceptance.Refusal)
        /// The manifest was accepted and its torrent went through the gated leech.
        case leeched(AcceptedManifest, GatedLeechOutcome)
    }

    /// Checks the manifest, then downloads, gates and releases.
    ///
    /// - Parameters:
    ///   - accepted: called once the manifest passed every check, before the download starts.
    ///   - events: the gated leech's events.
    /// - Throws: ``NodeError`` as ``GatedLeech/run(events:)``, or when the audit log, the state directory or the
    ///   gate directory cannot be written.
    public func run(
        accepted: @Sendable (AcceptedManifest) -> Void = { _ in },
        events: @escaping @Sendable (GatedLeechEvent) -> Void = { _ in }
    ) async throws(NodeError) -> Outcome {
        try TrustPolicySources.requireUsable(acceptance.policy)
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw NodeError(.io, "\(output): cannot create the output directory: \(error.localizedDescription)")
        }
        let gateDirectory = try GateLayout.gateDirectory(output: output)
        let auditPath = gated.auditLog ?? GateLayout.beside(gateDirectory: gateDirectory, infoHash: "").auditLog
        let manifest: AcceptedManifest
        switch try acceptance.check(signed, source: source) {
        case .failure(let refusal):
            try audit(refusal, to: auditPath)
            return .refused(refusal)
        case .success(let ok):
            manifest = ok
        }
        accepted(manifest)

        let torrentPath = gateDirectory + "/manifest-" + manifest.manifest.infoHash + ".torrent"
        do {
            try Data(manifest.manifest.torrent).write(to: URL(fileURLWithPath: torrentPath), options: .atomic)
        } catch {
            throw NodeError(.io, "\(torrentPath): cannot write the manifest's torrent: \(error.localizedDescription)")
        }
        defer { _ = unlink(torrentPath) }
        var leech = gated
        leech.torrentPath = torrentPath
        leech.policy = acceptance.policy
        leech.auditLog = auditPath
        leech.manifest = manifest.reference
        leech.configuration.mirrors += manifest.manifest.mirrors.map(\.url)
        leech.configuration.mirrorLocalities.merge(Self.mirrorLocalities(manifest.manifest.mirrors, site: site)) {
            $1
        }
        if allowOrigin { leech.configuration.origin = manifest.manifest.origin }
        leech.expectedSHA256 = Dictionary(
            manifest.manifest.files.map { ($0.displayPath, $0.sha256) }, uniquingKeysWith: { first, _ in first })
        let outcome = try await leech.run(events: events)
        if case .released = outcome {
            do {
                try acceptance.ledger.record(
                    manifest.manifest.name, version: manifest.manifest.version, manifestSHA256: signed.digest)
            } catch {
                throw NodeError(error)
            }
        }
        return .leeched(manifest, outcome)
    }

    /// The localities a manifest's `site`s give its mirrors on a node at `site`: a mirror of the same site (the same
    /// string) is `.lan`, one of another site `.wan`; a mirror without a site, or every mirror when the node has no
    /// site, is left out (its URL's address decides, as for peers). The site is a claim of the signed manifest, so a
    /// LAN mirror found by it is used first like any LAN mirror, and its bytes are still checked like any other.
    public static func mirrorLocalities(_ mirrors: [ReleaseManifest.Mirror], site: String?) -> [String: PeerLocality] {
        guard let site else { return [:] }
        var localities: [String: PeerLocality] = [:]
        for mirror in mirrors {
            guard let mirrorSite = mirror.site else { continue }
            localities[mirror.url] = mirrorSite.utf8.elementsEqual(site.utf8) ? .lan : .wan  // byte for byte, as documented
        }
        return localities
    }

    /// Appends a refused manifest's audit record: nothing released, the manifest named as far as it could be.
    private func audit(_ refusal: ManifestAcceptance.Refusal, to path: String) throws(NodeError) {
        let record = AuditRecord(
            time: AuditLog.now(), infoHash: nil, file: source, sha256: signed.digest,
            size: Int64(signed.manifestBytes.count), signers: refusal.reference.signers, result: "refused-manifest",
            reason: refusal.reason.name, message: refusal.reason.description, path: source, peers: nil,
            manifest: refusal.reference)
        let directory = (path as NSString).deletingLastPathComponent
        do {
            if !directory.isEmpty {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
        } catch {
            throw NodeError(.io, "\(directory): cannot create the audit log's directory: \(error.localizedDescription)")
        }
        do {
            try AuditLog(path: path).append(record)
        } catch {
            throw NodeError(error)
        }
    }
}
