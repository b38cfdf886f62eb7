import AsyncHTTPClient
import LocalDiscovery
import Logging
import Metainfo
import NIOCore
import NIOPosix
import PeerWire
import SwarmPrimitives

/// The node-wide part of the engine, on the host's event loop: the one peer listener, the table of sessions by
/// info-hash that incoming connections are routed through, the node-wide limits, and the refusal counters.
///
/// Every session of the host runs on the same loop (``SessionCore/loop`` is ``loop``), so the host and its
/// sessions call each other directly. ``SessionHost`` is the thread-safe face: it reaches this object only through
/// `loop.execute` / `submit` / `flatSubmit`.
final class HostCore: HandshakeRouting {
    let loop: any EventLoop
    let configuration: HostConfiguration
    let logger: Logger
    let handshakeTimeout: TimeAmount
    /// Every session's repeating timers, on one scheduled task.
    let timers: HostTimers
    /// Why local discovery stays off for private torrents on this host; nil when it runs for them
    /// (``usesLocalDiscovery(_:)``).
    let privateDiscoveryOff: String?

    private enum State {
        case idle
        case binding(EventLoopFuture<Int>)
        case listening(any Channel)
        case stopped
    }

    private var state = State.idle
    /// The IPv6 socket of the listener (``listenOnIPv6(_:port:)``), beside the one ``state`` holds.
    private var ipv6Listener: (any Channel)?
    private(set) var port = 0
    private var sessions: [InfoHash: SessionCore] = [:]
    /// Magnet-link fetches waiting for their info dictionary (``SessionHost/fetchMetadata(_:peers:)``), by
    /// info-hash: announced on local discovery, fed the peers it finds, and given the incoming connections that name
    /// them while no session runs the torrent.
    private var lookups: [InfoHash: MetadataCoordinator] = [:]
    /// The peers local discovery found for a lookup that succeeded, handed to the torrent's session when it joins
    /// (a peer announces itself only at its start and every 5 minutes, so the download would not hear it again soon).
    private var heardDuringLookups: [InfoHash: [PeerAddress]] = [:]
    private var nextSessionID = 1
    private var refusals: [PeerRefusal: Int] = [:]
    /// Local discovery started with the listener (it may be configured and still off: nothing to multicast on).
    private var discoveryRunning = false
    /// Local-discovery addresses the sessions that seed held back to a later dialling round (``HostStatistics``).
    var localDialsDeferred = 0
    /// Local-discovery addresses the sessions forgot for a newer one of the same host (``HostStatistics``).
    var localAddressesReplaced = 0
    /// The node's one HTTP client for mirrors and web seeds (``httpClient``), made on first use.
    private var mirrorClient: HTTPClient?

    // Node-wide limits, shared fairly between the sessions (by ``SessionCore/hostID``).
    private(set) var connections: SharedBudget
    private(set) var halfOpen: SharedBudget
    private(set) var pieceBuffers: SharedBudget
    private(set) var writes: SharedBudget
    private(set) var readPool: SharedBudget

    init(loop: any EventLoop, configuration: HostConfiguration, logger: Logger) {
        self.loop = loop
        self.configuration = configuration
        self.logger = logger
        self.handshakeTimeout = configuration.handshakeTimeout.timeAmount
        self.timers = HostTimers(loop: loop)
        self.privateDiscoveryOff = Self.privateDiscoveryOff(configuration)
        self.connections = SharedBudget(limit: configuration.maxConnections)
        self.halfOpen = SharedBudget(limit: configuration.maxHalfOpen)
        self.pieceBuffers = SharedBudget(limit: configuration.pieceBufferBytes)
        self.writes = SharedBudget(limit: configuration.writeBytesInFlight)
        self.readPool = SharedBudget(limit: configuration.readBufferPoolBytes)
    }

    // MARK: - Listener

