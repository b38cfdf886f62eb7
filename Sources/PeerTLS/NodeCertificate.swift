import Crypto
import Foundation
import Identity
import NIOSSL
import SwiftASN1
import X509

/// The X.509 certificate a node shows in the TLS handshake of a private swarm: self-signed, made from the node's
/// Ed25519 key (``NodeKey``) at start, never stored. Peers do not trust it as a certificate (there is no CA); they
/// pin the key in it against their allowlist (``PeerCertificateCheck``). Docs/peer-tls.md lists its fields.
public struct NodeCertificate: Sendable {
    /// How far back `notBefore` is set: peers whose clocks are behind ours by up to this accept it.
    public static let backdating: TimeInterval = 3600
    /// How long it is valid from when it is made. A node that runs longer makes a new one (``PeerTLSTransport``
    /// renews it after ``renewalAge``).
    public static let validity: TimeInterval = 7 * 86400
    /// The age after which a running node makes a new certificate.
    public static let renewalAge: TimeInterval = 86400

    /// The certificate as swift-certificates made it.
    public let certificate: Certificate
    /// Its DER bytes.
    public let der: [UInt8]
    /// When it was made.
    public let madeAt: Date
    let sslCertificate: NIOSSLCertificate
    let sslKey: NIOSSLPrivateKey

    /// Makes the certificate for `key`, valid from `now` - ``backdating`` to `now` + ``validity``, subject and
    /// issuer CN = the key's fingerprint.
    ///
    /// - Throws: ``PeerTLSError`` `.certificate` if swift-certificates or NIOSSL cannot make or load it.
    public init(key: NodeKey, now: Date = Date()) throws(PeerTLSError) {
        do {
            let signing = try Curve25519.Signing.PrivateKey(rawRepresentation: key.keyPair.seed)
            let privateKey = Certificate.PrivateKey(signing)
            let name = try DistinguishedName {
                CommonName(key.fingerprint)
                OrganizationName("swtorrent node")
            }
            certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: privateKey.publicKey,
                notValidBefore: now - Self.backdating, notValidAfter: now + Self.validity, issuer: name,
                subject: name, signatureAlgorithm: .ed25519,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                },
                issuerPrivateKey: privateKey)
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            der = serializer.serializedBytes
            sslCertificate = try NIOSSLCertificate(bytes: der, format: .der)
            sslKey = try NIOSSLPrivateKey(bytes: Array(try privateKey.serializeAsPEM().pemString.utf8), format: .pem)
            madeAt = now
        } catch {
            throw PeerTLSError(.certificate, "cannot make the node certificate for \(key.fingerprint): \(error)")
        }
    }
}
