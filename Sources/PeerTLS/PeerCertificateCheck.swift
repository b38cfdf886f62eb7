import Crypto
import Engine
import Foundation
import Identity
import X509

/// The one check of a peer's certificate in a private swarm, run from the TLS verification callback of both sides
/// (the TLS handshake itself proves the peer holds the certificate's private key):
///
/// 1. the leaf parses as X.509 (swift-certificates);
/// 2. its key is Ed25519 (an RSA or ECDSA key is refused whatever it is signed by);
/// 3. `now` lies within its validity dates;
/// 4. the raw key is active on the allowlist as it is now (pinned to the key, not to a CA).
public enum PeerCertificateCheck {
    /// What the check says.
    public enum Verdict: Sendable, Hashable {
        /// The peer is the listed node `identity`.
        case accepted(PeerIdentity)
        /// Refused: counted under `refusal`, logged with `reason`.
        case refused(PeerRefusal, reason: String)
    }

    /// Checks a peer's leaf certificate.
    ///
    /// - Parameters:
    ///   - der: the leaf certificate's DER bytes.
    ///   - allowlist: the allowlist now.
    ///   - now: the time to check the validity dates against.
    /// - Returns: the peer's identity, or why it is refused.
    public static func check(der: [UInt8], allowlist: Allowlist, now: Date = Date()) -> Verdict {
        let certificate: Certificate
        do {
            certificate = try Certificate(derEncoded: der)
        } catch {
            return .refused(.certificateKey, reason: "the peer's certificate does not parse: \(error)")
        }
        guard let key = Curve25519.Signing.PublicKey(certificate.publicKey),
            let nodeKey = NodePublicKey(bytes: Array(key.rawRepresentation))
        else {
            return .refused(
                .certificateKey,
                reason: "the peer's certificate key is \(certificate.publicKey), not an Ed25519 node key")
        }
        if now < certificate.notValidBefore {
            return .refused(
                .certificateDates,
                reason: "the certificate of \(nodeKey.fingerprint) is not valid before \(certificate.notValidBefore)")
        }
        if now > certificate.notValidAfter {
            return .refused(
                .certificateDates,
                reason: "the certificate of \(nodeKey.fingerprint) expired at \(certificate.notValidAfter)")
        }
        switch allowlist.lookup(nodeKey: nodeKey) {
        case .allowed(let entry):
            return .accepted(PeerIdentity(publicKey: nodeKey, name: entry.name))
        case .revoked(let entry):
            return .refused(.unlistedKey, reason: "node key \(nodeKey.fingerprint) (\(entry.name)) is revoked")
        case .unknown:
            return .refused(.unlistedKey, reason: "node key \(nodeKey.fingerprint) is not on the allowlist")
        }
    }
}