    /// Binds the listener once; later calls get the same port.
    func start() -> EventLoopFuture<Int> {
        switch state {
        case .idle: break
        case .binding(let future): return future
        case .listening: return loop.makeSucceededFuture(port)
        case .stopped: return loop.makeFailedFuture(EngineError(.cancelled, "the session host was shut down"))
        }
        let host = NIOLoopBound(self, eventLoop: loop)
        let security = configuration.transportSecurity
        let bootstrap = ServerBootstrap(group: loop, childGroup: loop)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator, value: PeerPipeline.receiveAllocator)
            .childChannelOption(.writeBufferWaterMark, value: PeerPipeline.writeBufferWaterMark)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let host = host.value
                    guard host.acceptsIncoming else {
                        if host.nodeRoom > 0 {
                            host.count(.unknownInfoHash, "no torrent on this node yet", remote: channel.remoteAddress)
                        } else {
                            host.count(.connectionLimit, "node-wide connection limit", remote: channel.remoteAddress)
                        }
                        channel.close(promise: nil)
                        return
                    }
                    try PeerPipeline.configure(channel, router: host, security: security, dial: nil)
                }
            }
        let future = bootstrap.bind(host: configuration.listenHost, port: configuration.port)
            .assumeIsolated()
            .flatMapThrowing { channel -> Int in
                guard case .binding = self.state else {
                    channel.close(promise: nil)
                    throw EngineError(.cancelled, "the session host was shut down while binding")
                }
                self.state = .listening(channel)
                self.port = channel.localAddress?.port ?? self.configuration.port
                self.logger.info("listening", metadata: ["port": "\(self.port)"])
                return self.port
            }
            .flatMap { port -> EventLoopFuture<Int> in
                self.listenOnIPv6(bootstrap, port: port).map { port }
            }
            .flatMap { port -> EventLoopFuture<Int> in
                guard let discovery = self.configuration.localDiscovery else { return self.loop.makeSucceededFuture(port) }
                return self.startLocalDiscovery(discovery, port: port).assumeIsolated().map {
                    self.discoveryRunning = true
                    return port
                }.flatMapError {
                    error in
                    // Discovery on interfaces it chose itself is best effort: a host with nothing to multicast on
                    // (or the group's port taken) runs without it. Interfaces the operator named must work.
                    guard discovery.configuration.choosesInterfaces else { return self.loop.makeFailedFuture(error) }
                    self.logger.warning("local discovery is off", metadata: ["reason": "\(error)"])
                    return self.loop.makeSucceededFuture(port)
                }.nonisolated()
            }
            .flatMapErrorThrowing { error in
                if let error = error as? EngineError { throw error }
                if let error = error as? LocalDiscoveryError {
                    if case .listening(let channel) = self.state { channel.close(promise: nil) }
                    self.ipv6Listener?.close(promise: nil)
                    self.ipv6Listener = nil
                    self.state = .idle
                    throw EngineError(.localDiscoveryFailed, "\(error)")
                }
                if case .binding = self.state { self.state = .idle }
                throw EngineError(
                    .bindFailed,
                    "port \(self.configuration.port) on \(self.configuration.listenHost): \(error); "
                        + "choose another port")
            }
            .nonisolated()
        state = .binding(future)
        return future
    }

    /// Stops every session (each announces `stopped` and ends its run), then closes the listener.
    func shutdown() -> EventLoopFuture<Void> {
        for lookup in Array(lookups.values) { lookup.cancel("the node is shutting down") }
        let running = Array(sessions.values)
        let finished = running.map(\.finished)
        for session in running { session.shutdown(.stopped) }
        return EventLoopFuture.andAllComplete(finished, on: loop).assumeIsolated().flatMap {
            if case .listening(let channel) = self.state { channel.close(promise: nil) }
            self.ipv6Listener?.close(promise: nil)
            self.ipv6Listener = nil
            self.state = .stopped
            return self.configuration.localDiscovery?.shutdown().hop(to: self.loop) ?? self.loop.makeSucceededVoidFuture()
        }.flatMap {
            guard let client = self.mirrorClient else { return self.loop.makeSucceededVoidFuture() }
            self.mirrorClient = nil
            return client.shutdown().hop(to: self.loop).recover { _ in }
        }.nonisolated()
    }

    /// Redirects followed per mirror request at most.
    static let mirrorRedirectLimit = 5

    /// The node's HTTP client for mirrors and web seeds: made on first use, with its connections on this loop (a
    /// mirror's responses arrive where its session runs), shut down with the host. Redirects are followed up to
    /// ``mirrorRedirectLimit`` (no cycles); a connection that cannot be made fails at once (the mirror backs off)
    /// rather than being retried by the client; the read timeout is each request's own (``MirrorFetch``).
    var httpClient: HTTPClient {
        if let mirrorClient { return mirrorClient }
        var pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(60))
        pool.retryConnectionEstablishment = false
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: Self.mirrorRedirectLimit, allowCycles: false),
            timeout: .init(connect: .seconds(10)), connectionPool: pool, decompression: .disabled)
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 16
        if let tls = self.configuration.mirrorClientTLS { configuration.tlsConfiguration = tls }
        let client = HTTPClient(eventLoopGroup: loop, configuration: configuration, backgroundActivityLogger: logger)
        mirrorClient = client
        return client
    }

    /// With the default listen address (`0.0.0.0`), a second socket on `[::]` and the same port, IPv6 only, so
    /// peers that know this node by an IPv6 address (local discovery on the IPv6 group, trackers' IPv6 peers) can
    /// dial it; IPv4 peers keep arriving as plain IPv4 addresses. Best effort: where IPv6 is off or the port is
    /// taken on IPv6 the host listens on IPv4 only.
    private func listenOnIPv6(_ bootstrap: ServerBootstrap, port: Int) -> EventLoopFuture<Void> {
        guard configuration.listenHost == "0.0.0.0" else { return loop.makeSucceededVoidFuture() }
        return bootstrap.serverChannelOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1)
            .bind(host: "::", port: port)
            .assumeIsolated()
            .map { channel in
                if case .listening = self.state {
                    self.ipv6Listener = channel
                } else {
                    channel.close(promise: nil)
                }
            }
            .recover { error in
                self.logger.debug("listening on IPv4 only", metadata: ["reason": "\(error)"])
            }
            .nonisolated()
    }

    private var acceptsIncoming: Bool {
        nodeRoom > 0 && !(sessions.isEmpty && lookups.isEmpty)
    }

    // MARK: - Sessions

    /// Adds a session: from now on connections naming its info-hash reach it.
    func add(_ session: SessionCore) throws(EngineError) {
        guard sessions[session.infoHash] == nil else {
            throw EngineError(.duplicateTorrent, "\(session.torrent.name): the node already runs this torrent")
        }
        session.hostID = nextSessionID
        nextSessionID += 1
        sessions[session.infoHash] = session
        connections.join(session.hostID)
        rebalanceRates()
        let heard = heardDuringLookups.removeValue(forKey: session.infoHash) ?? []
        guard let discovery = configuration.localDiscovery else { return }
        if session.torrent.isPrivate { logPrivateDiscovery(session.torrent) }
        guard usesLocalDiscovery(session.torrent) else { return }
        discovery.add(session.infoHash)
        for address in heard { session.addPeer(session.classifier.record(address, source: .lsd)) }
    }

    // MARK: - Magnet-link lookups

    /// The most peers kept per lookup for its session, and the most lookups whose peers are kept.
    static let heardPeersKept = 64
    static let lookupsKept = 8

    /// Starts routing to `coordinator` what the host learns of its info-hash: local discovery announces it (when
    /// ``lookupsUseLocalDiscovery``) and its peers are asked; incoming connections for it are accepted for the
    /// metadata exchange. Ends when the fetch does.
    func beginLookup(_ coordinator: MetadataCoordinator) throws(EngineError) {
        let infoHash = coordinator.fetch.infoHash
        if case .stopped = state { throw EngineError(.cancelled, "the session host was shut down") }
        guard sessions[infoHash] == nil, lookups[infoHash] == nil else {
            throw EngineError(.duplicateTorrent, "magnet link \(infoHash.hex): the node already runs this torrent")
        }
        lookups[infoHash] = coordinator
        coordinator.onFinish = { [weak self] succeeded in self?.endLookup(infoHash, succeeded: succeeded) }
        if heardDuringLookups.count >= Self.lookupsKept, let old = heardDuringLookups.keys.first {
            heardDuringLookups[old] = nil
        }
        heardDuringLookups[infoHash] = []
        guard let discovery = configuration.localDiscovery, discoveryRunning else { return }
        if lookupsUseLocalDiscovery {
            coordinator.listens = true
            discovery.add(infoHash)
            logger.info("local discovery announces the magnet link's info-hash", metadata: ["infohash": "\(infoHash.hex)"])
        } else {
            logger.notice(
                "local discovery is off for the magnet link", metadata: ["why": "\(privateDiscoveryOff ?? "")"])
        }
    }

    private func endLookup(_ infoHash: InfoHash, succeeded: Bool) {
        lookups[infoHash] = nil
        if !succeeded { heardDuringLookups[infoHash] = nil }
        if lookupsUseLocalDiscovery, sessions[infoHash] == nil { configuration.localDiscovery?.remove(infoHash) }
    }

    /// Whether local discovery announces a magnet link's info-hash and asks the peers it finds. A magnet link does not
    /// say whether its torrent is private: a node without transport security fetches as any public client does (and
    /// refuses a private info dictionary, ``MagnetMetadata``); a node whose peers authenticate by key fetches from
    /// them over TLS, as it does for private torrents; a node with `--allow-plain-peers` does not announce it, as it
    /// does not announce its private torrents.
    var lookupsUseLocalDiscovery: Bool {
        configuration.transportSecurity == nil || privateDiscoveryOff == nil
    }

    /// Removes a session (it is ending): its info-hash is unknown from now on and its shares go back to the others.
    func remove(_ session: SessionCore) {
        guard sessions[session.infoHash] === session else { return }
        sessions[session.infoHash] = nil
        if usesLocalDiscovery(session.torrent) { configuration.localDiscovery?.remove(session.infoHash) }
        for budget in [\HostCore.connections, \.halfOpen, \.pieceBuffers, \.writes, \.readPool] {
            self[keyPath: budget].leave(session.hostID)
        }
        rebalanceRates()
        resumeRequests()
    }

    var sessionCount: Int { sessions.count }

    // MARK: - Local discovery

    /// Whether local discovery may announce `torrent` and feed it peers: the one place that decides. Public
    /// torrents always. Private torrents, to which BEP 27 allows no peer source but the tracker, only when the
    /// transport authenticates every one of their connections (``PeerTransportSecurity/authenticatesPrivateSwarms``
    /// with an admission hook: `--key` and `--allow` without `--allow-plain-peers`): then a peer found on the LAN
    /// is dialled over TLS with its key pinned, and whoever dials us is admitted by key, never by address.
    func usesLocalDiscovery(_ torrent: Torrent) -> Bool {
        !torrent.isPrivate || privateDiscoveryOff == nil
    }

    /// Why `configuration` keeps local discovery off for private torrents, or nil when it allows it.
    static func privateDiscoveryOff(_ configuration: HostConfiguration) -> String? {
        guard let security = configuration.transportSecurity, configuration.admission != nil else {
            return "BEP 27: a private torrent uses local discovery only on a node whose peers authenticate by node "
                + "key (--key and --allow)"
        }
        guard security.authenticatesPrivateSwarms else {
            return "--allow-plain-peers admits unauthenticated peers to private torrents, so their info-hashes are "
                + "not announced on the LAN"
        }
        return nil
    }

    /// Says, once per private torrent that joins a host with discovery, whether discovery runs for it and why not.
    private func logPrivateDiscovery(_ torrent: Torrent) {
        if let why = privateDiscoveryOff {
            logger.notice(
                "local discovery is off for this private torrent",
                metadata: ["torrent": "\(torrent.name)", "why": "\(why)"])
        } else {
            logger.info(
                "local discovery runs for this private torrent; its peers are dialled over TLS and admitted by key",
                metadata: ["torrent": "\(torrent.name)"])
        }
    }

    /// Starts `discovery` with the listener's port; the peers it reports go to their torrent's session.
    private func startLocalDiscovery(_ discovery: LocalDiscovery, port: Int) -> EventLoopFuture<Void> {
        let host = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        return discovery.start(listenPort: port) { peer in
            loop.execute { host.value.locallyDiscovered(peer) }
        }.hop(to: loop)
    }

    /// A peer local discovery found: into its session's directory as an `lsd` peer, on the LAN unless its address
    /// is in a network declared WAN.
    private func locallyDiscovered(_ peer: LocalPeer) {
        if sessions[peer.infoHash] == nil, let lookup = lookups[peer.infoHash], lookupsUseLocalDiscovery {
            let address = PeerAddress(host: peer.host, port: peer.port)
            if var heard = heardDuringLookups[peer.infoHash], heard.count < Self.heardPeersKept, !heard.contains(address) {
                heard.append(address)
                heardDuringLookups[peer.infoHash] = heard
            }
            logger.debug("local discovery found a peer for the magnet link", metadata: ["peer": "\(address)"])
            return lookup.addPeer(address)
        }
        guard let session = sessions[peer.infoHash], usesLocalDiscovery(session.torrent) else { return }
        let address = PeerAddress(host: peer.host, port: peer.port)
        session.addPeer(session.classifier.record(address, source: .lsd))
        logger.debug("local discovery found a peer", metadata: ["peer": "\(address)", "torrent": "\(session.torrent.name)"])
    }

    /// The node-wide rate limits split evenly among the sessions that have connections (a session without any
    /// gets the share it will have once it connects). Called when a session joins or leaves, and when one gets its
    /// first connection or loses its last.
    private func rebalanceRates() {
        guard configuration.uploadRateLimit != nil || configuration.downloadRateLimit != nil else { return }
        let active = connections.activeMembers
        for session in sessions.values {
            let sharing = max(1, connections.used(by: session.hostID) > 0 ? active : active + 1)
            session.setHostRateShares(
                upload: configuration.uploadRateLimit.map { max(1, $0 / sharing) },
                download: configuration.downloadRateLimit.map { max(1, $0 / sharing) })
        }
    }

    func statistics() -> HostStatistics {
        var statistics = HostStatistics(
            port: port, sessions: sessions.count, connections: connections.total, refusals: refusals,
            pieceBufferBytes: pieceBuffers.total)
        statistics.discoveryRunning = discoveryRunning
        statistics.localDialsDeferred = localDialsDeferred
        statistics.localAddressesReplaced = localAddressesReplaced
        return statistics
    }

    // MARK: - Connections

    /// Whether `session` may open one more connection (dial or accept) under the node-wide limits.
    func mayConnect(_ session: SessionCore) -> Bool {
        nodeRoom > 0 && connections.allows(1, for: session.hostID)
    }

    /// Connections (open and being dialled) the node may still start under its connection limit.
    var nodeRoom: Int { configuration.maxConnections - connections.total - halfOpen.total }

    /// How many dials `session` may start now under the node-wide limits and its fair shares.
    func dialRoom(for session: SessionCore) -> Int {
        max(0, min(nodeRoom, connections.room(for: session.hostID), halfOpen.room(for: session.hostID)))
    }

    /// Dials `record` for `session` when the node-wide limits allow it. The connection runs through the pipeline
    /// and the router like an incoming one.
    func dial(_ record: PeerRecord, for session: SessionCore) -> Bool {
        guard mayConnect(session), halfOpen.take(1, for: session.hostID) else { return false }
        let host = NIOLoopBound(self, eventLoop: loop)
        let security = configuration.transportSecurity
        let dial = OutgoingDial(record: record, ours: session.ourHandshake, isPrivate: session.torrent.isPrivate)
        let id = session.hostID
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.recvAllocator, value: PeerPipeline.receiveAllocator)
            .channelOption(.writeBufferWaterMark, value: PeerPipeline.writeBufferWaterMark)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try PeerPipeline.configure(channel, router: host.value, security: security, dial: dial)
                }
            }
            .connect(host: record.address.host, port: record.address.port)
            .assumeIsolated()
            .whenComplete { result in
                self.halfOpen.give(1, by: id)
                session.dialCompleted(record.address, result)
            }
        return true
    }

    /// Takes one of the node's connections for `session` (its handshake is done), when the limit and the fair
    /// share allow.
    func takeConnection(for session: SessionCore) -> Bool {
        guard connections.take(1, for: session.hostID) else { return false }
        if connections.used(by: session.hostID) == 1 { rebalanceRates() }
        return true
    }

    /// A session's connection closed.
    func connectionClosed(_ session: SessionCore) {
        connections.give(1, by: session.hostID)
        if connections.used(by: session.hostID) == 0 { rebalanceRates() }
    }

    func route(_ theirs: Handshake, dial: OutgoingDial?, remote: SocketAddress?, identity: PeerIdentity?)
        -> HandshakeRoute
    {
        let address =
            dial?.record.address ?? PeerAddress(host: remote?.ipAddress ?? "unknown", port: remote?.port ?? 0)
        if dial == nil, sessions[theirs.infoHash] == nil, let lookup = lookups[theirs.infoHash] {
            return routeToLookup(lookup, theirs, address: address, remote: remote, identity: identity)
        }
        guard let session = sessions[theirs.infoHash], dial == nil || dial?.ours.infoHash == theirs.infoHash else {
            count(.unknownInfoHash, "handshake for a torrent this node does not serve", remote: remote)
            if let dial { sessions[dial.ours.infoHash]?.dialFailed(dial.record.address) }
            return .refuse(.unknownInfoHash, "unknown info-hash")
        }
        if let admission = configuration.admission {
            let request = PeerAdmissionRequest(
                address: address, direction: dial == nil ? .incoming : .outgoing, infoHash: theirs.infoHash,
                peerID: theirs.peerID, identity: identity, isPrivate: session.torrent.isPrivate)
            if case .refuse(let reason, let counted) = admission(request) {
                count(counted, reason, remote: remote)
                if let dial { session.dialFailed(dial.record.address) }
                return .refuse(counted, reason)
            }
        }
        // The session backs off a dial it refuses itself.
        guard let connection = session.admit(theirs, dialled: dial?.record, remote: remote, identity: identity) else {
            count(.session, "refused by the torrent's session", remote: remote)
            return .refuse(.session, "refused by the session")
        }
        return .accept(ours: session.ourHandshake, limits: session.wireLimits, connection: connection)
    }

    /// An incoming connection for a magnet link's info-hash: admitted as for a private torrent when the node has
    /// transport security (the link may name one), then the fetch's.
    private func routeToLookup(
        _ lookup: MetadataCoordinator, _ theirs: Handshake, address: PeerAddress, remote: SocketAddress?,
        identity: PeerIdentity?
    ) -> HandshakeRoute {
        if let admission = configuration.admission {
            let request = PeerAdmissionRequest(
                address: address, direction: .incoming, infoHash: theirs.infoHash, peerID: theirs.peerID,
                identity: identity, isPrivate: configuration.transportSecurity != nil)
            if case .refuse(let reason, let counted) = admission(request) {
                count(counted, reason, remote: remote)
                return .refuse(counted, reason)
            }
        }
        let route = lookup.routeIncoming(theirs, address: address)
        if case .refuse(let counted, let reason) = route { count(counted, reason, remote: remote) }
        return route
    }

    func handshakeFailed(dial: OutgoingDial?, remote: SocketAddress?, refusal: PeerRefusal?) {
        count(refusal ?? .handshakeFailed, "closed before the handshake completed", remote: remote)
        if let dial { sessions[dial.ours.infoHash]?.dialFailed(dial.record.address) }
    }

    private func count(_ refusal: PeerRefusal, _ reason: String, remote: SocketAddress?) {
        refusals[refusal, default: 0] += 1
        logger.debug(
            "connection refused",
            metadata: [
                "peer": "\(remote.map { "\($0)" } ?? "?")", "refusal": "\(refusal.rawValue)", "why": "\(reason)",
            ])
    }

    // MARK: - Buffers

    /// Takes `bytes` of piece buffer for `session`. When the budget is spent and the session is below its fair
    /// share, sessions above theirs drop cached pieces first.
    func takePieceBuffer(_ bytes: Int, for session: SessionCore) -> Bool {
        if pieceBuffers.take(bytes, for: session.hostID) { return true }
        guard pieceBuffers.used(by: session.hostID) < pieceBuffers.share(for: session.hostID) else { return false }
        for other in sessions.values where other !== session {
            let excess = pieceBuffers.excess(of: other.hostID, sharingWith: session.hostID)
            if excess > 0 { other.releaseCachedPieceBuffers(bytes: excess) }
        }
        return pieceBuffers.take(bytes, for: session.hostID)
    }

    func givePieceBuffer(_ bytes: Int, by session: SessionCore) {
        pieceBuffers.give(bytes, by: session.hostID)
    }

    /// Whether `session` may put more requests out, given the bytes waiting for the disk node-wide.
    func writesAllowRequests(for session: SessionCore) -> Bool {
        writes.allows(1, for: session.hostID)
    }

    /// Bytes handed to the disk (taken whatever the budget: the data has arrived).
    func writeStarted(_ bytes: Int, by session: SessionCore) {
        writes.charge(bytes, to: session.hostID)
    }

    /// Bytes written; when the budget reopens, every session tops its requests up again.
    func writeFinished(_ bytes: Int, by session: SessionCore) {
        let wasFull = writes.total >= writes.limit
        writes.give(bytes, by: session.hostID)
        if wasFull && writes.total < writes.limit { resumeRequests() }
    }

    /// A session has every piece: it writes no more, so it no longer counts for the shares of the write budget.
    func downloadFinished(_ session: SessionCore) {
        writes.leave(session.hostID)
        resumeRequests()
    }

    private func resumeRequests() {
        for session in sessions.values { session.resumeRequests() }
    }

    /// Whether `session` may keep a free read buffer of `bytes` in its pool.
    func keepReadBuffer(_ bytes: Int, for session: SessionCore) -> Bool {
        readPool.take(bytes, for: session.hostID)
    }

    func readBufferTaken(_ bytes: Int, by session: SessionCore) {
        readPool.give(bytes, by: session.hostID)
    }
}

@available(*, unavailable)
extension HostCore: Sendable {}
