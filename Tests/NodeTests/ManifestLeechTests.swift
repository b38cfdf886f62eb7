import Engine
import Foundation
import Logging
import Node
import ServiceLifecycle
import SignatureGate
import TestSupport
import Testing

/// A fixture's torrent wrapped in signed release manifests, leeched through ``ManifestLeech``: every refusal the
/// issue lists releases nothing and is audited with its reason; a good manifest releases and is recorded.
struct ManifestLeechTests {
    static let now: Int64 = 1_800_000_000
    static let slsa = "https://slsa.dev/provenance/v1"

    /// A manifest of the fixture's torrent: version `version`, valid from `now - 1h` for a week.
    static func manifest(
        _ f: NodeFixture, version: String = "1.4.2", created: Int64 = now - 3600, lifetime: Int64 = 7 * 86400,
        edit: (inout ReleaseManifest) throws -> Void = { _ in }
    ) throws -> ReleaseManifest {
        let torrent = Array(try Data(contentsOf: URL(fileURLWithPath: f.torrentPath)))
        let files = try TorrentSignatures.files(of: torrent, subject: "t").map { file in
            let digests = try SignatureGate.FileDigests.compute(
                path: TorrentSignatures.contentPath(file.path, dataDirectory: f.source),
                needs: .init(sha256: true, blake2b512: false))
            return ReleaseManifest.File(path: file.path, size: file.length, sha256: try #require(digests.sha256))
        }
        var manifest = ReleaseManifest(
            name: "rel", version: try ReleaseVersion(version), created: created, expires: created + lifetime,
            files: files, infoHash: f.infoHash, torrent: torrent,
            mirrors: [.init(url: "http://127.0.0.1:9/dead-mirror/", site: "lan")])
        try edit(&manifest)
        return manifest
    }

    static func sign(_ manifest: ReleaseManifest, with key: SigningKey) throws -> SignedManifest {
        try SignedManifest.sign(manifest.canonicalJSON, keys: [.cosign(key)], fileName: "rel.manifest")
    }

    static func leech(
        _ f: NodeFixture, _ signed: SignedManifest, policy: TrustPolicy? = nil, allowDowngrade: Bool = false
    ) throws -> ManifestLeech {
        let acceptance = ManifestAcceptance(
            policy: try policy ?? TrustPolicySources(keyFiles: [f.signerKeyFile]).policy(),
            ledger: VersionLedger(directory: f.root.appendingPathComponent("state").path),
            allowDowngrade: allowDowngrade, now: { now })
        return ManifestLeech(
            source: f.root.appendingPathComponent("rel.manifest").path, signed: signed, output: f.output,
            acceptance: acceptance, staging: f.layout.staging, quarantine: f.layout.quarantine,
            auditLog: f.layout.auditLog, configuration: NodeFixture.configuration, logger: Logger(label: "test.node"))
    }

    /// Checks a refusal: the reason, nothing in the output, and the audit record naming it.
    static func expectRefused(
        _ outcome: ManifestLeech.Outcome, _ name: String, _ f: NodeFixture, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        guard case .refused(let refusal) = outcome else {
            throw Failure("expected the manifest to be refused (\(name)), got \(outcome)")
        }
        #expect(refusal.reason.name == name, sourceLocation: sourceLocation)
        #expect(f.outputEntries().isEmpty, "nothing released", sourceLocation: sourceLocation)
        let record = try #require(try f.auditRecords().last, sourceLocation: sourceLocation)
        #expect(record["result"] as? String == "refused-manifest", sourceLocation: sourceLocation)
        #expect(record["reason"] as? String == name, sourceLocation: sourceLocation)
        let manifest = try #require(record["manifest"] as? [String: Any], sourceLocation: sourceLocation)
        #expect(manifest["sha256"] as? String == refusal.reference.sha256, sourceLocation: sourceLocation)
        #expect(manifest["name"] as? String == "rel", sourceLocation: sourceLocation)
    }

    @Test func goodManifestReleasesNamesItInTheAuditAndRecordsItsVersion() async throws {
        let f = try NodeFixture("manifest-good")
        defer { f.cleanup() }
        try f.stageContent()
        let signed = try Self.sign(try Self.manifest(f), with: f.signer)
        let leech = try Self.leech(f, signed)
        let outcome = try await leech.run()
        guard case .leeched(let accepted, let gated) = outcome else { throw Failure("not accepted: \(outcome)") }
        #expect(accepted.signers.map(\.keyID) == [TrustedKey.cosign(f.signer.publicKey).keyID])
        #expect(gated.decisions.count == 2 && gated.decisions.allSatisfy { $0.decision.isReleased })
        #expect(f.outputEntries() == ["rel", "rel/app.tar", "rel/lib.so"])
        for record in try f.auditRecords() {
            let manifest = try #require(record["manifest"] as? [String: Any])
            #expect(manifest["name"] as? String == "rel")
            #expect(manifest["version"] as? String == "1.4.2")
            #expect(manifest["sha256"] as? String == signed.digest)
            #expect(manifest["signers"] as? [String] == [TrustedKey.cosign(f.signer.publicKey).keyID])
        }
        #expect(try leech.acceptance.ledger.highest("rel") == ReleaseVersion("1.4.2"))
        #expect(try leech.acceptance.ledger.entries()["rel"]?.manifestSHA256 == signed.digest)
    }

    @Test func expiredManifestIsRefused() async throws {
        let f = try NodeFixture("manifest-expired")
        defer { f.cleanup() }
        try f.stageContent()
        // Expired 10 minutes ago: beyond the 5-minute skew allowance.
        let stale = try Self.manifest(f, created: Self.now - 86400, lifetime: 86400 - 600)
        try Self.expectRefused(try await Self.leech(f, try Self.sign(stale, with: f.signer)).run(), "expired", f)
        // Expired 2 minutes ago: within the allowance, accepted.
        let recent = try Self.manifest(f, created: Self.now - 86400, lifetime: 86400 - 120)
        let outcome = try await Self.leech(f, try Self.sign(recent, with: f.signer)).run()
        guard case .leeched = outcome else { throw Failure("within the clock skew but refused: \(outcome)") }
    }

    @Test func manifestFromTheFutureIsRefused() async throws {
        let f = try NodeFixture("manifest-future")
        defer { f.cleanup() }
        let future = try Self.manifest(f, created: Self.now + 3600)
        try Self.expectRefused(try await Self.leech(f, try Self.sign(future, with: f.signer)).run(), "not-yet-valid", f)
    }

    @Test func replayedOlderManifestIsRefusedUnlessDowngradeIsAllowed() async throws {
        let f = try NodeFixture("manifest-rollback")
        defer { f.cleanup() }
        try f.stageContent()
        let newer = try Self.sign(try Self.manifest(f, version: "1.5"), with: f.signer)
        guard case .leeched(_, .released) = try await Self.leech(f, newer).run() else { throw Failure("1.5 not released") }
        try FileManager.default.removeItem(atPath: f.output)
        try? FileManager.default.removeItem(atPath: f.layout.staging + "/rel")
        try f.stageContent()
        // The older manifest is validly signed and fresh: only the ledger stops it.
        let older = try Self.sign(try Self.manifest(f, version: "1.4.9"), with: f.signer)
        try Self.expectRefused(try await Self.leech(f, older).run(), "rollback", f)
        let record = try #require(try f.auditRecords().last)
        #expect((record["message"] as? String)?.contains("1.4.9 is older than 1.5") == true)
        // --allow-downgrade: released, and the ledger keeps 1.5.
        let allowed = try Self.leech(f, older, allowDowngrade: true)
        guard case .leeched(_, .released) = try await allowed.run() else { throw Failure("downgrade not released") }
        #expect(try allowed.acceptance.ledger.highest("rel") == ReleaseVersion("1.5"))
    }

    @Test func policyMinimumVersionIsEnforced() async throws {
        let f = try NodeFixture("manifest-minimum")
        defer { f.cleanup() }
        let policyFile = f.root.appendingPathComponent("policy").path
        try "trust signer.pub\nmin-version rel 2.0\n".write(toFile: policyFile, atomically: true, encoding: .utf8)
        let policy = try TrustPolicySources(policyFile: policyFile).policy()
        let signed = try Self.sign(try Self.manifest(f, version: "1.9.9"), with: f.signer)
        try Self.expectRefused(try await Self.leech(f, signed, policy: policy).run(), "below-minimum-version", f)
    }

    @Test func fileDigestThatDisagreesWithTheTorrentIsRefused() async throws {
        let f = try NodeFixture("manifest-mismatch")
        defer { f.cleanup() }
        let lying = try Self.manifest(f) { $0.files[0].sha256[0] ^= 0xff }
        try Self.expectRefused(
            try await Self.leech(f, try Self.sign(lying, with: f.signer)).run(), "manifest-torrent-mismatch", f)
        let wrongSize = try Self.manifest(f) { $0.files[1].size += 1 }
        try Self.expectRefused(
            try await Self.leech(f, try Self.sign(wrongSize, with: f.signer)).run(), "manifest-torrent-mismatch", f)
    }

    /// The torrent records no SHA-256 for lib.so (unsigned there), so only the downloaded bytes can show that the
    /// manifest names other ones: the gate quarantines the file.
    @Test func fileWhoseBytesDifferFromTheManifestIsQuarantined() async throws {
        let f = try NodeFixture("manifest-bytes", unsignedLibrary: true)
        defer { f.cleanup() }
        try f.stageContent()
        let lying = try Self.manifest(f) { $0.files[1].sha256[0] ^= 0xff }
        let policy = try TrustPolicySources(keyFiles: [f.signerKeyFile], requiredSigners: 0).policy()
        let outcome = try await Self.leech(f, try Self.sign(lying, with: f.signer), policy: policy).run()
        guard case .leeched(_, .refused(let decisions)) = outcome else { throw Failure("not refused: \(outcome)") }
        let library = try #require(decisions.first { $0.path.last == "lib.so" }?.decision.quarantine)
        #expect(library.reason.name == "digest-mismatch")
        #expect(f.outputEntries() == ["rel", "rel/app.tar"])
        let record = try #require(try f.auditRecords().first { $0["file"] as? String == "rel/lib.so" })
        #expect(record["reason"] as? String == "digest-mismatch")
        #expect(try Self.leech(f, try Self.sign(lying, with: f.signer)).acceptance.ledger.highest("rel") == nil)
    }

    @Test func manifestSignedByAnUntrustedKeyIsRefused() async throws {
        let f = try NodeFixture("manifest-untrusted")
        defer { f.cleanup() }
        let signed = try Self.sign(try Self.manifest(f), with: f.other)
        try Self.expectRefused(try await Self.leech(f, signed).run(), "untrusted-key", f)
    }

    @Test func tamperedManifestByteIsRefused() async throws {
        let f = try NodeFixture("manifest-tampered")
        defer { f.cleanup() }
        let signed = try Self.sign(try Self.manifest(f), with: f.signer)
        var text = String(decoding: signed.manifestBytes, as: UTF8.self)
        text = text.replacingOccurrences(of: "\"version\":\"1.4.2\"", with: "\"version\":\"9.4.2\"")
        let tampered = SignedManifest(manifestBytes: Array(text.utf8), signatures: signed.signatures)
        try Self.expectRefused(try await Self.leech(f, tampered).run(), "invalid-signature", f)
    }

    static func attestedPolicy(_ f: NodeFixture) throws -> TrustPolicy {
        try TrustPolicySources(keyFiles: [f.signerKeyFile], attestationPredicateTypes: [slsa]).policy()
    }

    @Test func fileWithoutTheRequiredAttestationIsRefused() async throws {
        let f = try NodeFixture("manifest-noattest")
        defer { f.cleanup() }
        let app = try Self.manifest(f).files[0]
        let envelope = try ProvenanceAttestation.envelope(
            statement: ProvenanceAttestation.statement(subjects: [(app.displayPath, app.sha256)], predicateType: Self.slsa),
            key: f.signer)
        // app.tar is attested, lib.so is not.
        let partial = try Self.manifest(f) { $0.files[0].attestations = [envelope] }
        try Self.expectRefused(
            try await Self.leech(f, try Self.sign(partial, with: f.signer), policy: try Self.attestedPolicy(f)).run(),
            "missing-attestation", f)
    }

    @Test func attestationForADifferentDigestIsRefused() async throws {
        let f = try NodeFixture("manifest-attest-digest")
        defer { f.cleanup() }
        let files = try Self.manifest(f).files
        // Each file carries an attestation, but lib.so's names app.tar's digest.
        let envelopes = try [files[0], files[0]].map { file in
            try ProvenanceAttestation.envelope(
                statement: ProvenanceAttestation.statement(subjects: [(file.displayPath, file.sha256)], predicateType: Self.slsa),
                key: f.signer)
        }
        let wrong = try Self.manifest(f) {
            $0.files[0].attestations = [envelopes[0]]
            $0.files[1].attestations = [envelopes[1]]
        }
        try Self.expectRefused(
            try await Self.leech(f, try Self.sign(wrong, with: f.signer), policy: try Self.attestedPolicy(f)).run(),
            "attestation-digest-mismatch", f)
    }

    @Test func attestedFilesAreReleased() async throws {
        let f = try NodeFixture("manifest-attested")
        defer { f.cleanup() }
        try f.stageContent()
        let files = try Self.manifest(f).files
        let envelope = try ProvenanceAttestation.envelope(
            statement: ProvenanceAttestation.statement(
                subjects: files.map { ($0.displayPath, $0.sha256) }, predicateType: Self.slsa),
            key: f.signer)
        let attested = try Self.manifest(f) { manifest in
            for index in manifest.files.indices { manifest.files[index].attestations = [envelope] }
        }
        let outcome = try await Self.leech(f, try Self.sign(attested, with: f.signer), policy: try Self.attestedPolicy(f))
            .run()
        guard case .leeched(let accepted, .released) = outcome else { throw Failure("not released: \(outcome)") }
        #expect(accepted.attestations.count == 2)
        #expect(accepted.attestations.values.allSatisfy { $0.predicateType == Self.slsa })
    }
}

extension ManifestLeechTests {
    /// A good manifest whose LAN mirror is dead (nothing listens on its port) completes from a live peer over
    /// loopback, and the audit names the peer as the only supplier.
    @Test func deadLANMirrorAndALivePeerComplete() async throws {
        let f = try NodeFixture("manifest-live-peer")
        defer { f.cleanup() }
        let seed = try await RunningSeed(f)
        let dead = "http://127.0.0.1:\(try TestFiles.freePort())/dead/"
        let signed = try Self.sign(try Self.manifest(f) { $0.mirrors = [.init(url: dead, site: "lan")] }, with: f.signer)
        var leech = try Self.leech(f, signed)
        leech.configuration.manualPeers = [try PeerAddress(parsing: "127.0.0.1:\(seed.port)")]
        leech.configuration.stallTimeout = .seconds(90)
        leech.host = RunningSeed.host()
        let outcome = try await leech.run()
        try await seed.stop()
        await leech.host?.shutdown()
        let suppliers = try Self.expectReleased(outcome, f)
        #expect(suppliers == ["127.0.0.1:\(seed.port)"], "\(suppliers)")
        let records = try f.auditRecords()
        #expect(records.allSatisfy { ($0["manifest"] as? [String: Any])?["sha256"] as? String == signed.digest })
    }

