import NIOSSL

/// How a torrent session behaves. The defaults suit a leech or a seed on a fast network.
public struct SessionConfiguration: Sendable {
    /// TCP port to listen on; 0 picks a free port (announced to trackers).
    public var port: Int = 0
    /// Address to listen on.
    public var listenHost: String = "0.0.0.0"
    /// Peers to dial directly, without a tracker (`--peer`).
    public var manualPeers: [PeerAddress] = []
    /// Networks counted as local besides this host's own subnets (``LocalityClassifier``): peers inside them are
    /// `.lan` (dialled first, counted in the picker's LAN availability). `--lan CIDR`.
    public var lanNetworks: [CIDR] = []
    /// Networks whose peers are `.wan` even when they look local (a router's subnet, a peer found by discovery);
    /// they win over ``lanNetworks``, loopback and this host's subnets. `--wan CIDR`.
    public var wanNetworks: [CIDR] = []
    /// LAN-first selection (``LANFirstPolicy``): pieces some LAN peer has are requested from LAN peers only, WAN
    /// peers are asked for the rest (spread over the site's leechers), and LAN peers get regular upload slots first
    /// (``Choker/favourLAN``). `--no-lan-first` turns it off (rarest first from every peer, slots by rate).
    public var lanFirst = true
    /// With ``lanFirst``: how long a LAN peer may choke us before the pieces it holds may be asked of WAN peers (a
    /// snubbed LAN peer counts at once), so a site whose peers stop serving still downloads.
    public var lanChokeTolerance: Duration = .seconds(5)
    /// With ``lanFirst``: how long one of the site's other leechers may go without announcing a piece of its WAN
    /// share (``SiteShare``) before this leecher also fetches that share from the WAN (from its end).
    public var siteShareGrace: Duration = .seconds(5)
    /// With ``lanFirst``: the transfer time the requests outstanding with one WAN peer cover (LAN peers, and every
    /// peer without LAN-first: 1 s). Requests already sent are committed to the WAN even when the site's shares
    /// change (a neighbour connects and takes some of the pieces), so this is kept short; it must still cover the
    /// WAN's round trip.
    public var wanQueueTime: Duration = .milliseconds(250)
    /// Whether to announce to the torrent's trackers.
    public var useTrackers = true
    /// Extra query parameters for one announce (signed announces); called for each announce URL.
    public var announceParameters: (@Sendable (AnnounceURL, AnnounceRequest) -> [(name: String, value: String)])?
    /// Open connections, incoming and outgoing together.
    public var maxConnections = 80
    /// Outgoing connection attempts in progress at once.
    public var maxHalfOpen = 16
    /// Upload and download limits in bytes per second (nil: unlimited).
    public var uploadRateLimit: Int?
    public var downloadRateLimit: Int?
    /// After every piece is verified: nil stops at once, a duration keeps seeding that long. Ignored when the
    /// session starts complete (a seed runs until stopped).
    public var seedAfterComplete: Duration?
    /// Keep seeding until stopped once complete (`swtorrent seed`). Otherwise a session that is or becomes
    /// complete ends (after ``seedAfterComplete``).
    public var seedUntilStopped = false
    /// Give up (outcome ``SessionOutcome/stalled``) when no piece was verified for this long; nil waits forever.
    public var stallTimeout: Duration?
    /// A connection must complete the handshake within this.
    public var handshakeTimeout: Duration = .seconds(10)
    /// A peer that holds our requests this long without sending a block is snubbed and its requests go elsewhere.
    public var requestTimeout: Duration = .seconds(15)
    /// A connection with no message at all for this long is closed.
    public var idleTimeout: Duration = .seconds(150)
    /// Regular upload slots (plus one optimistic).
    public var uploadSlots = 8
    /// Reads from disk in flight per peer we upload to (consecutive requested blocks are read together).
    public var readsInFlightPerPeer = 64
    /// Bytes of those reads in flight per peer: bounds the memory a fast downloader can pin.
    public var readBytesInFlightPerPeer = 4 << 20
    /// Requests a peer may queue with us before it is dropped.
    public var maxQueuedRequestsPerPeer = 4096
    /// How often progress is reported.
    public var progressInterval: Duration = .seconds(1)
    /// HTTP mirrors to fetch pieces from beside the peers (`leech --mirror`, a manifest's mirrors); the torrent's
    /// web seeds (`url-list`) are added unless ``MirrorSettings/useWebSeeds`` is off. Each must be an http(s) URL
    /// (``MirrorLocation``).
    public var mirrors: [String] = []
    /// Localities the caller knows for some of those URLs, which win over the address rules of
    /// ``LocalityClassifier`` for them: a release manifest's mirror whose `site` is this node's (`leech --site`) is
    /// `.lan`, one at another site `.wan` (Docs/manifest.md, "Sites").
    public var mirrorLocalities: [String: PeerLocality] = [:]
    /// The origin (a release manifest's CDN URL, `leech --allow-origin`): fetched from like a mirror, but only as a
    /// last resort (``MirrorSettings/originGrace``; Docs/mirrors.md, "Order").
    public var origin: String?
    /// How mirrors are used: request depth, backoff, when one is dropped, timeouts.
    public var mirrorSettings = MirrorSettings()
    /// Certificate authorities trusted for `https://` mirrors and web seeds besides the system's (`leech --mirror-ca`,
    /// ``MirrorTrustRoots``). The HTTP client is the host's: a host made from this configuration
    /// (``HostConfiguration/init(session:)``) takes them into ``HostConfiguration/mirrorTrustRoots``.
    public var mirrorTrustRoots: [NIOSSLCertificate] = []

