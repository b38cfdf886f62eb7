import Engine
import Foundation
import Identity
import PeerTLS
import Testing

/// ``PeerCertificateCheck`` on its own: each way a certificate is refused names its reason.
struct PeerCertificateCheckTests {
    let listed: NodeKey
    let other: NodeKey
    let revoked: NodeKey
    let allowlist: Allowlist

    init() throws {
        listed = try NodeKey.generate(name: "listed")
        other = try NodeKey.generate(name: "other")
        revoked = try NodeKey.generate(name: "gone")
        allowlist = try Allowlist(
            parsing: "\(listed.allowlistLine)\nrevoked ed25519 \(revoked.publicKey.base64) gone\n")
    }

    @Test func aListedNodeCertificateIsAcceptedWithItsName() throws {
        let certificate = try NodeCertificate(key: listed)
        let verdict = PeerCertificateCheck.check(der: certificate.der, allowlist: allowlist)
        #expect(verdict == .accepted(PeerIdentity(publicKey: listed.publicKey, name: "listed")))
    }

    @Test func refusals() throws {
        let now = Date()
        let cases: [(String, [UInt8], PeerRefusal)] = [
            ("unlisted key", try NodeCertificate(key: other).der, .unlistedKey),
            ("revoked key", try NodeCertificate(key: revoked).der, .unlistedKey),
            ("P-256 key", try TestCertificate.p256().der, .certificateKey),
            ("RSA key", try TestCertificate.rsa().der, .certificateKey),
            ("expired", try TestCertificate.node(listed, notBefore: now - 86400 * 10, notAfter: now - 60).der, .certificateDates),
            ("not yet valid", try TestCertificate.node(listed, notBefore: now + 3600, notAfter: now + 86400).der, .certificateDates),
            ("garbage", Array("not a certificate".utf8), .certificateKey),
            ("empty", [], .certificateKey),
        ]
        for (what, der, expected) in cases {
            guard case .refused(let refusal, let reason) = PeerCertificateCheck.check(der: der, allowlist: allowlist) else {
                Issue.record("\(what): accepted")
                continue
            }
            #expect(refusal == expected, "\(what): \(reason)")
        }
    }

    @Test func theNodeCertificateIsShortLivedAndNamesTheKey() throws {
        let now = Date()
        let certificate = try NodeCertificate(key: listed, now: now)
        // X.509 times have whole seconds.
        #expect(abs(certificate.certificate.notValidBefore.timeIntervalSince(now - NodeCertificate.backdating)) < 1)
        #expect(abs(certificate.certificate.notValidAfter.timeIntervalSince(now + NodeCertificate.validity)) < 1)
        #expect(String(decoding: certificate.der, as: UTF8.self).contains(listed.fingerprint))
        #expect(certificate.certificate.signatureAlgorithm == .ed25519)
    }
}