    /// A policy that requires attestations cannot be met by a bare torrent: refused before anything is staged.
    @Test func torrentLeechUnderAnAttestationPolicyIsRefusedBeforeAnyDownload() async throws {
        let f = try NodeFixture("manifest-torrent-attest")
        defer { f.cleanup() }
        await #expect {
            _ = try await f.leech(policy: try Self.attestedPolicy(f)).run()
        } throws: { error in
            let error = try #require(error as? NodeError)
            return error.code == .malformedInput && error.message.contains("require-attestation")
        }
        #expect(!FileManager.default.fileExists(atPath: f.layout.staging))
        #expect(f.outputEntries().isEmpty)
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The manifest's mirrors and its origin as sources (issue 14 item 2): mirrors beside peers, the origin only with
/// `allowOrigin` and only as a last resort.
extension ManifestLeechTests {
    /// Releases and checks the two files; returns the sources the audit records credit.
    static func expectReleased(_ outcome: ManifestLeech.Outcome, _ f: NodeFixture) throws -> Set<String> {
        guard case .leeched(_, .released(let decisions, _)) = outcome else { throw Failure("not released: \(outcome)") }
        #expect(decisions.count == 2)
        for name in ["app.tar", "lib.so"] {
            let released = try Data(contentsOf: URL(fileURLWithPath: f.output + "/rel/" + name))
            #expect(released == (try Data(contentsOf: URL(fileURLWithPath: f.source + "/rel/" + name))))
        }
        let records = try f.auditRecords()
        return Set(records.flatMap { ($0["peers"] as? [[String: Any]] ?? []).compactMap { $0["peer"] as? String } })
    }

