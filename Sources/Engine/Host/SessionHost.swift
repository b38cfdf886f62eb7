import Logging
import NIOCore
import NIOPosix

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
    /// - Throws: ``EngineError`` `bindFailed` when the port cannot be bound.
    @discardableResult
    public func start() async throws -> Int {
        try await eventLoop.flatSubmit { self.loopCore.start() }.get()
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
            guard let discovery else { return self.eventLoop.makeSucceededFuture(statistics) }
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
