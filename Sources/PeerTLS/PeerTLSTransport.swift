import Engine
import Foundation
import Identity
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// The transport of private swarms (Docs/peer-tls.md), in Engine's ``PeerTransportSecurity`` slot: TLS 1.3 with
/// mutual authentication, each side's certificate key pinned against the allowlist as it is now.
///
/// - Outgoing connections for a private torrent start a TLS handshake (SNI = the info-hash in hex); outgoing
///   connections for a public torrent stay plain BitTorrent.
/// - Incoming connections go through ``TLSSniffer``: a first byte 0x16 starts the TLS server, anything else stays
///   plain (and is admitted to public torrents only, unless ``allowPlainPeers``).
/// - ``admission`` refuses plain connections to private torrents, and authenticated keys that a reload revoked
///   between the TLS and the BitTorrent handshake.
public final class PeerTLSTransport: PeerTransportSecurity {
    /// The node key that makes the certificate.
    public let key: NodeKey
    /// The peers' keys, as the allowlist is now; a reload closes the connections of keys it drops.
    public let allowlist: LiveAllowlist
    /// Whether plain BitTorrent peers (third-party clients) may join private torrents.
    public let allowPlainPeers: Bool
    private let logger: Logger
    private let contexts: Mutex<Contexts>

    /// The TLS contexts of one node certificate.
    struct Contexts: Sendable {
        let certificate: NodeCertificate
        let server: NIOSSLContext
        let client: NIOSSLContext
    }

    /// The handler names in the pipeline.
    static let tlsHandlerName = "swt.tls"

    /// Makes the node certificate and the TLS contexts.
    ///
    /// - Parameters:
    ///   - key: the node key (`--key`).
    ///   - allowlist: the allowlist (`--allow`), live.
    ///   - allowPlainPeers: `--allow-plain-peers`.
    ///   - logger: where refused certificates are logged.
    /// - Throws: ``PeerTLSError`` when the certificate or the TLS configuration cannot be made.
    public init(key: NodeKey, allowlist: LiveAllowlist, allowPlainPeers: Bool = false, logger: Logger)
        throws(PeerTLSError)
    {
        self.key = key
        self.allowlist = allowlist
        self.allowPlainPeers = allowPlainPeers
        self.logger = logger
        contexts = Mutex(try Self.makeContexts(key: key, now: Date()))
    }

    /// The TLS settings of both sides: TLS 1.3 only; we sign with Ed25519 only; a certificate is required of the
    /// peer (`noHostnameVerification` makes the server ask for one and fail without it) and checked by
    /// ``PeerCertificateCheck`` alone, in the custom verification callback, never against a CA.
    static func configuration(_ base: TLSConfiguration, certificate: NodeCertificate) -> TLSConfiguration {
        var configuration = base
        configuration.certificateChain = [.certificate(certificate.sslCertificate)]
        configuration.privateKey = .privateKey(certificate.sslKey)
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates([])
        configuration.signingSignatureAlgorithms = [.ed25519]
        // Ed25519 is what a node signs with; ECDSA and RSA-PSS are accepted in the handshake only so that a peer
        // with such a certificate reaches PeerCertificateCheck and is refused and counted as "not Ed25519".
        configuration.verifySignatureAlgorithms = [
            .ed25519, .ecdsaSecp256R1Sha256, .ecdsaSecp384R1Sha384, .rsaPssRsaeSha256, .rsaPssRsaeSha384,
        ]
        return configuration
    }

    static func makeContexts(key: NodeKey, now: Date) throws(PeerTLSError) -> Contexts {
        let certificate = try NodeCertificate(key: key, now: now)
        do {
            let server = try NIOSSLContext(
                configuration: configuration(
                    .makeServerConfiguration(
                        certificateChain: [.certificate(certificate.sslCertificate)],
                        privateKey: .privateKey(certificate.sslKey)),
                    certificate: certificate))
            let client = try NIOSSLContext(
                configuration: configuration(.makeClientConfiguration(), certificate: certificate))
            return Contexts(certificate: certificate, server: server, client: client)
        } catch {
            throw PeerTLSError(.configuration, "NIOSSL refused the TLS configuration: \(error)")
        }
    }

    /// The contexts, with a new certificate once the current one is ``NodeCertificate/renewalAge`` old (a node
    /// that runs for weeks keeps a valid certificate; a failure keeps the old one and is logged).
    var current: Contexts {
        contexts.withLock { contexts in
            let now = Date()
            guard now.timeIntervalSince(contexts.certificate.madeAt) > NodeCertificate.renewalAge else {
                return contexts
            }
            do {
                contexts = try Self.makeContexts(key: key, now: now)
            } catch {
                logger.error("cannot renew the node certificate", metadata: ["error": "\(error)"])
            }
            return contexts
        }
    }

    /// The node certificate in use.
    public var certificate: NodeCertificate { current.certificate }