    @Test(.timeLimit(.minutes(2)))
    func aManifestsLiveMirrorAloneServesTheRelease() async throws {
        let f = try NodeFixture("manifest-mirror")
        defer { f.cleanup() }
        let mirror = try FaultyHTTPServer(root: URL(fileURLWithPath: f.source), logDirectory: f.root)
        defer { mirror.stop() }
        let signed = try Self.sign(
            try Self.manifest(f) { $0.mirrors = [.init(url: mirror.url, site: "lan")] }, with: f.signer)
        var leech = try Self.leech(f, signed)
        leech.host = RunningSeed.host()
        let outcome = try await leech.run()
        await leech.host?.shutdown()
        #expect(try Self.expectReleased(outcome, f) == [mirror.url])
        #expect(Set(mirror.requests.map(\.path)) == ["/rel/app.tar", "/rel/lib.so"])
    }

    /// With its mirror dead and no peer, a manifest's release comes from its origin only when allowed; without
    /// `allowOrigin` the origin is never contacted and the leech stalls.
    @Test(.timeLimit(.minutes(2)), arguments: [false, true])
    func withPeersAndMirrorsGoneTheOriginServesOnlyWhenAllowed(allowOrigin: Bool) async throws {
        let f = try NodeFixture("manifest-origin-\(allowOrigin)")
        defer { f.cleanup() }
        let origin = try FaultyHTTPServer(root: URL(fileURLWithPath: f.source), logDirectory: f.root)
        defer { origin.stop() }
        let dead = "http://127.0.0.1:\(try TestFiles.freePort())/dead/"
        let signed = try Self.sign(
            try Self.manifest(f) {
                $0.mirrors = [.init(url: dead, site: "lan")]
                $0.origin = origin.url
            }, with: f.signer)
        var leech = try Self.leech(f, signed)
        leech.allowOrigin = allowOrigin
        leech.configuration.stallTimeout = .seconds(allowOrigin ? 60 : 8)
        leech.configuration.mirrorSettings.originGrace = .seconds(1)
        leech.configuration.mirrorSettings.initialBackoff = .milliseconds(200)
        leech.configuration.mirrorSettings.failureLimit = 2
        leech.host = RunningSeed.host()
        let outcome = try await leech.run()
        await leech.host?.shutdown()
        if allowOrigin {
            #expect(try Self.expectReleased(outcome, f) == [origin.url])
        } else {
            guard case .leeched(_, .notDownloaded(.stalled(let progress))) = outcome else {
                throw Failure("expected a stall without the origin, got \(outcome)")
            }
            #expect(f.outputEntries().isEmpty)
            #expect(progress.mirrors.map(\.url) == [dead])
            #expect(progress.mirrors.first?.state == .dropped)
            #expect(origin.requests.isEmpty, "the origin was contacted: \(origin.requests)")
        }
    }
}
