import CryptoPrimitives
import Foundation
import TestSupport
import Testing

@testable import SignatureGate

/// Keys, files and signatures made in-process for the verifier tests.
struct Fixture {
    let dir: URL
    let file: String
    let cosign: SigningKey
    let minisign: MinisignSecretKey
    let sha256: [UInt8]

    init(content: [UInt8] = Array("release artifact v1.2.3\n".utf8)) throws {
        dir = try TestFiles.makeTemporaryDirectory("gate-verifier")
        file = dir.appendingPathComponent("artifact.bin").path
        try Data(content).write(to: URL(fileURLWithPath: file))
        cosign = try SigningKey.generateP256()
        minisign = MinisignSecretKey.generate()
        sha256 = DigestAlgorithm.sha256.hash(content)
    }

    func digests() throws -> FileDigests { try FileDigests.compute(path: file, needs: .all) }

    func cosignSignature(_ key: SigningKey? = nil) throws -> DetachedSignature {
        DetachedSignature(.cosign(try (key ?? cosign).sign(sha256: sha256)), origin: "artifact.bin.sig")
    }

    func minisignSignature(_ key: MinisignSecretKey? = nil) throws -> DetachedSignature {
        let text = try ArtifactSigningKey.minisign(key ?? minisign).sign(
            digests: try digests(), fileName: "artifact.bin")
        return try DetachedSignature.parse(Array(text.utf8), origin: "artifact.bin.minisig")
    }

    /// A sigstore v0.3 bundle with a messageSignature, as `cosign sign-blob --bundle` writes it.
    func bundleJSON(digest: [UInt8]? = nil, signature: [UInt8]? = nil, hintKey: PublicKey? = nil) throws -> [UInt8] {
        let sig = try signature ?? cosign.sign(sha256: sha256)
        let json = """
            {"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",\
            "verificationMaterial":{"publicKey":{"hint":"\((hintKey ?? cosign.publicKey).sigstoreHint)"}},\
            "messageSignature":{"messageDigest":{"algorithm":"SHA2_256",\
            "digest":"\(Data(digest ?? sha256).base64EncodedString())"},\
            "signature":"\(Data(sig).base64EncodedString())"}}
            """
        return Array(json.utf8)
    }

    var policy: TrustPolicy {
        TrustPolicy(keys: [.cosign(cosign.publicKey), .minisign(minisign.publicKey)])
    }

    func verify(_ signatures: [DetachedSignature], policy: TrustPolicy? = nil) throws -> VerificationResult {
        try Verifier(policy: policy ?? self.policy).verify(path: file, signatures: signatures).0
    }

    func tamperFile() throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[3] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: file))
    }

    func cleanup() { TestFiles.cleanup(dir) }
}

extension VerificationResult {
    var reasonName: String? {
        if case .rejected(let reason) = self { return reason.name }
        return nil
    }
}

