import SwarmPrimitives

/// Where and how a ``LocalDiscovery`` announces and listens.
public struct LocalDiscoveryConfiguration: Sendable {
    /// The interfaces to announce and listen on, by name (`eth0`, a lab's veth); each must be up with an IPv4 or
    /// routable IPv6 address. Empty chooses when discovery starts (``LocalInterface/select(from:named:)``): every
    /// interface that is up, multicast-capable and not loopback, with an address; loopback only when there is none.
    public var interfaces: [String]
    /// IP_MULTICAST_TTL of our announcements: 1 keeps them on the link.
    public var timeToLive: UInt8 = 1
    /// IP_MULTICAST_LOOP: whether other processes on this host (or in this network namespace) hear our
    /// announcements. Our own are dropped by their cookie either way.
    public var multicastLoop = true
    /// The UDP port of the multicast group (BEP 14: 6771).
    public var groupPort = LSDLimits.multicastPort
    /// How often the announcer looks for torrents that are due, in seconds (the first announcement of a torrent
    /// goes out within this of ``LocalDiscovery/add(_:)``).
    public var tickInterval: Double = 0.5
    /// When each torrent is announced.
    public var schedule = AnnounceSchedule()
    /// Datagrams a source may send per second before the rest are dropped.
    public var inboundPerSecond = 10

    /// - Parameter interfaces: the interfaces by name; empty (the default) chooses them when discovery starts.
    public init(interfaces: [String] = []) {
        self.interfaces = interfaces
    }

    /// Whether the interfaces are chosen automatically (none named). A host treats a failure to start as fatal only
    /// when the interfaces were named: automatic discovery that finds nothing to run on leaves the node without it.
    public var choosesInterfaces: Bool { interfaces.isEmpty }
}

/// A peer an announcement told us of: a host on the link that serves `infoHash` on `port`.
public struct LocalPeer: Sendable, Hashable {
    public var infoHash: InfoHash
    /// The announcement's source address (numeric IPv4, or IPv6 as the socket reports it).
    public var host: String
    public var port: Int

    public init(infoHash: InfoHash, host: String, port: Int) {
        self.infoHash = infoHash
        self.host = host
        self.port = port
    }
}

/// What an announcer has done so far.
public struct LocalDiscoveryStatistics: Sendable, Hashable {
    /// Datagrams sent (over all interfaces and both groups).
    public var sent = 0
    /// Datagrams accepted (parsed, not ours, from the link, under the rate limit).
    public var accepted = 0
    /// Datagrams dropped, by reason.
    public var dropped: [InboundFilter.Drop: Int] = [:]
    /// Peers reported to the caller (one per torrent we run named in an accepted datagram).
    public var peersReported = 0
    /// Torrents being announced.
    public var torrents = 0

    public init() {}
}
