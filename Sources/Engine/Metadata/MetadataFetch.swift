import Logging
import Metainfo
import NIOCore
import NIOPosix
import PeerWire
import SwarmPrimitives

/// Fetches a torrent's info dictionary from peers by BEP 9 `ut_metadata`, for a magnet link: what the link lacks
/// before a download can start.
///
/// Several peers are asked at once (``parallelPeers``). Each connection runs the ordinary handshake (through
/// ``PeerPipeline``, so the transport security slot applies: TLS to peers of a private swarm), then the extended
/// handshake; a peer that does not offer `ut_metadata`, advertises a `metadata_size` over
/// ``MetadataMessage/maximumMetadataSize``, rejects a piece, sends a malformed message or stays silent for
/// ``peerTimeout`` is closed. Each peer's pieces are assembled apart from the others', so a bad copy is blamed on the
/// one peer that sent it: the first complete copy whose SHA-1 is the info-hash is returned, and a peer whose copy is
/// not is closed and not asked again.
public struct MetadataFetch: Sendable {
    /// The torrent the magnet link names.
    public var infoHash: InfoHash
    /// The peer id sent in our handshakes.
    public var peerID: PeerID
    /// The transport security layer, as the node's host has it (``HostConfiguration/transportSecurity``): with
    /// one, every dial is made as for a private torrent (TLS), since a magnet link cannot say whether its torrent
    /// is private.
    public var transportSecurity: (any PeerTransportSecurity)?
    /// How many peers are connected at once.
    public var parallelPeers = 4
    /// How long one peer may take between its handshake and its last piece.
    public var peerTimeout: Duration = .seconds(20)
    /// How long the whole fetch may take.
    public var timeout: Duration = .seconds(120)
    public var logger: Logger

    /// - Parameters:
    ///   - infoHash: the magnet link's info-hash.
    ///   - peerID: our peer id.
    ///   - transportSecurity: the node's transport security, if any.
    ///   - logger: where the fetch logs each peer's fate.
    public init(
        infoHash: InfoHash, peerID: PeerID, transportSecurity: (any PeerTransportSecurity)? = nil, logger: Logger
    ) {
        self.infoHash = infoHash
        self.peerID = peerID
        self.transportSecurity = transportSecurity
        self.logger = logger
    }

    /// Why a fetch with no peer to ask and none to wait for fails at once.
    var noPeers: EngineError {
        EngineError(
            .noPeers,
            "magnet link \(infoHash.hex): no peer to ask for the info dictionary (give x.pe=, tr=, --peer, or "
                + "enable local discovery)")
    }

    /// Asks `peers` (each at most once, in order) for the info dictionary. Cancelling the task ends it with
    /// `.cancelled`.
    ///
    /// - Parameters:
    ///   - peers: where to ask.
    ///   - group: the event loops; every connection of one fetch runs on one loop of it.
    /// - Returns: the raw info dictionary, whose SHA-1 is ``infoHash``.
    /// - Throws: ``EngineError`` `.metadataUnavailable` naming each peer and why it gave nothing, or `.noPeers`.
    public func run(
        peers: [PeerAddress], group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(EngineError) -> [UInt8] {
        guard !peers.isEmpty else { throw noPeers }
        return try await coordinate(peers: peers, on: group.next()) { $0.start() }
    }

    /// Makes the fetch's coordinator on `loop`, hands it to `begin` there (which starts it), and waits for its copy.
    func coordinate(
        peers: [PeerAddress], on loop: any EventLoop,
        _ begin: @escaping @Sendable (MetadataCoordinator) -> Void
    ) async throws(EngineError) -> [UInt8] {
        let promise = loop.makePromise(of: [UInt8].self)
        let fetch = self
        let running = NIOLoopBoundBox<MetadataCoordinator?>.makeEmptyBox(valueType: MetadataCoordinator.self, eventLoop: loop)
        loop.execute {
            let coordinator = MetadataCoordinator(fetch: fetch, peers: peers, loop: loop, promise: promise)
            running.value = coordinator
            begin(coordinator)
        }
        do {
            // Cancelling the task (the leech interrupted) ends the fetch at once: its connections close.
            return try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                loop.execute { running.value?.cancel("interrupted") }
            }
        } catch let error as EngineError {
            throw error
        } catch {
            throw EngineError(.metadataUnavailable, "magnet link \(infoHash.hex): \(error)")
        }
    }
}

