import CryptoPrimitives
import Foundation
import SignatureGate
import TestSupport
import Testing

/// The manifest's schema, its signed envelope, versions, the rollback ledger and provenance attestations.
struct ReleaseManifestTests {
    static func sample(version: String = "1.4.2", torrent: [UInt8] = Array("d4:infod4:name1:aee".utf8)) throws
        -> ReleaseManifest
    {
        ReleaseManifest(
            name: "app", version: try ReleaseVersion(version), created: 1_800_000_000, expires: 1_800_604_800,
            files: [
                .init(path: ["app", "app.tar"], size: 5, sha256: DigestAlgorithm.sha256.hash(Array("hello".utf8)))
            ], infoHash: String(repeating: "ab", count: 20), torrent: torrent,
            mirrors: [.init(url: "http://10.0.0.5/releases/", site: "lan-a")], origin: "https://cdn.example/rel/")
    }

    @Test func canonicalJSONRoundTripsAndIsStable() throws {
        let manifest = try Self.sample()
        let bytes = manifest.canonicalJSON
        let text = try #require(String(validating: bytes, as: UTF8.self))
        // Keys sorted, no whitespace, slashes not escaped, times in RFC 3339 UTC.
        #expect(text.hasPrefix(#"{"created":"2027-01-15T08:00:00Z","expires":"2027-01-22T08:00:00Z","files":[{"#))
        #expect(text.contains(#""origin":"https://cdn.example/rel/""#))
        #expect(!text.contains(" ") && !text.contains("\n"))
        let parsed = try ReleaseManifest(json: bytes, subject: "m")
        #expect(parsed == manifest)
        #expect(parsed.canonicalJSON == bytes)
    }

    @Test(arguments: [
        (#"{"schema":"other/1"}"#, "schema"),
        (#"{"schema":"swtorrent-release-manifest/1","name":"a b"}"#, "name"),
        ("[1]", "not a JSON object"),
    ])
    func malformedManifestsNameTheProblem(json: String, expected: String) throws {
        #expect {
            _ = try ReleaseManifest(json: Array(json.utf8), subject: "m.json")
        } throws: { error in
            let error = try #require(error as? SignatureGateError)
            return error.code == .malformedManifest && error.subject == "m.json" && error.detail.contains(expected)
        }
    }

    @Test func unknownFieldsAndUnsafePathsAreRefused() throws {
        var text = String(decoding: try Self.sample().canonicalJSON, as: UTF8.self)
        let extra = text.replacingOccurrences(of: #"{"created""#, with: #"{"colour":"red","created""#)
        #expect(throws: SignatureGateError.self) { try ReleaseManifest(json: Array(extra.utf8), subject: "m") }
        text = text.replacingOccurrences(of: "app/app.tar", with: "app/../etc/passwd")
        #expect(throws: SignatureGateError.self) { try ReleaseManifest(json: Array(text.utf8), subject: "m") }
    }

    @Test(arguments: [
        ("1.2", "1.2.0", 0), ("1.2", "1.10", -1), ("2", "1.99.99", 1), ("2026.12.2", "2026.12.10", -1),
    ])
    func versionsCompareNumerically(a: String, b: String, order: Int) throws {
        let (x, y) = (try ReleaseVersion(a), try ReleaseVersion(b))
        #expect((x < y ? -1 : x > y ? 1 : 0) == order)
    }

    @Test(arguments: ["v1.2", "1..2", "1.2-rc1", "", "1.2.3.4.5.6.7.8.9", "1234567890123456789"])
    func versionsOtherThanNumbersAreRefused(text: String) {
        #expect(throws: SignatureGateError.self) { try ReleaseVersion(text) }
    }

    // MARK: Signatures

    @Test func signedByTwoTrustedKeysMeetsTwoOfN() throws {
        let cosign = try SigningKey.generateP256()
        let minisign = MinisignSecretKey.generate()
        let bytes = try Self.sample().canonicalJSON
        let signed = try SignedManifest.sign(bytes, keys: [.cosign(cosign), .minisign(minisign)], fileName: "m")
        let reread = try SignedManifest(envelope: signed.envelope, subject: "m")
        #expect(reread == signed)
        let both = TrustPolicy(keys: [.cosign(cosign.publicKey), .minisign(minisign.publicKey)], requiredSigners: 2)
        let signers = try #require(reread.verify(policy: both, subject: "m").signers, "not verified")
        #expect(Set(signers.map(\.keyID)) == Set(both.keys.map(\.keyID)))
        let three = TrustPolicy(keys: both.keys, requiredSigners: 3)
        #expect(reread.verify(policy: three, subject: "m") == .rejected(
            .notEnoughSigners(signers: signers.map(\.keyID), required: 3)))
    }

