import Engine
import Identity
import Logging
import PeerTLS
import ServiceLifecycle
import SystemSupport
import UnixSignals

/// A node's private swarms (Docs/peer-tls.md): its node key and allowlist, made into the TLS transport and the
/// admission hook of its ``SessionHost``. `seed` and `leech` make one from `--key` and `--allow` (and
/// `--allow-plain-peers`), the seed daemon from `node.key`, `node.allow` and `peers.allow-plain`.
public struct PrivateSwarm: Sendable {
    /// The allowlist file.
    public let allowlistPath: String
    /// The transport in the host's slot; its ``PeerTLSTransport/allowlist`` is what reloads replace.
    public let transport: PeerTLSTransport
    /// When the allowlist is re-read (SIGHUP, a change of the file): ``reloadService(logger:)``.
    public let watch: AllowlistWatch
    private let logger: Logger

    /// Loads the key and the allowlist and makes the node certificate.
    ///
    /// - Parameters:
    ///   - keyPath: the node key file (`swtorrent keygen`).
    ///   - allowlistPath: the allowlist file (the tracker's format).
    ///   - allowPlainPeers: whether plain BitTorrent clients may join private torrents.
    ///   - logger: where refused certificates and reloads are logged.
    /// - Throws: ``NodeError`` `.malformedInput` naming the key or allowlist file, `.configuration` when the TLS
    ///   transport cannot be made.
    public init(keyPath: String, allowlistPath: String, allowPlainPeers: Bool, logger: Logger) throws(NodeError) {
        let key: NodeKey
        let allowlist: Allowlist
        let loaded = FileFingerprint(path: allowlistPath, followingSymlinks: true)
        do {
            key = try NodeKey.load(path: keyPath)
            allowlist = try Allowlist.load(path: allowlistPath)
        } catch {
            throw NodeError(.malformedInput, "\(error)")
        }
        do {
            transport = try PeerTLSTransport(
                key: key, allowlist: LiveAllowlist(allowlist), allowPlainPeers: allowPlainPeers, logger: logger)
        } catch {
            throw NodeError(.configuration, error.message)
        }
        self.allowlistPath = allowlistPath
        self.logger = logger
        watch = AllowlistWatch(path: allowlistPath, pollInterval: Self.pollInterval, loaded: loaded)
    }

    /// How often the allowlist file is looked at (the tracker's default too): a revocation takes effect within this
    /// and the time to close the connections.
    public static let pollInterval = Duration.milliseconds(250)

    /// Re-reads the allowlist: on success the transport checks new handshakes against it and closes the open
    /// connections whose key it no longer allows; a file that does not parse is logged and the current list kept.
    ///
    /// - Returns: the connections closed, or nil when the file could not be read.
    @discardableResult
    public func reload(trigger: AllowlistWatch.Trigger) -> Int? {
        let allowlist: Allowlist
        do {
            allowlist = try Allowlist.load(path: allowlistPath)
        } catch {
            logger.error(
                "allowlist reload failed; keeping the previous list",
                metadata: ["file": "\(allowlistPath)", "trigger": "\(trigger)", "error": "\(error)"])
            return nil
        }
        let previous = transport.allowlist.current
        let closed = transport.allowlist.replace(with: allowlist)
        logger.notice(
            "allowlist reloaded",
            metadata: [
                "file": "\(allowlistPath)", "trigger": "\(trigger)", "active": "\(allowlist.activeCount)",
                "revoked": "\(allowlist.revokedSince(previous).map(\.description).joined(separator: "; "))",
                "connections_closed": "\(closed)",
            ])
        return closed
    }

    /// Puts the transport and its admission hook into a host's configuration.
    public func configure(_ host: inout HostConfiguration) {
        host.transportSecurity = transport
        host.admission = transport.admission
        host.mirrorTLS = transport.mirrorClientTLS
    }

    /// The allowlist's live reload as a `Service` for the node's `ServiceGroup`: SIGHUP and file changes
    /// (``AllowlistWatch``) until graceful shutdown.
    public func reloadService() -> any Service {
        AllowlistReloadService(swarm: self)
    }
}

/// ``PrivateSwarm/reloadService()``.
struct AllowlistReloadService: Service {
    let swarm: PrivateSwarm

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        let swarm = self.swarm
        await cancelWhenGracefulShutdown {
            await swarm.watch.run(signals: signals) { triggers in
                for await trigger in triggers {
                    if Task.isCancelled { break }
                    swarm.reload(trigger: trigger)
                }
            }
        }
    }
}
