import CryptoPrimitives
import Foundation
import TestSupport
import Testing

@testable import SignatureGate

struct KeyFormatTests {
    @Test func minisignKeyFilesRoundTrip() throws {
        let key = MinisignSecretKey.generate()
        let reread = try MinisignSecretKey(text: key.unencryptedFileText, subject: "k") {
            () throws(SignatureGateError) in
            throw SignatureGateError(.passwordUnavailable, "k", "unencrypted keys must not ask")
        }
        #expect(reread.keyID == key.keyID)
        #expect(reread.publicKey == key.publicKey)
        #expect(try MinisignPublicKey(text: key.publicKey.fileText) == key.publicKey)
        #expect(MinisignSecretKey.looksLikeSecretKey(key.unencryptedFileText))
        #expect(!MinisignSecretKey.looksLikeSecretKey(key.publicKey.fileText))
    }

    @Test func encryptedMinisignKeyNeedsTheRightPassword() throws {
        let key = MinisignSecretKey.generate()
        // Light scrypt parameters keep the test fast; minisign's defaults are exercised by the conformance vector.
        let text = try key.encryptedFileText(password: Array("s3cret".utf8), opslimit: 1 << 16, memlimit: 1 << 22)
        let opened = try MinisignSecretKey(text: text, subject: "k") { Array("s3cret".utf8) }
        #expect(opened.publicKey == key.publicKey)
        #expect {
            _ = try MinisignSecretKey(text: text, subject: "k") { Array("s3creT".utf8) }
        } throws: { ($0 as? SignatureGateError)?.code == .wrongPassword }
    }

    @Test func minisignSignatureTextRoundTrips() throws {
        let key = MinisignSecretKey.generate()
        let sig = key.signPrehashed(
            blake2b512: BLAKE2b.hash(Array("x".utf8)), trustedComment: "timestamp:1\tfile:x",
            untrustedComment: "u")
        #expect(try MinisignSignature(text: sig.fileText) == sig)
        let crlf = sig.fileText.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try MinisignSignature(text: crlf) == sig)
    }

    @Test func cosignKeysRoundTripThroughPEM() throws {
        let key = try SigningKey.generateP256()
        let reread = try SigningKey(pem: key.pkcs8PEM, subject: "k") { [] }
        #expect(reread.publicKey == key.publicKey)
        #expect(key.publicKey.algorithm == .ecdsaP256)
        #expect(try PublicKey(pem: key.publicKey.pem) == key.publicKey)
        // A P-256 DER signature is 70-72 bytes; raw r||s is accepted too.
        let digest = DigestAlgorithm.sha256.hash(Array("m".utf8))
        let der = try key.sign(sha256: digest)
        #expect((68...72).contains(der.count))
        #expect(key.publicKey.verify(signature: der, sha256: digest))
    }

    @Test func sealedCosignKeysOpenOnlyWithTheirPassword() throws {
        let key = try SigningKey.generateP256()
        let sealed = try EncryptedCosignKey(sealing: key.pkcs8, password: Array("pw".utf8), subject: "k")
        #expect(sealed.n == 32768 && sealed.r == 8 && sealed.p == 1)
        #expect(sealed.salt.count == 32 && sealed.nonce.count == 24)
        #expect(sealed.pem.hasPrefix("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"))
        #expect(try EncryptedCosignKey(json: sealed.json, subject: "k") == sealed)
        let opened = try SigningKey(pem: sealed.pem, subject: "k") { Array("pw".utf8) }
        #expect(opened.publicKey == key.publicKey)
        #expect {
            _ = try SigningKey(pem: sealed.pem, subject: "k") { Array("pW".utf8) }
        } throws: { ($0 as? SignatureGateError)?.code == .wrongPassword }
    }

    @Test func keyPairsAreWrittenBesideEachOtherAndNeverOverwrittenUnasked() throws {
        #expect(SigningKeyPair.publicPath(forSecretPath: "/k/cosign.key") == "/k/cosign.pub")
        #expect(SigningKeyPair.publicPath(forSecretPath: "/k/release-signing") == "/k/release-signing.pub")
        let dir = try TestFiles.makeTemporaryDirectory("keypair")
        defer { TestFiles.cleanup(dir) }
        let secret = dir.appendingPathComponent("cosign.key").path
        let pub = dir.appendingPathComponent("cosign.pub").path
        let pair = try SigningKeyPair.generate(.cosign, password: nil)
        #expect(!pair.isEncrypted)
        try pair.write(secretPath: secret, publicPath: pub, force: false)
        let loaded = try ArtifactSigningKey.load(secret) { _ throws(SignatureGateError) in
            throw SignatureGateError(.passwordUnavailable, "k", "unencrypted keys must not ask")
        }
        #expect(loaded.keyID == pair.key.keyID)
        let reread = try SigningKey(pem: pair.secretFileText, subject: "k") { [] }
        #expect(try PublicKey(contentsOf: pub) == reread.publicKey)
        let other = try SigningKeyPair.generate(.cosign, password: nil)
        #expect {
            try other.write(secretPath: secret, publicPath: pub, force: false)
        } throws: { ($0 as? SignatureGateError)?.code == .outputExists }
        #expect(try String(contentsOfFile: pub, encoding: .utf8) == pair.publicFileText)
        try other.write(secretPath: secret, publicPath: pub, force: true)
        #expect(try String(contentsOfFile: pub, encoding: .utf8) == other.publicFileText)
        #expect(try FileManager.default.attributesOfItem(atPath: secret)[.posixPermissions] as? Int == 0o600)
    }

    @Test(arguments: [
        ("no pem here", SignatureGateError.Code.malformedPEM),
        ("-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n", .malformedPEM),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", .malformedPublicKey),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", .malformedPublicKey),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n", .malformedPEM),
    ])
    func malformedPublicKeysThrowTypedErrors(text: String, code: SignatureGateError.Code) {
        #expect { _ = try PublicKey(pem: text) } throws: { ($0 as? SignatureGateError)?.code == code }
    }

    @Test(arguments: [
        "untrusted comment: x\nRWQ=\n",
        "untrusted comment: x\nline\nextra\n",
        "",
    ])
    func malformedMinisignPublicKeysThrow(text: String) {
        #expect {
            _ = try MinisignPublicKey(text: text)
        } throws: { ($0 as? SignatureGateError)?.code == .malformedPublicKey }
    }

    @Test func encryptedCosignKeyWithExcessiveScryptParametersIsRefused() throws {
        let json = """
            {"kdf":{"name":"scrypt","params":{"N":1073741824,"r":8,"p":1},"salt":"AAAA"},\
            "cipher":{"name":"nacl/secretbox","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},\
            "ciphertext":"AAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
            """
        #expect {
            _ = try EncryptedCosignKey(json: Array(json.utf8), subject: "k")
        } throws: { ($0 as? SignatureGateError)?.code == .unsafeParameters }
    }

    @Test func oversizedInputsAreRefusedBeforeParsing() throws {
        let dir = try TestFiles.makeTemporaryDirectory("gate-big")
        defer { TestFiles.cleanup(dir) }
        let url = dir.appendingPathComponent("huge.sig")
        try Data(repeating: UInt8(ascii: "A"), count: BoundedInput.smallFileLimit + 1).write(to: url)
        #expect {
            _ = try DetachedSignature.load(url.path)
        } throws: { ($0 as? SignatureGateError)?.code == .inputTooLarge }
    }
}