    @Test func untrustedKeyAndTamperedByteAreRejected() throws {
        let signer = try SigningKey.generateP256()
        let other = try SigningKey.generateP256()
        let signed = try SignedManifest.sign(try Self.sample().canonicalJSON, keys: [.cosign(signer)], fileName: "m")
        let untrusted = signed.verify(policy: TrustPolicy(keys: [.cosign(other.publicKey)]), subject: "m")
        #expect(untrusted.rejection?.name == "untrusted-key")
        var bytes = signed.manifestBytes
        bytes[bytes.count / 2] ^= 0x01
        let tampered = SignedManifest(manifestBytes: bytes, signatures: signed.signatures)
        #expect(tampered.verify(policy: TrustPolicy(keys: [.cosign(signer.publicKey)]), subject: "m")
            .rejection?.name == "invalid-signature")
        // require 0 does not let an unsigned manifest through.
        let unsigned = SignedManifest(manifestBytes: signed.manifestBytes, signatures: [])
        #expect(unsigned.verify(policy: TrustPolicy(keys: [.cosign(signer.publicKey)], requiredSigners: 0), subject: "m")
            .rejection?.name == "missing-signature")
    }

    // MARK: The ledger

    @Test func ledgerKeepsTheHighestVersionAndReplacesTheFileAtomically() throws {
        let root = try TestFiles.makeTemporaryDirectory("ledger")
        defer { TestFiles.cleanup(root) }
        let ledger = VersionLedger(directory: root.appendingPathComponent("state").path)
        #expect(try ledger.highest("app") == nil)
        #expect(try ledger.record("app", version: ReleaseVersion("1.4.2"), manifestSHA256: "aa") == ReleaseVersion("1.4.2"))
        // A lower version never lowers the record.
        #expect(try ledger.record("app", version: ReleaseVersion("1.3"), manifestSHA256: "bb") == ReleaseVersion("1.4.2"))
        try ledger.record("tool", version: ReleaseVersion("7"), manifestSHA256: "cc")
        #expect(try ledger.highest("app") == ReleaseVersion("1.4.2"))
        #expect(try ledger.entries()["app"]?.manifestSHA256 == "aa")
        #expect(try ledger.highest("tool") == ReleaseVersion("7"))
        let names = try FileManager.default.contentsOfDirectory(atPath: ledger.directory).sorted()
        #expect(names == ["releases.json", "releases.lock"], "no temporary file left behind")
        // A damaged ledger is an error, never an empty one (that would switch rollback protection off).
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: ledger.path))
        #expect(throws: SignatureGateError.self) { try ledger.highest("app") }
    }

    // MARK: Attestations

    /// The real `cosign attest-blob` bundle from ../shared/conformance/signing/sigstore-c-cosign-v3 (predicate type
    /// "testing", subject a.txt).
    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: ../shared/conformance is missing"))
    func cosignAttestBlobBundleVouchesForItsSubjectOnly() throws {
        let folder = try Conformance.requireDirectory("signing/sigstore-c-cosign-v3")
        let key = try TrustedKey.load(folder.appendingPathComponent("cosign.pub").path)
        let bundle = Array(try Data(contentsOf: folder.appendingPathComponent("dsse.sigstore.json")))
        let file = Array(try Data(contentsOf: folder.appendingPathComponent("a.txt")))
        let sha256 = DigestAlgorithm.sha256.hash(file)
        var policy = TrustPolicy(keys: [key])
        policy.attestationPredicateTypes = ["testing"]
        let vouch = try ProvenanceAttestation.check([bundle], sha256: sha256, policy: policy).get()
        #expect(vouch == ProvenanceAttestation.Vouch(keyID: key.keyID, predicateType: "testing"))
        let modified = Array(try Data(contentsOf: folder.appendingPathComponent("NEG-derived-a-modified.txt")))
        #expect(ProvenanceAttestation.check([bundle], sha256: DigestAlgorithm.sha256.hash(modified), policy: policy)
            .failure == .digestMismatch)
        policy.attestationPredicateTypes = ["https://slsa.dev/provenance/v1"]
        #expect(ProvenanceAttestation.check([bundle], sha256: sha256, policy: policy).failure == .predicateType("testing"))
        let stranger = try SigningKey.generateP256()
        policy.keys = [.cosign(stranger.publicKey)]
        #expect(ProvenanceAttestation.check([bundle], sha256: sha256, policy: policy).failure == .unsigned)
        #expect(ProvenanceAttestation.check([], sha256: sha256, policy: policy).failure == .missing)
    }

    @Test func ownEnvelopesVerifyAndAnAlteredStatementDoesNot() throws {
        let key = try SigningKey.generateP256()
        let sha256 = DigestAlgorithm.sha256.hash(Array("artifact".utf8))
        let statement = ProvenanceAttestation.statement(
            subjects: [("app.tar", sha256)], predicateType: "https://slsa.dev/provenance/v1",
            predicate: ["buildType": "https://example.com/ci"])
        let envelope = try ProvenanceAttestation.envelope(statement: statement, key: key)
        var policy = TrustPolicy(keys: [.cosign(key.publicKey)])
        policy.attestationPredicateTypes = ["https://slsa.dev/provenance/v1"]
        #expect(ProvenanceAttestation.check([envelope], sha256: sha256, policy: policy).failure == nil)
        // Swap the payload for a statement about other bytes, keeping the signature: the signature no longer holds.
        let forged = ProvenanceAttestation.statement(
            subjects: [("app.tar", DigestAlgorithm.sha256.hash(Array("evil".utf8)))],
            predicateType: "https://slsa.dev/provenance/v1")
        var object = try #require(try JSONSerialization.jsonObject(with: Data(envelope)) as? [String: Any])
        object["payload"] = Base64.encode(forged)
        let tampered = Array(try JSONSerialization.data(withJSONObject: object))
        #expect(ProvenanceAttestation.check(
            [tampered], sha256: DigestAlgorithm.sha256.hash(Array("evil".utf8)), policy: policy).failure == .unsigned)
    }
}

extension VerificationResult {
    var rejection: RejectionReason? {
        if case .rejected(let reason) = self { reason } else { nil }
    }

    var signers: [Signer]? {
        if case .verified(let signers) = self { signers } else { nil }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let failure) = self { failure } else { nil }
    }
}
