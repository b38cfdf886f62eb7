import Engine
import Foundation
import Identity
import LocalDiscovery
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `swtorrent seed --config FILE`: the seed daemon as a swift-service-lifecycle `Service`.
///
/// One ``SessionHost`` (one peer listener, the node-wide limits) serves every `.torrent` file in the watch
/// directory whose data one of the data directories holds; torrents join and leave it while it runs. SIGHUP and
/// a change of the config file reload the configuration (a file that does not load is logged, and the running
/// configuration kept); a graceful shutdown (SIGTERM/SIGINT through the ``ServiceGroup``) stops every torrent, which
/// announces `stopped`, and returns within `shutdown-timeout`. Behaviour in full: `Docs/operations.md`.
public final class SeedDaemon: Service, Sendable {
    /// The configuration the daemon started with (the overrides applied).
    public let configuration: DaemonConfiguration
    /// What the command line changes in every configuration loaded, at start and at each reload.
    let overrides: DaemonConfiguration.Overrides
    let sessionConfiguration: SessionConfiguration
    let host: SessionHost
    /// The TLS transport of private swarms (`node.allow`), nil without.
    let privateSwarm: PrivateSwarm?
    let logger: Logger
    /// What the daemon does now, for the status endpoints (``StatusService``): each watch-directory file by name,
    /// its state and its session's latest progress, and the host's connections and refusals.
    public let board: StatusBoard
    /// The torrents being seeded with their checked data, for the HTTP mirror (``MirrorServer``, `http.listen`);
    /// their files' SHA-256 digests are kept in `STATE/sha256`. Nil without `http.listen` (nothing is hashed).
    public let mirrors: MirrorCatalog?

    /// The TLS transport of private swarms (`node.allow`) for the HTTP mirror's HTTPS; nil without.
    public var transportSecurity: (any PeerTransportSecurity)? { privateSwarm?.transport }

    /// Checks the configuration against the machine (directories, node key) and prepares the host.
    ///
    /// - Throws: ``NodeError`` `.configuration` naming the key and the fix.
    public init(
        configuration: DaemonConfiguration, overrides: DaemonConfiguration.Overrides = .init(), logger: Logger
    ) throws(NodeError) {
        var configuration = configuration
        overrides.apply(to: &configuration)
        self.configuration = configuration
        self.overrides = overrides
        self.sessionConfiguration = try Self.prepare(configuration)
        self.logger = logger
        self.mirrors =
            configuration.httpListen == nil
            ? nil
            : MirrorCatalog(
                cache: ContentDigestCache(directory: "\(configuration.stateDirectory)/sha256"), logger: logger)
        var hostConfiguration = configuration.hostConfiguration
        hostConfiguration.localDiscovery = configuration.localDiscovery.makeDiscovery(logger: logger)
        if let allowlist = configuration.allowlist, let key = configuration.nodeKey {
            do throws(NodeError) {
                let swarm = try PrivateSwarm(
                    keyPath: key, allowlistPath: allowlist, allowPlainPeers: configuration.allowPlainPeers,
                    logger: logger)
                swarm.configure(&hostConfiguration)
                privateSwarm = swarm
            } catch {
                throw NodeError(.configuration, "\(configuration.path): node.allow: \(error.message)")
            }
        } else {
            privateSwarm = nil
        }
        self.host = SessionHost(configuration: hostConfiguration, logger: logger)
        self.board = StatusBoard(host: host)
    }