/// One fetch's state, on its event loop: the peers left to ask, the connections open, why each peer failed.
final class MetadataCoordinator: HandshakeRouting {
    let fetch: MetadataFetch
    let loop: any EventLoop
    let ours: Handshake
    private var pending: [PeerAddress]
    private var open: [ObjectIdentifier: any Channel] = [:]
    private var dialling = 0
    /// Peers waiting to be dialled again, and how often each was dialled.
    private var waiting = 0
    private var attempts: [PeerAddress: Int] = [:]
    private var failures: [(PeerAddress, String)] = []
    /// Failures past ``failuresKept`` (incoming peers can fail any number of times within the timeout).
    private var failuresDropped = 0
    /// The most failures kept for the final message.
    static let failuresKept = 16
    /// Hosts that sent a copy that does not hash: their incoming connections are refused (the port is ephemeral).
    private var badHosts: Set<String> = []
    /// Connections peers made to us (a host's lookup, ``SessionHost/fetchMetadata(_:peers:)``).
    private var incoming: [ObjectIdentifier: any Channel] = [:]
    /// Every address asked or queued, so a peer heard again is not asked twice.
    private var known: Set<PeerAddress>
    private let promise: EventLoopPromise<[UInt8]>
    private(set) var finished = false
    private var deadline: Scheduled<Void>?
    /// Whether more peers may still arrive (a host's lookup with local discovery running for it), so an empty
    /// queue is not the end: the fetch then ends with a copy or at its timeout.
    var listens = false
    /// Called once when the fetch ends (the host forgets the lookup).
    var onFinish: ((Bool) -> Void)?

    var handshakeTimeout: TimeAmount { .seconds(10) }

    /// Incoming connections one fetch takes at once (each may hold up to
    /// ``MetadataMessage/maximumMetadataSize`` while its copy arrives).
    var maximumIncoming: Int { fetch.parallelPeers }

    init(fetch: MetadataFetch, peers: [PeerAddress], loop: any EventLoop, promise: EventLoopPromise<[UInt8]>) {
        self.fetch = fetch
        self.loop = loop
        self.promise = promise
        var seen = Set<PeerAddress>()
        self.pending = peers.filter { seen.insert($0).inserted }
        self.known = seen
        self.ours = Handshake(infoHash: fetch.infoHash, peerID: fetch.peerID)
    }

    /// A peer learned while the fetch runs (local discovery): asked like the others, once.
    func addPeer(_ address: PeerAddress) {
        guard !finished, known.insert(address).inserted else { return }
        pending.append(address)
        fill()
    }

    func start() {
        if pending.isEmpty && !listens { return finish(.failure(fetch.noPeers)) }
        let bound = NIOLoopBound(self, eventLoop: loop)
        let timeout = fetch.timeout
        deadline = loop.assumeIsolated().scheduleTask(in: timeout.timeAmount) {
            bound.value.finish(.failure(bound.value.failure("no peer sent it within \(timeout)")))
        }
        fill()
    }

    /// Dials more peers while there is room; fails the fetch when nobody is left to ask.
    private func fill() {
        guard !finished else { return }
        while dialling + open.count < fetch.parallelPeers, !pending.isEmpty {
            dial(pending.removeFirst())
        }
        if dialling + open.count + waiting + incoming.count == 0 && pending.isEmpty && !listens {
            finish(.failure(failure("every peer was asked")))
        }
    }

    private func failure(_ why: String) -> EngineError {
        let peers = failures.map { "\($0.0): \($0.1)" }.joined(separator: "; ")
            + (failuresDropped > 0 ? "; and \(failuresDropped) more" : "")
        return EngineError(
            .metadataUnavailable,
            "magnet link \(fetch.infoHash.hex): info dictionary not received (\(why))"
                + (peers.isEmpty ? "" : ": \(peers)"))
    }

