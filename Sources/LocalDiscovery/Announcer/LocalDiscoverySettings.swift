import Logging
import NIOCore
import NIOPosix

/// Whether and where a node runs local discovery, as plain values a command line or a configuration file sets:
/// `swtorrent seed`/`leech` map `--no-lsd` and `--lsd-interface` onto it; the seed daemon's configuration can do the
/// same. On by default on every suitable interface (``LocalInterface/select(from:named:)``).
public struct LocalDiscoverySettings: Sendable, Hashable {
    /// Whether local discovery runs at all (BEP 14 is on by default; `--no-lsd` turns it off).
    public var enabled: Bool
    /// The interfaces by name (`--lsd-interface`, repeatable); empty chooses every suitable interface.
    public var interfaces: [String]

    public init(enabled: Bool = true, interfaces: [String] = []) {
        self.enabled = enabled
        self.interfaces = interfaces
    }

    /// The announcer these settings describe, for ``HostConfiguration/localDiscovery``; nil when discovery is off.
    public func makeDiscovery(
        logger: Logger, eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()
    ) -> LocalDiscovery? {
        guard enabled else { return nil }
        return LocalDiscovery(
            configuration: LocalDiscoveryConfiguration(interfaces: interfaces), logger: logger, eventLoop: eventLoop)
    }
}