    public func run() async throws {
        let port: Int
        do {
            port = try await host.start()
        } catch let error as EngineError where error.code == .localDiscoveryFailed {
            // An interface the host lacks is the file's mistake; a socket that fails on one it has (no multicast,
            // the group join refused) is the host's, and naming other interfaces would be the wrong fix.
            guard error.context.contains(LocalDiscoveryError.Code.unknownInterface.rawValue) else {
                throw NodeError(
                    .io,
                    "\(configuration.path): local discovery cannot start: \(error.context); check that the interfaces "
                        + "it runs on are up and take multicast, or turn it off (lsd: {enabled: false}, or --no-lsd)")
            }
            throw NodeError(
                .io,
                "\(configuration.path): lsd.interfaces: \(error.context); name interfaces this host has, or leave "
                    + "lsd.interfaces out for every suitable one")
        } catch {
            throw NodeError(
                .io,
                "cannot listen on \(configuration.listen) (\(error)); free the port or change listen in "
                    + configuration.path)
        }
        logger.notice(
            "seed daemon listening",
            metadata: [
                "address": "\(configuration.listen.host):\(port)", "config": "\(configuration.path)",
                "watch": "\(configuration.watchDirectory)",
            ])
        let (events, continuation) = AsyncStream.makeStream(of: DaemonController.Event.self)
        let interval = ScanInterval(configuration.scanInterval)
        let signals = await UnixSignalsSequence(trapping: .sighup)
        let signalTask = Task {
            for await _ in signals { continuation.yield(.reload(.signal)) }
        }
        let tickTask = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval.value)
                continuation.yield(.tick)
            }
        }
        // The allowlist of private swarms reloads on its own (SIGHUP, a change of the file), as with `seed --allow`.
        let allowlistSignals = await UnixSignalsSequence(trapping: .sighup)
        let allowlistTask = privateSwarm.map { swarm in
            Task {
                await swarm.watch.run(signals: allowlistSignals) { triggers in
                    for await trigger in triggers { swarm.reload(trigger: trigger) }
                }
            }
        }
        let controller = DaemonController(daemon: self, events: continuation, interval: interval)
        continuation.yield(.tick)
        await withGracefulShutdownHandler {
            for await event in events {
                if controller.handle(event) == .finished { break }
            }
        } onGracefulShutdown: {
            continuation.yield(.shutdown)
        }
        signalTask.cancel()
        tickTask.cancel()
        allowlistTask?.cancel()
        continuation.finish()
        await host.shutdown()
        logger.notice("seed daemon stopped")
    }

    /// Checks what the configuration names on this machine and makes the torrents' session settings.
    ///
    /// - Throws: ``NodeError`` `.configuration`.
    static func prepare(_ configuration: DaemonConfiguration) throws(NodeError) -> SessionConfiguration {
        let file = configuration.path
        func isDirectory(_ path: String) -> Bool {
            var directory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
        }
        for directory in configuration.dataDirectories where !isDirectory(directory) {
            throw NodeError(
                .configuration, "\(file): data: \(directory) is not a directory; create it or correct the path")
        }
        guard isDirectory(configuration.watchDirectory) else {
            throw NodeError(
                .configuration,
                "\(file): watch.directory: \(configuration.watchDirectory) is not a directory; create it or correct "
                    + "the path")
        }
        let resumeDirectory = Self.resumeDirectory(configuration)
        do {
            try FileManager.default.createDirectory(
                atPath: resumeDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw NodeError(
                .configuration,
                "\(file): state: cannot create \(resumeDirectory) (\(error.localizedDescription)); give the daemon's "
                    + "user a directory it may write")
        }
        guard FileManager.default.isWritableFile(atPath: resumeDirectory) else {
            throw NodeError(
                .configuration,
                "\(file): state: \(resumeDirectory) is not writable; give the daemon's user a directory it may write")
        }
        var session = SessionConfiguration()
        session.seedUntilStopped = true
        session.useTrackers = configuration.trackersEnabled
        session.maxConnections = configuration.perTorrent.connections
        session.uploadRateLimit = configuration.perTorrent.uploadRate
        session.uploadSlots = configuration.perTorrent.uploadSlots
        session.lanFirst = configuration.lanFirst
        session.lanNetworks = configuration.lanNetworks
        session.wanNetworks = configuration.wanNetworks
        // The status board's progress (percent, peers, rates) is this fresh; a report is a few counters read.
        session.progressInterval = .seconds(1)
        if let keyPath = configuration.nodeKey {
            do {
                session.announceParameters = SessionConfiguration.signedAnnounces(key: try NodeKey.load(path: keyPath))
            } catch {
                throw NodeError(.configuration, "\(file): node.key: \(error)")
            }
        }
        return session
    }

    /// `STATE/resume`: one resume file per info-hash.
    static func resumeDirectory(_ configuration: DaemonConfiguration) -> String {
        "\(configuration.stateDirectory)/resume"
    }
}

/// The watch directory's scan interval, read by the ticker and changed by a reload.
final class ScanInterval: Sendable {
    private let mutex: Mutex<Duration>

    init(_ value: Duration) { mutex = Mutex(value) }

    var value: Duration {
        get { mutex.withLock { $0 } }
        set { mutex.withLock { $0 = newValue } }
    }
}
