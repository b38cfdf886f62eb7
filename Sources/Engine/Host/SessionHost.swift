import Logging
import NIOCore
import NIOPosix
import SwarmPrimitives

/// One node's torrents behind one peer listener: the listener reads each connection's BitTorrent handshake and
/// hands the connection to the session whose info-hash it names (an unknown info-hash is closed and counted), and
/// the node-wide limits (``HostConfiguration``) are shared fairly by the sessions.
///
/// Sessions join with ``TorrentSession/init(torrent:storage:configuration:logger:host:)`` and
/// ``TorrentSession/run(progress:)``, and leave when they end (``TorrentSession/stop()`` closes their connections
/// and stops their announces); the host keeps running. The host and all of its sessions live on one event loop
/// (``eventLoop``); every method here hops to it explicitly.
public final class SessionHost: Sendable {
    /// The loop the listener, every session and every connection of this host run on.
    public let eventLoop: any EventLoop
    public let configuration: HostConfiguration
    private let core: NIOLoopBoundBox<HostCore?>

    /// - Parameters:
    ///   - configuration: the listener and the node-wide limits.
    ///   - logger: where the host logs (sessions log to their own).
    ///   - eventLoop: the loop the host and its sessions run on.
    public init(
        configuration: HostConfiguration = HostConfiguration(), logger: Logger,
        eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()
    ) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.core = .makeEmptyBox(valueType: HostCore.self, eventLoop: eventLoop)
        if eventLoop.inEventLoop {
            core.value = HostCore(loop: eventLoop, configuration: configuration, logger: logger)
        } else {
            eventLoop.execute { [core] in
                core.value = HostCore(loop: eventLoop, configuration: configuration, logger: logger)
            }
        }
    }

    /// Binds the listener (once; later calls return the same port).
    ///
    /// - Returns: the port (the one picked when ``HostConfiguration/port`` is 0).
    /// - Throws: ``EngineError`` `bindFailed` when the port cannot be bound, `localDiscoveryFailed` when local
    ///   discovery cannot start on the interfaces it was given.
    @discardableResult
    public func start() async throws -> Int {
        try await eventLoop.flatSubmit { self.loopCore.start() }.get()
    }

    /// Fetches a magnet link's info dictionary (BEP 9) on this host: `peers` are asked as ``MetadataFetch/run(peers:group:)``
    /// asks them, and while no session runs the torrent the host also works for the fetch: local discovery announces
    /// the info-hash (``HostConfiguration/localDiscovery``; not on a node with `--allow-plain-peers`, see
    /// `HostCore.lookupsUseLocalDiscovery`) and the peers it finds are asked too, and peers that dial the listener
    /// for the info-hash are asked on their connection (admitted as for a private torrent when the node has transport
    /// security). Where local discovery runs for it, the fetch waits for peers until ``MetadataFetch/timeout`` even
    /// when `peers` is empty or all of them failed. The peers local discovery found are handed to the torrent's
    /// session when it joins this host.
    ///
    /// - Returns: the raw info dictionary, whose SHA-1 is the fetch's info-hash.
    /// - Throws: ``EngineError`` `.bindFailed` when the listener cannot be bound, `.localDiscoveryFailed` when local
    ///   discovery cannot start on the configured interfaces, `.duplicateTorrent` when the host
    ///   already runs or fetches the torrent, `.noPeers` when there is no peer to ask and no local discovery to wait
    ///   on, `.metadataUnavailable` when no peer gave a good copy in time,
    ///   `.cancelled` when the host shuts down first.
    public func fetchMetadata(_ fetch: MetadataFetch, peers: [PeerAddress]) async throws(EngineError) -> [UInt8] {
        do {
            try await start()
        } catch let error as EngineError {
            throw error
        } catch {
            throw EngineError(.bindFailed, "\(error)")
        }
        return try await fetch.coordinate(peers: peers, on: eventLoop) { coordinator in
            do throws(EngineError) {
                try self.loopCore.beginLookup(coordinator)
            } catch {
                return coordinator.finish(.failure(error))
            }
            coordinator.start()
        }
    }

    /// Stops every session (each ends its run as stopped) and closes the listener.
    public func shutdown() async {
        try? await eventLoop.flatSubmit { self.loopCore.shutdown() }.get()
    }

    /// Sessions, connections, refusals by reason, local discovery's counts.
    public func statistics() async throws -> HostStatistics {
        try await statisticsFuture().get()
    }

    /// ``statistics()`` as a future, for callers on an event loop (the status endpoints).
    public func statisticsFuture() -> EventLoopFuture<HostStatistics> {
        let discovery = configuration.localDiscovery
        return eventLoop.submit { self.loopCore.statistics() }.flatMap { statistics in
            guard let discovery, statistics.discoveryRunning else { return self.eventLoop.makeSucceededFuture(statistics) }
            return discovery.statistics().hop(to: self.eventLoop).map { local in
                var statistics = statistics
                statistics.localDiscovery = local
                return statistics
            }
        }
    }

    /// The host's loop-bound core; only on ``eventLoop`` (it is set by the first task queued there).
    var loopCore: HostCore { core.value! }
}