struct VerifierTests {
    @Test func cosignSignatureVerifiesAndNamesTheSigner() throws {
        let f = try Fixture()
        defer { f.cleanup() }
        let result = try f.verify([try f.cosignSignature()])
        #expect(
            result
                == .verified([
                    Signer(
                        keyID: TrustedKey.cosign(f.cosign.publicKey).keyID, format: .cosign,
                        origin: "artifact.bin.sig")
                ]))
    }

    @Test func minisignPrehashedSignatureVerifies() throws {
        let f = try Fixture()
        defer { f.cleanup() }
        let signers = try #require(
            try f.verify([try f.minisignSignature()]).verifiedSigners, "minisign signature should verify")
        #expect(signers.map(\.keyID) == ["minisign:\(f.minisign.keyID)"])
    }

    /// The refusals a user must be able to tell apart.
    @Test func refusalsHaveDistinctReasons() throws {
        let f = try Fixture()
        defer { f.cleanup() }
        let stranger = try SigningKey.generateP256()
        let strangerMinisign = MinisignSecretKey.generate()
        var reasons: [String: String] = [:]

        // Stripped signature while the policy requires one.
        reasons["stripped"] = try f.verify([]).reasonName
        // Signed by keys that are not trusted.
        reasons["wrong minisign key"] = try f.verify([try f.minisignSignature(strangerMinisign)]).reasonName
        reasons["wrong bundle key"] = try f.verify([
            DetachedSignature(
                .bundle(
                    try SigstoreBundle(
                        json: try f.bundleJSON(
                            signature: try stranger.sign(sha256: f.sha256),
                            hintKey: stranger.publicKey))),
                origin: "b.sigstore.json")
        ]).reasonName
        // A tampered minisign trusted comment.
        let sig = try #require(
            try f.minisignSignature().content.minisignSignature, "a minisign signature holds minisign content")
        let forged = MinisignSignature(
            algorithm: sig.algorithm, keyID: sig.keyID, signature: sig.signature, untrustedComment: "x",
            trustedComment: sig.trustedComment + "\tfile:evil", globalSignature: sig.globalSignature
        )
        reasons["tampered comment"] = try f.verify([DetachedSignature(.minisign(forged), origin: "m")]).reasonName
        // A tampered signature.
        var badSig = try f.cosign.sign(sha256: f.sha256)
        badSig[badSig.count - 3] ^= 0x40
        reasons["tampered signature"] = try f.verify([DetachedSignature(.cosign(badSig), origin: "s")]).reasonName
        // A tampered file, seen through a bundle (which records the digest).
        let bundle = DetachedSignature(.bundle(try SigstoreBundle(json: try f.bundleJSON())), origin: "b")
        let minisig = try f.minisignSignature()
        let cosig = try f.cosignSignature()
        try f.tamperFile()
        reasons["tampered file (bundle)"] = try f.verify([bundle]).reasonName
        reasons["tampered file (minisign)"] = try f.verify([minisig]).reasonName
        reasons["tampered file (cosign)"] = try f.verify([cosig]).reasonName

        #expect(reasons["stripped"] == "missing-signature")
        #expect(reasons["wrong minisign key"] == "untrusted-key")
        #expect(reasons["wrong bundle key"] == "untrusted-key")
        #expect(reasons["tampered comment"] == "invalid-trusted-comment")
        #expect(reasons["tampered signature"] == "invalid-signature")
        #expect(reasons["tampered file (bundle)"] == "digest-mismatch")
        #expect(reasons["tampered file (minisign)"] == "invalid-signature")
        #expect(reasons["tampered file (cosign)"] == "invalid-signature")
        // Each reason has its own name (the audit log's `reason`; the command maps each to its own exit code).
        let codes: [RejectionReason] = [
            .missingSignature, .digestMismatch(origin: ""), .invalidSignature(origin: "", keyID: nil),
            .invalidTrustedComment(origin: "", keyID: ""), .untrustedKey(origin: "", keyID: ""),
            .notEnoughSigners(signers: [], required: 2), .refusedByPolicy(origin: "", detail: ""),
        ]
        #expect(Set(codes.map(\.name)).count == codes.count)
    }

    @Test(arguments: [
        ("", SignatureGateError.Code.malformedSignature),
        ("not base64 at all!", .malformedSignature),
        ("untrusted comment: x\nAAAA\n", .malformedSignature),
        ("{\"mediaType\":\"something/else\"}", .malformedBundle),
        ("{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\"}", .malformedBundle),
        ("{ not json", .malformedBundle),
    ])
    func malformedSignatureFilesThrowTypedErrors(text: String, code: SignatureGateError.Code) {
        #expect {
            _ = try DetachedSignature.parse(Array(text.utf8), origin: "input")
        } throws: { ($0 as? SignatureGateError)?.code == code }
    }

    @Test func mOfNCountsDistinctTrustedSigners() throws {
        let f = try Fixture()
        defer { f.cleanup() }
        let second = try SigningKey.generateP256()
        var policy = TrustPolicy(
            keys: [.cosign(f.cosign.publicKey), .cosign(second.publicKey), .minisign(f.minisign.publicKey)],
            requiredSigners: 3
        )
        let all = [try f.cosignSignature(), try f.cosignSignature(second), try f.minisignSignature()]
        let signers = try #require(
            try f.verify(all, policy: policy).verifiedSigners, "three distinct signers should satisfy 3-of-3")
        #expect(signers.count == 3)
        // The same signer twice counts once.
        let twice = [try f.cosignSignature(), try f.cosignSignature(), try f.minisignSignature()]
        let result = try f.verify(twice, policy: policy)
        #expect(result.reasonName == "not-enough-signers")
        policy.requiredSigners = 2
        #expect(try f.verify(twice, policy: policy).isVerified)
    }

    @Test func embeddedDigestMustMatchTheFile() throws {
        let f = try Fixture()
        defer { f.cleanup() }
        var signature = try f.cosignSignature()
        signature.expectedSHA256 = f.sha256
        #expect(try f.verify([signature]).isVerified)
        signature.expectedSHA256 = DigestAlgorithm.sha256.hash(Array("other".utf8))
        #expect(try f.verify([signature]).reasonName == "digest-mismatch")
    }

    @Test func legacyMinisignIsRefusedWhenPrehashIsRequiredOrTheFileIsTooLarge() throws {
        let f = try Fixture()
        defer { f.cleanup() }
        let content = [UInt8](try Data(contentsOf: URL(fileURLWithPath: f.file)))
        let legacy = f.minisign.signLegacy(message: content, trustedComment: "t", untrustedComment: "u")
        let signature = DetachedSignature(.minisign(legacy), origin: "legacy.minisig")
        #expect(try f.verify([signature]).isVerified)
        var policy = f.policy
        policy.requirePrehashedMinisign = true
        #expect(try f.verify([signature], policy: policy).reasonName == "refused-by-policy")
        policy.requirePrehashedMinisign = false
        policy.maxLegacyMessageBytes = 4
        #expect(try f.verify([signature], policy: policy).reasonName == "refused-by-policy")
    }

    @Test func unsignedFilePassesOnlyWithRequireZero() throws {
        let f = try Fixture()
        defer { f.cleanup() }
        var policy = f.policy
        policy.requiredSigners = 0
        #expect(try f.verify([], policy: policy) == .verified([]))
        // A present but failing signature still refuses the file.
        var bad = try f.cosign.sign(sha256: f.sha256)
        bad[bad.count - 2] ^= 1
        #expect(!(try f.verify([DetachedSignature(.cosign(bad), origin: "s")], policy: policy).isVerified))
    }

    /// Sizes around the chunk size and beyond the read-ahead depth (the reader then waits for buffers to return).
    @Test(arguments: [
        0, 1, FileDigests.chunkSize - 1, FileDigests.chunkSize, 3 * FileDigests.chunkSize + 123,
        (FileDigests.readAheadChunks + 3) * FileDigests.chunkSize + 7,
    ])
    func hashingTheSameDescriptorComputesBothDigestsInOnePass(size: Int) throws {
        let dir = try TestFiles.makeTemporaryDirectory("gate-digest")
        defer { TestFiles.cleanup(dir) }
        let url = dir.appendingPathComponent("big")
        try TestFiles.writeRandomFile(url, size: size)
        let bytes = [UInt8](try Data(contentsOf: url))
        let digests = try FileDigests.compute(path: url.path, needs: .all)
        #expect(digests.size == Int64(bytes.count))
        #expect(digests.sha256 == DigestAlgorithm.sha256.hash(bytes))
        #expect(digests.blake2b512 == BLAKE2b.hash(bytes))
        let shaOnly = try FileDigests.compute(path: url.path, needs: FileDigests.Needs(sha256: true, blake2b512: false))
        #expect(shaOnly.blake2b512 == nil)
    }
}
