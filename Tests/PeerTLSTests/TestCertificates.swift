import Crypto
import Foundation
import Identity
import NIOSSL
import SwiftASN1
import X509
import _CryptoExtras

/// Certificates a test peer presents: any key type, any dates.
struct TestCertificate {
    let der: [UInt8]
    let keyPEM: String

    /// A self-signed certificate for `key`, valid from `notBefore` to `notAfter`.
    init(key: Certificate.PrivateKey, algorithm: Certificate.SignatureAlgorithm, notBefore: Date, notAfter: Date) throws {
        let name = try DistinguishedName { CommonName("test peer") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey, notValidBefore: notBefore,
            notValidAfter: notAfter, issuer: name, subject: name, signatureAlgorithm: algorithm,
            extensions: Certificate.Extensions(), issuerPrivateKey: key)
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        der = serializer.serializedBytes
        keyPEM = try key.serializeAsPEM().pemString
    }

    static let now = Date()

    /// A node key's certificate with the given dates.
    static func node(_ key: NodeKey, notBefore: Date = now - 3600, notAfter: Date = now + 86400) throws -> TestCertificate {
        try TestCertificate(
            key: Certificate.PrivateKey(Curve25519.Signing.PrivateKey(rawRepresentation: key.keyPair.seed)),
            algorithm: .ed25519, notBefore: notBefore, notAfter: notAfter)
    }

    static func p256() throws -> TestCertificate {
        try TestCertificate(
            key: Certificate.PrivateKey(P256.Signing.PrivateKey()), algorithm: .ecdsaWithSHA256,
            notBefore: now - 3600, notAfter: now + 86400)
    }

    static func rsa() throws -> TestCertificate {
        try TestCertificate(
            key: Certificate.PrivateKey(_RSA.Signing.PrivateKey(keySize: .bits2048)), algorithm: .sha256WithRSAEncryption,
            notBefore: now - 3600, notAfter: now + 86400)
    }

    /// A TLS 1.3 client configuration presenting this certificate (it does not check the server's).
    func clientConfiguration() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.certificateVerification = .none
        configuration.certificateChain = [.certificate(try NIOSSLCertificate(bytes: der, format: .der))]
        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem))
        configuration.signingSignatureAlgorithms = [
            .ed25519, .ecdsaSecp256R1Sha256, .rsaPssRsaeSha256,
        ]
        configuration.verifySignatureAlgorithms = [.ed25519]
        return configuration
    }
}
