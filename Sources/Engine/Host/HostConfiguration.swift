import LocalDiscovery
import NIOSSL

/// What one node's ``SessionHost`` allows across all of its torrents. Each session may set tighter limits of its
/// own (``SessionConfiguration``); the node-wide ones are shared fairly (``SharedBudget``).
public struct HostConfiguration: Sendable {
    /// TCP port of the node's one peer listener; 0 picks a free port (each session announces the real one).
    public var port: Int = 0
    /// Address to listen on.
    public var listenHost: String = "0.0.0.0"
    /// Open peer connections, incoming and outgoing, over all torrents.
    public var maxConnections = 200
    /// Outgoing connection attempts in progress at once, over all torrents.
    public var maxHalfOpen = 32
    /// Piece buffers (being filled, hashed and written, cached for uploads, free) over all torrents.
    public var pieceBufferBytes = 40 << 20
    /// Bytes handed to the disk and not yet written, over all torrents: requests pause above it.
    public var writeBytesInFlight = 24 << 20
    /// Upload read buffers kept for reuse, over all torrents.
    public var readBufferPoolBytes = 16 << 20
    /// Upload and download limits in bytes per second over all torrents (nil: unlimited), split evenly among the
    /// torrents that have connections.
    public var uploadRateLimit: Int?
    public var downloadRateLimit: Int?
    /// A connection must complete the BitTorrent handshake (and the transport handshake before it) within this.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Called after every handshake, before the session takes the connection; nil admits every connection.
    public var admission: PeerAdmission?
    /// The handlers for the slot before the BitTorrent handshake (TLS); nil for plain BitTorrent.
    public var transportSecurity: (any PeerTransportSecurity)?
    /// BEP 14 local service discovery, off unless given (`swtorrent seed`/`leech` give one unless `--no-lsd`,
    /// through `LocalDiscoverySettings`): the host starts it when its listener is bound, announces its torrents
    /// with the listener's port, and feeds the peers it finds into their sessions' directories (source `lsd`,
    /// locality LAN). Private torrents are announced and fed only when ``transportSecurity`` authenticates all their
    /// connections (``PeerTransportSecurity/authenticatesPrivateSwarms``, with ``admission``), never otherwise. When
    /// discovery cannot start the host fails to start if the interfaces were named, and runs without discovery (a
    /// warning) if discovery was to choose them.
    public var localDiscovery: LocalDiscovery?
    /// The TLS settings of the node's HTTP client for `https://` mirrors and web seeds; nil: AsyncHTTPClient's
    /// defaults. A node with a key presents its node certificate with it (`PeerTLSTransport.mirrorClientTLS`), which
    /// an appliance's HTTP mirror requires for private torrents.
    public var mirrorTLS: TLSConfiguration?
    /// Certificate authorities the HTTP client trusts besides the system's (``mirrorTLS``'s trust roots, or the
    /// system's when it is nil): `leech --mirror-ca` (``MirrorTrustRoots``).
    public var mirrorTrustRoots: [NIOSSLCertificate] = []

    public init() {}

    /// The private host of a ``TorrentSession`` that runs alone: the session's listener, connection limits,
    /// handshake timeout and mirror CAs (its rate limits stay the session's own).
    public init(session: SessionConfiguration) {
        port = session.port
        listenHost = session.listenHost
        maxConnections = session.maxConnections
        maxHalfOpen = session.maxHalfOpen
        handshakeTimeout = session.handshakeTimeout
        mirrorTrustRoots = session.mirrorTrustRoots
    }

    /// The HTTP client's TLS settings: ``mirrorTLS`` (or AsyncHTTPClient's default, full verification against the
    /// system's roots) with ``mirrorTrustRoots`` added to the roots; nil when neither is set.
    var mirrorClientTLS: TLSConfiguration? {
        guard !mirrorTrustRoots.isEmpty else { return mirrorTLS }
        return MirrorTrustRoots.clientTLS(adding: mirrorTrustRoots, to: mirrorTLS ?? .makeClientConfiguration())
    }

    /// When ``mirrorTLS`` does not verify servers (a keyed node's, made for appliances' self-signed node
    /// certificates): the settings a mirror is switched to after its handshake with ``mirrorTLS`` fails as with a
    /// third-party server (``HTTPMirror/useVerifiedTLS(after:generation:)``, until a handshake with them cannot
    /// complete, as at an appliance: ``HTTPMirror/useClientTLS(after:generation:)``; a certificate that does not verify
    /// keeps them) — AsyncHTTPClient's default, full verification against the system's roots and
    /// ``mirrorTrustRoots``, no client certificate. Nil otherwise.
    var mirrorVerifiedTLS: TLSConfiguration? {
        guard mirrorTLS?.certificateVerification == CertificateVerification.none else { return nil }
        return MirrorTrustRoots.clientTLS(adding: mirrorTrustRoots)
    }
}

/// What a host has done so far.
public struct HostStatistics: Sendable, Hashable {
    /// The listener's port (0 before ``SessionHost/start()``).
    public var port: Int
    /// Torrents running.
    public var sessions: Int
    /// Open peer connections (handshake done) over all torrents.
    public var connections: Int
    /// Connections closed before they reached a session, per reason.
    public var refusals: [PeerRefusal: Int]
    /// Bytes of piece buffers that exist over all torrents.
    public var pieceBufferBytes: Int
    /// What local discovery has sent, accepted and dropped (nil without it, or when it did not start).
    public var localDiscovery: LocalDiscoveryStatistics?
    /// Local-discovery addresses seeds held back to a later dialling round (their torrent's dial budget used up, or
    /// another address of the same host dialled in that round), each counted once, over all torrents since the host
    /// started (``PeerDirectory/localDialsPerSecond``).
    public var localDialsDeferred = 0
    /// Local-discovery addresses forgotten for a newer one of the same host, over all torrents since the host
    /// started (``PeerDirectory/localWaitingPerHost``).
    public var localAddressesReplaced = 0
    /// Whether local discovery started with the listener.
    var discoveryRunning = false
}