    private func dial(_ address: PeerAddress) {
        dialling += 1
        let bound = NIOLoopBound(self, eventLoop: loop)
        let security = fetch.transportSecurity
        let dial = OutgoingDial(
            record: PeerRecord(address: address, source: .manual), ours: ours, isPrivate: security != nil)
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try PeerPipeline.configure(channel, router: bound.value, security: security, dial: dial)
                }
            }
            .connect(host: address.host, port: address.port)
            .assumeIsolated()
            .whenComplete { result in
                let coordinator = bound.value
                coordinator.dialling -= 1
                switch result {
                case .failure(let error):
                    coordinator.retryLater(address, "cannot connect: \(error)")
                case .success(let channel):
                    guard !coordinator.finished else { return channel.close(promise: nil) }
                    let key = ObjectIdentifier(channel)
                    coordinator.open[key] = channel
                    channel.closeFuture.assumeIsolated().whenComplete { _ in
                        bound.value.open[key] = nil
                        bound.value.fill()
                    }
                }
            }
    }

    /// A peer that could not be reached or closed before the handshake (a client that has not added the torrent
    /// yet does that) is dialled again 1 s later, up to ``maximumAttempts`` times in all.
    func retryLater(_ address: PeerAddress, _ why: String) {
        let attempt = attempts[address, default: 1]
        guard attempt < Self.maximumAttempts, !finished else { return peerFailed(address, why) }
        attempts[address] = attempt + 1
        waiting += 1
        let bound = NIOLoopBound(self, eventLoop: loop)
        loop.assumeIsolated().scheduleTask(in: .seconds(1)) {
            let coordinator = bound.value
            coordinator.waiting -= 1
            coordinator.pending.append(address)
            coordinator.fill()
        }
    }

    /// How often a peer that fails before its handshake is dialled.
    static let maximumAttempts = 3

    /// A peer gave nothing usable; it is not asked again.
    func peerFailed(_ address: PeerAddress, _ why: String) {
        record(address, why)
        fetch.logger.info(
            "no metadata from peer", metadata: ["peer": "\(address)", "reason": "\(why)"])
        fill()
    }

    /// A peer's complete copy: used if it hashes to the info-hash.
    func received(_ info: [UInt8], from address: PeerAddress) -> Bool {
        guard InfoHash(hashing: info) == fetch.infoHash else {
            badHosts.insert(address.host)
            record(address, "its \(info.count)-byte info dictionary does not hash to the info-hash")
            fetch.logger.warning(
                "peer sent metadata that does not hash to the info-hash; closed, not asked again",
                metadata: ["peer": "\(address)"])
            return false
        }
        fetch.logger.info("metadata received", metadata: ["peer": "\(address)", "bytes": "\(info.count)"])
        finish(.success(info))
        return true
    }

    private func record(_ address: PeerAddress, _ why: String) {
        if failures.count < Self.failuresKept {
            failures.append((address, why))
        } else {
            failuresDropped += 1
        }
    }

    /// Ends the fetch without a copy (the host is shutting down).
    func cancel(_ why: String) {
        finish(.failure(EngineError(.cancelled, "magnet link \(fetch.infoHash.hex): \(why)")))
    }

    func finish(_ result: Result<[UInt8], EngineError>) {
        guard !finished else { return }
        finished = true
        deadline?.cancel()
        for channel in open.values { channel.close(promise: nil) }
        for channel in incoming.values { channel.close(promise: nil) }
        if case .success = result { onFinish?(true) } else { onFinish?(false) }
        onFinish = nil
        switch result {
        case .success(let info): promise.succeed(info)
        case .failure(let error): promise.fail(error)
        }
    }

    func route(_ theirs: Handshake, dial: OutgoingDial?, remote: SocketAddress?, identity: PeerIdentity?)
        -> HandshakeRoute
    {
        guard let dial, !finished else { return .refuse(.session, "metadata fetch over") }
        guard theirs.infoHash == fetch.infoHash else {
            peerFailed(dial.record.address, "answered for another torrent")
            return .refuse(.unknownInfoHash, "another torrent")
        }
        guard theirs.reserved.extensionProtocol else {
            peerFailed(dial.record.address, "does not support the extension protocol (BEP 10)")
            return .refuse(.session, "no extension protocol")
        }
        return accept(theirs, address: dial.record.address, incoming: false)
    }

    /// The message limits and the handler of a metadata connection whose handshake named our info-hash.
    private func accept(_ theirs: Handshake, address: PeerAddress, incoming: Bool) -> HandshakeRoute {
        // Only extended messages matter here; the piece facts are unknown, so the limits are a single small piece.
        var limits = PeerWireLimits(pieceLength: MetadataMessage.pieceLength, totalLength: MetadataMessage.pieceLength)
        limits.fastExtension = theirs.reserved.fastExtension && ours.reserved.fastExtension
        limits.pieceFactsKnown = false
        let peer = MetadataPeer(
            coordinator: self, address: address, fast: limits.fastExtension, timeout: fetch.peerTimeout.timeAmount,
            incoming: incoming)
        return .accept(ours: ours, limits: limits, connection: peer)
    }

    /// A peer dialled us for the info-hash (the host routed the connection here: it has no session for it yet).
    /// Asked like a dialled peer, up to ``maximumIncoming`` at once.
    func routeIncoming(_ theirs: Handshake, address: PeerAddress) -> HandshakeRoute {
        guard !finished else { return .refuse(.session, "metadata fetch over") }
        guard incoming.count < maximumIncoming else {
            return .refuse(.session, "metadata fetch has \(incoming.count) incoming connections")
        }
        guard !badHosts.contains(address.host) else {
            return .refuse(.session, "sent an info dictionary that does not hash to the info-hash")
        }
        guard theirs.reserved.extensionProtocol else {
            peerFailed(address, "dialled us without the extension protocol (BEP 10)")
            return .refuse(.session, "no extension protocol")
        }
        return accept(theirs, address: address, incoming: true)
    }

    /// An incoming metadata connection is set up: closed with the fetch.
    func attached(_ channel: any Channel) {
        guard !finished else { return channel.close(promise: nil) }
        let key = ObjectIdentifier(channel)
        incoming[key] = channel
        let bound = NIOLoopBound(self, eventLoop: loop)
        channel.closeFuture.assumeIsolated().whenComplete { _ in
            bound.value.incoming[key] = nil
            bound.value.fill()
        }
    }

    func handshakeFailed(dial: OutgoingDial?, remote: SocketAddress?, refusal: PeerRefusal?) {
        guard let dial else { return }
        retryLater(dial.record.address, "closed before the handshake completed (\((refusal ?? .handshakeFailed).rawValue))")
    }
}

@available(*, unavailable)
extension MetadataCoordinator: Sendable {}
