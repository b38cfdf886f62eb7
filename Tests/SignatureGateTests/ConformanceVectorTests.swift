import CryptoPrimitives
import Foundation
import SignatureGate
import TestSupport
import Testing

/// Every vector under ../shared/conformance/signing/ behaves as its README says.
struct ConformanceVectorTests {
    /// The signing vectors directory.
    /// - Throws: when the conformance data (or its `signing/` part) is missing.
    static func signingDirectory() throws -> URL {
        try Conformance.requireDirectory("signing")
    }

    /// What a (key, signature, artifact) triple must do.
    enum Expect: Sendable, CustomStringConvertible {
        case verifies
        case rejected(String)
        var description: String {
            switch self {
            case .verifies: "verifies"
            case .rejected(let name): "rejected(\(name))"
            }
        }
    }

    struct Case: Sendable, CustomStringConvertible {
        var folder: String
        var keys: [String]
        var signature: String
        var artifact: String
        var expect: Expect
        var requirePrehashed = false
        var description: String { "\(folder): \(keys) + \(signature) + \(artifact) -> \(expect)" }
    }

    static let cases: [Case] = [
        // Real cosign v3 bundles (no tlog): messageSignature and DSSE.
        Case(
            folder: "sigstore-c-cosign-v3", keys: ["cosign.pub"], signature: "simple.sigstore.json",
            artifact: "a.txt", expect: .verifies),
        Case(
            folder: "sigstore-c-cosign-v3", keys: ["cosign.pub"], signature: "dsse.sigstore.json",
            artifact: "a.txt", expect: .verifies),
        Case(
            folder: "sigstore-c-cosign-v3", keys: ["cosign.pub"], signature: "simple.sigstore.json",
            artifact: "NEG-derived-a-modified.txt", expect: .rejected("digest-mismatch")),
        Case(
            folder: "sigstore-c-cosign-v3", keys: ["cosign.pub"], signature: "dsse.sigstore.json",
            artifact: "NEG-derived-a-modified.txt", expect: .rejected("digest-mismatch")),
        // sigstore-conformance managed-key bundles (signature-only; the tlog is not checked).
        Case(
            folder: "sigstore-conformance-managed-key", keys: ["managed-key-happy-path/key.pub"],
            signature: "managed-key-happy-path/bundle.sigstore.json", artifact: "a.txt", expect: .verifies),
        Case(
            folder: "sigstore-conformance-managed-key", keys: ["managed-key-and-trusted-root/key.pub"],
            signature: "managed-key-and-trusted-root/bundle.sigstore.json", artifact: "a.txt", expect: .verifies),
        Case(
            folder: "sigstore-conformance-managed-key", keys: [],
            signature: "managed-key-no-key_fail/bundle.sigstore.json", artifact: "a.txt",
            expect: .rejected("untrusted-key")),
        // sigstore-go: v0.3 bundle with an RFC 3161 timestamp; the raw signature is valid.
        Case(
            folder: "sigstore-go-testdata", keys: ["public-key-validity.pem"],
            signature: "public-key-validity.sigstore.json", artifact: "public-key-validity.artifact",
            expect: .verifies),
        Case(
            folder: "sigstore-go-testdata", keys: ["publish_key.pub"],
            signature: "public-key-validity.sigstore.json", artifact: "public-key-validity.artifact",
            expect: .rejected("untrusted-key")),
        // Real `cosign sign-blob --key` signatures over CRLF files.
        Case(
            folder: "trudeplo-cosign-v1-era", keys: ["cosign2.pub"], signature: "TestAgent1.txt.sig",
            artifact: "TestAgent1.txt", expect: .verifies),
        Case(
            folder: "trudeplo-cosign-v1-era", keys: ["cosign2.pub"], signature: "TestAgent2.txt.sig",
            artifact: "TestAgent2.txt", expect: .verifies),
        Case(
            folder: "trudeplo-cosign-v1-era", keys: ["cosign2.pub"], signature: "TestAgent1.txt.sig",
            artifact: "TestAgent2.txt", expect: .rejected("invalid-signature")),
        Case(
            folder: "trudeplo-cosign-v1-era", keys: ["cosign2.pub"], signature: "TestAgent2.txt.sig",
            artifact: "TestAgent1.txt", expect: .rejected("invalid-signature")),
        Case(
            folder: "trudeplo-cosign-v1-era", keys: ["cosign-unrelated.pub"], signature: "TestAgent1.txt.sig",
            artifact: "TestAgent1.txt", expect: .rejected("invalid-signature")),
        Case(
            folder: "trudeplo-cosign-v1-era", keys: ["cosign-unrelated.pub"], signature: "TestAgent2.txt.sig",
            artifact: "TestAgent2.txt", expect: .rejected("invalid-signature")),
        // ECDSA P-384 with SHA-256 (sigstore-python).
        Case(
            folder: "sigstore-python-p384-sha256", keys: ["a.txt.derived.pub"], signature: "a.txt.sig",
            artifact: "a.txt", expect: .verifies),
        Case(
            folder: "sigstore-python-p384-sha256", keys: ["bad.txt.derived.pub"], signature: "bad.txt.sig",
            artifact: "bad.txt", expect: .rejected("invalid-signature")),
        // minisign: legacy and prehashed, by minisign's release key.
        Case(
            folder: "minisign-rust-minisign-tests", keys: ["minisign.pub"], signature: "test.legacy-Ed.minisig",
            artifact: "test", expect: .verifies),
        Case(
            folder: "minisign-rust-minisign-tests", keys: ["minisign.pub"], signature: "test.legacy-Ed.minisig",
            artifact: "test", expect: .rejected("refused-by-policy"), requirePrehashed: true),
        Case(
            folder: "minisign-rust-minisign-tests", keys: ["minisign.pub"], signature: "test.prehashed-ED.minisig",
            artifact: "test", expect: .verifies),
        Case(
            folder: "minisign-rust-minisign-tests", keys: ["minisign.pub"], signature: "test.prehashed-ED.minisig",
            artifact: "test", expect: .verifies, requirePrehashed: true),
        Case(
            folder: "minisign-rust-minisign-tests", keys: ["minisign.pub"],
            signature: "NEG-derived-test.prehashed-ED.tampered-trusted-comment.minisig", artifact: "test",
            expect: .rejected("invalid-trusted-comment")),
        Case(
            folder: "minisign-rust-minisign-tests", keys: ["minisign.pub"], signature: "test.legacy-Ed.minisig",
            artifact: "NEG-derived-test-modified", expect: .rejected("invalid-signature")),
        Case(
            folder: "minisign-rust-minisign-tests", keys: ["minisign.pub"], signature: "test.prehashed-ED.minisig",
            artifact: "NEG-derived-test-modified", expect: .rejected("invalid-signature")),
        Case(
            folder: "minisign-aead-go-testdata", keys: ["minisign.pub"], signature: "message.txt.minisig",
            artifact: "message.txt", expect: .verifies),
        Case(
            folder: "minisign-aead-go-testdata", keys: ["minisign.pub"],
            signature: "../minisign-rust-minisign-tests/test.prehashed-ED.minisig",
            artifact: "../minisign-rust-minisign-tests/test", expect: .rejected("untrusted-key")),
        Case(
            folder: "minisign-aead-go-testdata", keys: ["minisign.pub"],
            signature: "../minisign-rust-minisign-tests/test.legacy-Ed.minisig",
            artifact: "../minisign-rust-minisign-tests/test", expect: .rejected("untrusted-key")),
    ]

    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"), arguments: cases)
    func vectorBehavesAsItsReadmeSays(_ vector: Case) throws {
        let root = try Self.signingDirectory()
        let dir = root.appendingPathComponent(vector.folder)
        var policy = try TrustPolicy.load(keyFiles: vector.keys.map { dir.appendingPathComponent($0).path })
        policy.requirePrehashedMinisign = vector.requirePrehashed
        let signature = try DetachedSignature.load(dir.appendingPathComponent(vector.signature).path)
        let (result, digests) = try Verifier(policy: policy).verify(
            path: dir.appendingPathComponent(vector.artifact).path, signatures: [signature]
        )
        #expect(digests.sha256?.count == 32)
        switch (vector.expect, result) {
        case (.verifies, .verified(let signers)):
            #expect(signers.count == 1)
            let expectedKey = try TrustedKey.load(dir.appendingPathComponent(vector.keys[0]).path)
            #expect(signers.first?.keyID == expectedKey.keyID)
        case (.rejected(let name), .rejected(let reason)):
            #expect(reason.name == name, "\(vector): \(reason)")
        default:
            Issue.record("\(vector): got \(result)")
        }
    }

    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"))
    func corruptedPublicKeyFromManagedKeyWrongKeyDoesNotParse() throws {
        let root = try Self.signingDirectory()
        let path = root.appendingPathComponent("sigstore-conformance-managed-key/managed-key-wrong-key_fail/key.pub")
            .path
        #expect(throws: SignatureGateError.self) { try TrustedKey.load(path) }
        do {
            _ = try TrustedKey.load(path)
        } catch {
            #expect([.malformedPublicKey, .malformedPEM].contains(error.code))
        }
    }

    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"))
    func npmPublishBundleDSSESignatureVerifiesWithItsKey() throws {
        let root = try Self.signingDirectory()
        let dir = root.appendingPathComponent("sigstore-go-testdata")
        let key = try PublicKey(contentsOf: dir.appendingPathComponent("publish_key.pub").path)
        let bundle = try SigstoreBundle(contentsOf: dir.appendingPathComponent("bundle-publish.json").path)
        let (type, payload, signatures) = try #require(
            bundle.content.dsseEnvelope, "bundle-publish.json should hold a DSSE envelope")
        #expect(bundle.mediaType == "application/vnd.dev.sigstore.bundle+json;version=0.1")
        let pae = SigstoreBundle.preAuthenticationEncoding(payloadType: type, payload: payload)
        #expect(key.verify(signature: signatures[0], sha256: DigestAlgorithm.sha256.hash(pae)))
        var altered = pae
        altered[altered.count - 2] ^= 1
        #expect(!key.verify(signature: signatures[0], sha256: DigestAlgorithm.sha256.hash(altered)))
    }

    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"))
    func dsseSpecVectorRawSignatureVerifies() throws {
        let root = try Self.signingDirectory()
        let dir = root.appendingPathComponent("dsse-spec-vector")
        let key = try PublicKey(contentsOf: dir.appendingPathComponent("pub.derived-from-XY.pem").path)
        let envelope =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: dir.appendingPathComponent("envelope.json"))
            ) as! [String: Any]
        let payload = [UInt8](Data(base64Encoded: envelope["payload"] as! String)!)
        let pae = SigstoreBundle.preAuthenticationEncoding(
            payloadType: envelope["payloadType"] as! String, payload: payload
        )
        #expect(pae == [UInt8](try Data(contentsOf: dir.appendingPathComponent("pae.bin"))))
        let sig = [UInt8](
            Data(base64Encoded: ((envelope["signatures"] as! [[String: Any]])[0]["sig"] as! String))!
        )
        #expect(sig.count == 64)
        #expect(key.verify(signature: sig, sha256: DigestAlgorithm.sha256.hash(pae)))
        #expect(!key.verify(signature: sig, sha256: DigestAlgorithm.sha256.hash(Array("other".utf8))))
    }

    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"))
    func crlfMinisignSignatureParses() throws {
        let root = try Self.signingDirectory()
        let sig = try MinisignSignature(
            contentsOf: root.appendingPathComponent("minisign-aead-go-testdata/robtest.ps1.minisig").path
        )
        #expect(sig.keyID.description == "E9D0E93D482F9737")
        #expect(!sig.trustedComment.hasSuffix("\r"))
    }

    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"))
    func minisignKeyIDsMatchTheReadme() throws {
        let root = try Self.signingDirectory()
        let rust = try MinisignPublicKey(
            contentsOf: root.appendingPathComponent("minisign-rust-minisign-tests/minisign.pub").path
        )
        #expect(rust.keyID.description == "E7620F1842B4E81F")
        let aead = try MinisignPublicKey(
            contentsOf: root.appendingPathComponent("minisign-aead-go-testdata/minisign.pub").path
        )
        #expect(aead.keyID.description == "C373193807678450")
    }

    struct KeyCase: Sendable, CustomStringConvertible {
        var path: String
        var password: String
        /// nil: must load; the public key must equal `derivedPub` when given. Otherwise the error code expected.
        var failure: SignatureGateError.Code?
        var derivedPub: String?
        var description: String { "\(path) pw=\(password.debugDescription) -> \(failure?.rawValue ?? "loads")" }
    }

    static let keyCases: [KeyCase] = [
        KeyCase(
            path: "cosign-keys-test-go/pemcosignkey.key", password: "hello",
            derivedPub: "cosign-keys-test-go/pemcosignkey.derived.pub"),
        KeyCase(
            path: "cosign-keys-test-go/pemsigstorekey.key", password: "hello",
            derivedPub: "cosign-keys-test-go/pemsigstorekey.derived.pub"),
        KeyCase(path: "cosign-keys-test-go/pemcosigneckey.key", password: "hello", failure: .malformedPrivateKey),
        KeyCase(path: "cosign-keys-test-go/pemcosignkey.key", password: "hellox", failure: .wrongPassword),
        KeyCase(path: "cosign-keys-test-go/pemsigstorekey.key", password: "hellox", failure: .wrongPassword),
        KeyCase(
            path: "sigstore-rs-keys/cosign_generated_encrypted_empty_private.key", password: "",
            derivedPub: "sigstore-rs-keys/cosign_generated_encrypted_empty_private.derived.pub"),
        KeyCase(
            path: "sigstore-rs-keys/cosign_generated_encrypted_empty_private.key", password: "x",
            failure: .wrongPassword),
        KeyCase(
            path: "sigstore-rs-keys/ecdsa_encrypted_private.key", password: "123",
            derivedPub: "sigstore-rs-keys/ecdsa_encrypted_private.derived.pub"),
        KeyCase(path: "sigstore-rs-keys/ecdsa_encrypted_private.key", password: "1234", failure: .wrongPassword),
        KeyCase(
            path: "sigstore-rs-keys/rsa_encrypted_private.key", password: "123",
            derivedPub: "sigstore-rs-keys/rsa_encrypted_private.derived.pub"),
        KeyCase(path: "sigstore-rs-keys/rsa_encrypted_private.key", password: "", failure: .wrongPassword),
        KeyCase(
            path: "sigstore-rs-keys/ECDSA_P256_ASN1_ENCRYPTED_PRIVATE_PEM.key", password: "password",
            derivedPub: "sigstore-rs-keys/ECDSA_P256_ASN1_ENCRYPTED_PRIVATE_PEM.derived.pub"),
        KeyCase(
            path: "sigstore-rs-keys/ECDSA_P256_ASN1_ENCRYPTED_PRIVATE_PEM.key", password: "passwort",
            failure: .wrongPassword),
        KeyCase(path: "sigstore-rs-keys/ed25519_encrypted_private.key", password: "12", failure: .wrongPassword),
        KeyCase(
            path: "sigstore-rs-keys/ecdsa_private.key", password: "",
            derivedPub: "sigstore-rs-keys/ecdsa_private.derived.pub"),
        KeyCase(
            path: "sigstore-rs-keys/rsa_private.key", password: "",
            derivedPub: "sigstore-rs-keys/rsa_private.derived.pub"),
        KeyCase(path: "cosign-ci-test-key/cosign-test.key", password: "", failure: .wrongPassword),
        KeyCase(path: "trudeplo-cosign-v1-era/cosign-unknown-password.key", password: "", failure: .wrongPassword),
    ]

    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"), arguments: keyCases)
    func privateKeyVectorsLoadOrFailAsDocumented(_ vector: KeyCase) throws {
        let root = try Self.signingDirectory()
        let path = root.appendingPathComponent(vector.path).path
        do {
            let key = try SigningKey(contentsOf: path, password: { Array(vector.password.utf8) })
            #expect(vector.failure == nil, "\(vector) loaded")
            if let derived = vector.derivedPub {
                let expected = try PublicKey(contentsOf: root.appendingPathComponent(derived).path)
                #expect(key.publicKey == expected)
                // The key signs, and its public key verifies what it signed.
                let digest = DigestAlgorithm.sha256.hash(Array("release artifact".utf8))
                #expect(expected.verify(signature: try key.sign(sha256: digest), sha256: digest))
            }
        } catch {
            #expect(error.code == vector.failure, "\(vector): \(error)")
        }
    }

    /// Ed25519 keys in cosign format decrypt, then are refused with a typed error naming the fix.
    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"))
    func ed25519CosignKeysAreRefusedAfterDecryption() throws {
        let root = try Self.signingDirectory()
        for (file, password) in [("ed25519_encrypted_private.key", "123"), ("ed25519_private.key", "")] {
            let path = root.appendingPathComponent("sigstore-rs-keys/\(file)").path
            #expect {
                _ = try SigningKey(contentsOf: path, password: { Array(password.utf8) })
            } throws: { error in
                let code = (error as? SignatureGateError)?.code
                return code == .unsupportedKey || code == .malformedPrivateKey
            }
        }
    }

    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"))
    func cosignCIPublicKeyParses() throws {
        let root = try Self.signingDirectory()
        let key = try PublicKey(contentsOf: root.appendingPathComponent("cosign-ci-test-key/cosign-test.pub").path)
        #expect(key.algorithm == .ecdsaP256)
    }

    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"))
    func minisignSecretKeysFromAeadGoDecryptAndMatchTheirPublicKeys() throws {
        let root = try Self.signingDirectory()
        let dir = root.appendingPathComponent("minisign-aead-go-testdata")
        for (file, keyID) in [
            ("minisign-nopassword-0.key", "3728470A8118E56E"),
            ("minisign-nopassword-1.key", "D7E531EE76B2FC6F"),
        ] {
            let key = try MinisignSecretKey(contentsOf: dir.appendingPathComponent(file).path) {
                () throws(SignatureGateError) -> [UInt8] in
                throw SignatureGateError(.passwordUnavailable, file, "an unencrypted key must not ask for one")
            }
            #expect(key.keyID.description == keyID)
        }
        // The encrypted key uses minisign's default scrypt parameters (1 GiB, a few seconds): the right password.
        // Wrong passwords are tested on keys with light parameters (MinisignTests).
        let encrypted = dir.appendingPathComponent("minisign.key").path
        let key = try MinisignSecretKey(contentsOf: encrypted) { Array("correct horse battery staple".utf8) }
        #expect(key.publicKey == (try MinisignPublicKey(contentsOf: dir.appendingPathComponent("minisign.pub").path)))
    }
}
