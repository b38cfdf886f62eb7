import Logging
import NIOCore
import NIOPosix
import SwarmPrimitives

/// BEP 14 local service discovery on the interfaces the caller names (or every suitable one): announces the torrents
/// it is given on the multicast groups `239.192.152.143:6771` and `[ff15::efc0:988f]:6771` (``AnnounceSchedule``),
/// listens on them, and reports the peers other hosts on the link announce for those torrents.
///
/// A node's `SessionHost` runs it (``start(listenPort:onPeer:)`` when its listener is bound, ``add(_:)`` /
/// ``remove(_:)`` as torrents come and go, ``shutdown()``). It sends nothing until started and only on the named
/// interfaces, with IP_MULTICAST_TTL (IPv6 hop limit) ``LocalDiscoveryConfiguration/timeToLive`` (1). Per address
/// family one UDP socket bound to the group's port joins the group on each interface; each interface has its own
/// sending socket per family, bound to its address. IPv6 runs on interfaces with a global or unique-local address
/// (not on loopback, where Linux does not route IPv6 multicast).
///
/// The state lives on ``eventLoop``; every method hops to it.
public final class LocalDiscovery: Sendable {
    public let configuration: LocalDiscoveryConfiguration
    public let eventLoop: any EventLoop
    private let core: NIOLoopBoundBox<LocalDiscoveryCore?>

    /// - Parameters:
    ///   - configuration: the interfaces and the schedule.
    ///   - logger: where the announcer logs.
    ///   - eventLoop: the loop its sockets and timer run on.
    public init(
        configuration: LocalDiscoveryConfiguration, logger: Logger,
        eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()
    ) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.core = .makeEmptyBox(valueType: LocalDiscoveryCore.self, eventLoop: eventLoop)
        if eventLoop.inEventLoop {
            core.value = LocalDiscoveryCore(loop: eventLoop, configuration: configuration, logger: logger)
        } else {
            eventLoop.execute { [core] in
                core.value = LocalDiscoveryCore(loop: eventLoop, configuration: configuration, logger: logger)
            }
        }
    }

    /// Opens the sockets, joins the group on each interface and starts announcing (once; later calls return the
    /// first call's result).
    ///
    /// - Parameters:
    ///   - listenPort: the BitTorrent port our announcements name.
    ///   - onPeer: called (on ``eventLoop``) for each peer an accepted announcement names for a torrent we announce.
    /// - Returns: a future that fails with ``LocalDiscoveryError`` `unknownInterface` or `socketFailed`.
    public func start(listenPort: Int, onPeer: @escaping @Sendable (LocalPeer) -> Void) -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { self.loopCore.start(listenPort: listenPort, onPeer: onPeer) }
    }

    /// Starts announcing a torrent (within ``LocalDiscoveryConfiguration/tickInterval``, then on the schedule).
    public func add(_ infoHash: InfoHash) {
        eventLoop.execute { self.loopCore.add(infoHash) }
    }

    /// Stops announcing a torrent and reporting its peers.
    public func remove(_ infoHash: InfoHash) {
        eventLoop.execute { self.loopCore.remove(infoHash) }
    }

    /// Closes the sockets; nothing is sent or reported afterwards.
    public func shutdown() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { self.loopCore.shutdown() }
    }

    /// Datagrams sent, accepted and dropped, peers reported.
    public func statistics() -> EventLoopFuture<LocalDiscoveryStatistics> {
        eventLoop.submit { self.loopCore.statistics() }
    }

    private var loopCore: LocalDiscoveryCore { core.value! }
}