    public init() {}
}

/// What a session reports while it runs.
public struct SessionProgress: Sendable, Hashable, Codable {
    public var verifiedBytes: Int64
    public var totalBytes: Int64
    public var piecesVerified: Int
    public var pieceCount: Int
    /// Payload bytes per second, averaged over the last few seconds.
    public var downloadRate: Double
    public var uploadRate: Double
    /// Payload bytes since the session started.
    public var downloaded: Int64
    public var uploaded: Int64
    /// Connected peers (handshake done).
    public var peers: Int
    /// Connected peers by how they were found (tracker, lsd, manual, incoming): the sources that are active.
    public var peerSources: [PeerSource: Int] = [:]
    /// Connected peers by locality (LAN, WAN, unknown).
    public var peerLocalities: [PeerLocality: Int] = [:]
    /// Seconds until complete at the current rate, when it can be estimated.
    public var etaSeconds: Double?
    /// Every piece is verified.
    public var complete: Bool
    /// Pieces that failed the hash check so far.
    public var hashFailures: Int
    /// Peers banned so far.
    public var bannedPeers: Int
    /// Verified bytes per file (path joined with `/`) per peer address (`ip:port`) or mirror URL, pad files
    /// excluded; filled in the final progress of a ``SessionOutcome`` only (see ``PeerAttribution``).
    public var suppliedBytes: [String: [String: Int64]] = [:]
    /// The identities of the peers in ``suppliedBytes`` that authenticated with a node key, by address; filled in
    /// the final progress only.
    public var supplierIdentities: [String: PeerIdentity] = [:]
    /// The session's HTTP mirrors and web seeds: state, bytes, and why one backs off or was dropped.
    public var mirrors: [MirrorProgress] = []

    public init(
        verifiedBytes: Int64, totalBytes: Int64, piecesVerified: Int, pieceCount: Int, downloadRate: Double,
        uploadRate: Double, downloaded: Int64, uploaded: Int64, peers: Int, peerSources: [PeerSource: Int] = [:],
        peerLocalities: [PeerLocality: Int] = [:], etaSeconds: Double?, complete: Bool, hashFailures: Int,
        bannedPeers: Int, suppliedBytes: [String: [String: Int64]] = [:], mirrors: [MirrorProgress] = []
    ) {
        self.verifiedBytes = verifiedBytes
        self.totalBytes = totalBytes
        self.piecesVerified = piecesVerified
        self.pieceCount = pieceCount
        self.downloadRate = downloadRate
        self.uploadRate = uploadRate
        self.downloaded = downloaded
        self.uploaded = uploaded
        self.peers = peers
        self.peerSources = peerSources
        self.peerLocalities = peerLocalities
        self.etaSeconds = etaSeconds
        self.complete = complete
        self.hashFailures = hashFailures
        self.bannedPeers = bannedPeers
        self.suppliedBytes = suppliedBytes
        self.mirrors = mirrors
    }

    /// Percent verified, 0–100.
    public var percent: Double { totalBytes == 0 ? 100 : Double(verifiedBytes) * 100 / Double(totalBytes) }
}

/// How a session ended.
public enum SessionOutcome: Sendable, Hashable {
    /// Every piece is on disk and verified (after seeding, if asked).
    case complete(SessionProgress)
    /// Stopped on request before completion (a seed's normal end).
    case stopped(SessionProgress)
    /// No piece was verified within the stall timeout.
    case stalled(SessionProgress)
}
