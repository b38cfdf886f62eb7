import Foundation
import NIOSSL
import TestSupport
import Testing

@testable import Engine

/// `leech --mirror-ca`'s certificates: read from a PEM bundle, carried from the session's settings into the host's,
/// and added to the HTTP client's TLS settings beside what is there (a keyed node's client certificate is kept).
@Suite struct MirrorTrustRootsTests {
    /// Two throwaway CAs (openssl) and a bundle of both, with the first CA's server certificate and key.
    struct Fixture {
        let dir: URL
        let first: TestCertificateAuthority
        let bundle: String

        init() throws {
            dir = try TestFiles.makeTemporaryDirectory("mirror-ca")
            first = try TestCertificateAuthority(directory: dir, name: "first")
            let second = try TestCertificateAuthority(directory: dir, name: "second")
            bundle = dir.appendingPathComponent("bundle.pem").path
            let text = "# a comment line, as bundles have\n"
            try (Data(text.utf8) + Data(contentsOf: first.certificate) + Data(contentsOf: second.certificate))
                .write(to: URL(fileURLWithPath: bundle))
        }
    }

    @Test func aBundleGivesEveryCertificateInFileOrder() throws {
        let fixture = try Fixture()
        defer { TestFiles.cleanup(fixture.dir) }
        let roots = try MirrorTrustRoots.load(pemFile: fixture.bundle)
        #expect(roots.count == 2)
        #expect(roots.first == (try NIOSSLCertificate.fromPEMFile(fixture.first.certificate.path)).first)
    }

    @Test func theRootsAreAddedToTheSystemsAndToAKeyedNodesSettingsWithoutReplacingThem() throws {
        let fixture = try Fixture()
        defer { TestFiles.cleanup(fixture.dir) }
        let roots = try MirrorTrustRoots.load(pemFile: fixture.bundle)
        var session = SessionConfiguration()
        #expect(HostConfiguration(session: session).mirrorClientTLS == nil)  // the client's own defaults
        session.mirrorTrustRoots = roots
        var host = HostConfiguration(session: session)
        #expect(host.mirrorTrustRoots == roots)

        let plain = try #require(host.mirrorClientTLS)
        #expect(plain.certificateVerification == .fullVerification)
        #expect(plain.trustRoots == .default)
        #expect(plain.additionalTrustRoots == [.certificates(roots)])
        #expect(host.mirrorVerifiedTLS == nil)  // it verifies already

        // A keyed node's settings (PeerTLSTransport.mirrorClientTLS's shape): client certificate, no verification.
        var keyed = TLSConfiguration.makeClientConfiguration()
        let certificate = try NIOSSLCertificate.fromPEMFile(fixture.first.serverCertificate.path)
        keyed.certificateChain = certificate.map { .certificate($0) }
        keyed.privateKey = .privateKey(try NIOSSLPrivateKey(file: fixture.first.serverKey.path, format: .pem))
        keyed.certificateVerification = .none
        host.mirrorTLS = keyed
        let combined = try #require(host.mirrorClientTLS)
        #expect(combined.certificateChain == keyed.certificateChain)
        #expect(combined.privateKey == keyed.privateKey)
        #expect(combined.certificateVerification == .none)
        #expect(combined.additionalTrustRoots == [.certificates(roots)])
        // What a third-party mirror is switched to: verified, with the roots, without the node's certificate.
        let verified = try #require(host.mirrorVerifiedTLS)
        #expect(verified.certificateVerification == .fullVerification)
        #expect(verified.additionalTrustRoots == [.certificates(roots)])
        #expect(verified.certificateChain.isEmpty)
        #expect(verified.privateKey == nil)
    }
}