    /// The TLS settings of this node's HTTP client for `https://` mirrors (``HostConfiguration/mirrorTLS``): TLS 1.3,
    /// the node certificate presented as the client certificate (Ed25519), which an appliance's HTTP mirror pins
    /// against its allowlist before it serves a private torrent. The mirror's own certificate is not verified
    /// (`certificateVerification = .none`): a node's certificate is self-signed, every byte fetched is checked
    /// against the torrent's piece hashes, and TLS 1.3 binds the client's signature to the handshake, so a
    /// man in the middle can neither relay this node's authentication nor feed it data that passes.
    public var mirrorClientTLS: TLSConfiguration {
        let certificate = current.certificate
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = [.certificate(certificate.sslCertificate)]
        configuration.privateKey = .privateKey(certificate.sslKey)
        configuration.minimumTLSVersion = .tlsv13
        configuration.signingSignatureAlgorithms = [.ed25519]
        // The mirror signs with its Ed25519 node key; a ClientHello that does not offer Ed25519 is refused.
        configuration.verifySignatureAlgorithms = [.ed25519]
        configuration.certificateVerification = .none
        return configuration
    }

    /// Adds what an HTTP server (the node's HTTP mirror) needs before its HTTP handlers: plain HTTP and TLS on one
    /// port, told apart by the first byte as for peers; a TLS client must present a certificate whose key the
    /// allowlist allows (``authenticatedIdentity(of:)`` then names it), and is closed when a reload revokes it.
    public func addHTTPSServerHandlers(to pipeline: ChannelPipeline.SynchronousOperations) throws {
        try addHandlers(to: pipeline, connection: PeerConnectionSetup(direction: .incoming, dialled: nil))
    }

    // MARK: PeerTransportSecurity

    public func addHandlers(to pipeline: ChannelPipeline.SynchronousOperations, connection: PeerConnectionSetup)
        throws
    {
        switch connection.direction {
        case .incoming:
            let sniffer = TLSSniffer { [self] pipeline, sniffer in
                let state = PeerTLSConnection()
                let server = NIOSSLServerHandler(
                    context: current.server, customVerificationCallback: verification(state))
                try pipeline.addHandler(state, name: PeerTLSConnection.name, position: .after(sniffer))
                try pipeline.addHandler(server, name: Self.tlsHandlerName, position: .after(sniffer))
            }
            try pipeline.addHandler(sniffer, name: TLSSniffer.name)
        case .outgoing:
            guard let dialled = connection.dialled, dialled.isPrivate else { return }
            let state = PeerTLSConnection()
            // SNI names the torrent as libtorrent's SSL torrents do; routing still goes by the inner handshake.
            let client = try NIOSSLClientHandler(
                context: current.client, serverHostname: dialled.infoHash.hex,
                customVerificationCallback: verification(state))
            try pipeline.addHandler(client, name: Self.tlsHandlerName)
            try pipeline.addHandler(state, name: PeerTLSConnection.name)
        }
    }

    public func authenticatedIdentity(of channel: any Channel) -> PeerIdentity? {
        (try? channel.pipeline.syncOperations.handler(type: PeerTLSConnection.self))?.identity
    }

    public func refusal(of channel: any Channel) -> PeerRefusal? {
        (try? channel.pipeline.syncOperations.handler(type: PeerTLSConnection.self))?.closingRefusal
    }

    /// True unless ``allowPlainPeers``: every dial for a private torrent is TLS with the peer's key pinned, and
    /// ``admission`` lets only allowlisted keys into private torrents. With plain peers admitted, anyone who learns
    /// a private torrent's info-hash could join it, so the host keeps local discovery (which tells the LAN the
    /// info-hash) off for private torrents.
    public var authenticatesPrivateSwarms: Bool { !allowPlainPeers }

    /// The verification callback of one connection: ``PeerCertificateCheck`` on the peer's leaf, against the
    /// allowlist as it is now; the verdict goes to `state`, an accepted connection is tracked for revocation.
    private func verification(_ state: PeerTLSConnection) -> NIOSSLCustomVerificationCallback {
        { [allowlist, logger] certificates, promise in
            let der = (try? certificates.first?.toDERBytes()) ?? []
            switch PeerCertificateCheck.check(der: der, allowlist: allowlist.current) {
            case .accepted(let identity):
                state.identity = identity
                if let channel = state.channel { allowlist.track(channel, key: identity.publicKey) }
                promise.succeed(.certificateVerified)
            case .refused(let refusal, let reason):
                state.refusal = refusal
                logger.info(
                    "peer certificate refused",
                    metadata: ["peer": "\(state.channel?.remoteAddress.map { "\($0)" } ?? "?")", "why": "\(reason)"])
                promise.succeed(.failed)
            }
        }
    }

    // MARK: Admission

    /// The admission hook of a node with private swarms: a private torrent admits only peers that authenticated
    /// with a key the allowlist allows now (plain peers too with ``allowPlainPeers``); public torrents admit every
    /// peer.
    public var admission: PeerAdmission {
        { [allowlist, allowPlainPeers] request in
            guard request.isPrivate else { return .admit }
            guard let identity = request.identity else {
                return allowPlainPeers
                    ? .admit
                    : .refuse(
                        reason: "a private torrent on this node takes TLS peers with an allowlisted key only "
                            + "(--allow-plain-peers lets plain BitTorrent clients in)", counted: .plainPeer)
            }
            guard case .allowed = allowlist.current.lookup(nodeKey: identity.publicKey) else {
                return .refuse(reason: "node key \(identity.fingerprint) was revoked", counted: .unlistedKey)
            }
            return .admit
        }
    }
}
