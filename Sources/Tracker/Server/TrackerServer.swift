import Identity
import Logging
import Metrics
import NIOCore
import NIOPosix
import Operations
import Prometheus
import ServiceLifecycle
import SwarmPrimitives
import Synchronization
import SystemSupport
import UnixSignals

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The private HTTP tracker as a swift-service-lifecycle `Service`: announces (signed and passkey), scrapes,
/// `/metrics`, allowlist live reload (SIGHUP and on change) with revocation, peer expiry.
public final class TrackerServer: Service, Sendable {
    /// The ports the server bound (useful when the configuration asked for port 0).
    public struct BoundPorts: Sendable, Hashable {
        /// The announce/scrape port.
        public var tracker: Int
        /// The metrics port, if a metrics address was configured.
        public var metrics: Int?
    }

    private let configuration: TrackerConfiguration
    private let registry: PrometheusCollectorRegistry
    private let metrics: TrackerMetrics
    private let logger: Logger
    private let initial: AccessSnapshot
    private let initialFingerprint: FileFingerprint?
    private let boundContinuation: AsyncStream<BoundPorts>.Continuation
    /// Yields once, when both listeners are bound.
    public let boundPorts: AsyncStream<BoundPorts>

    /// Loads the allowlist (and the torrents directory, if configured) so that configuration errors surface before
    /// the service starts.
    /// - Parameters:
    ///   - configuration: Addresses, files and limits.
    ///   - registry: Where metrics are recorded; `/metrics` serves it.
    ///   - logger: Structured log output.
    /// - Throws: `TrackerError(.configuration)` naming the allowlist file or torrents directory.
    public init(
        configuration: TrackerConfiguration, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        logger: Logger
    ) throws(TrackerError) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        metrics = TrackerMetrics(factory: PrometheusMetricsFactory(registry: registry))
        initialFingerprint = FileFingerprint(path: configuration.allowlistPath, followingSymlinks: true)
        let allowlist: Allowlist
        do {
            allowlist = try Allowlist.load(path: configuration.allowlistPath)
        } catch {
            throw TrackerError(.configuration, configuration.allowlistPath, "\(error)")
        }
        let registered = try configuration.torrentsDirectory.map { (directory) throws(TrackerError) in
            try TorrentRegistry.scan(directory: directory, logger: logger)
        }
        initial = AccessSnapshot(allowlist: allowlist, registered: registered)
        (boundPorts, boundContinuation) = AsyncStream.makeStream(
            of: BoundPorts.self, bufferingPolicy: .bufferingNewest(1))
        logger.info(
            "allowlist loaded",
            metadata: [
                "file": "\(configuration.allowlistPath)", "active": "\(allowlist.activeCount)",
                "revoked": "\(allowlist.revokedCount)",
                "torrents": "\(registered.map { String($0.count) } ?? "any")",
            ])
    }

    /// Raises the soft open-files limit to the hard limit (the tracker holds one descriptor per connection).
    /// - Returns: The new soft limit.
    @discardableResult
    public static func raiseFileDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return -1 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return Int(limit.rlim_cur)
    }

    /// Serves until graceful shutdown or cancellation.
    public func run() async throws {
        // Announces have their own thread (AnnounceLoop); the event loops serve /metrics.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        do {
            try await serve(group: group)
        } catch {
            boundContinuation.finish()
            try? await group.shutdownGracefully()
            throw error
        }
        boundContinuation.finish()
        try await group.shutdownGracefully()
    }

    private func serve(group: MultiThreadedEventLoopGroup) async throws {
        let announceLoop = try AnnounceLoop.start(
            configuration: configuration, metrics: metrics, logger: logger, snapshot: initial)
        let metricsChannel: (any Channel)?
        if let host = configuration.metricsHost {
            do {
                metricsChannel = try await bindMetrics(group: group, host: host, port: configuration.metricsPort)
            } catch {
                announceLoop.stop()
                await announceLoop.waitUntilStopped()
                throw error
            }
        } else {
            metricsChannel = nil
        }
        let ports = BoundPorts(tracker: announceLoop.port, metrics: metricsChannel?.localAddress?.port)
        logger.info(
            "tracker listening",
            metadata: [
                "address": "\(configuration.listenHost):\(announceLoop.port)",
                "metrics": "\(metricsChannel?.localAddress.map { "\($0)" } ?? "off")",
                "interval": "\(configuration.interval)",
            ])
        boundContinuation.yield(ports)

        let logger = self.logger
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await withTaskCancellationOrGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { tasks in
                tasks.addTask { await announceLoop.waitUntilStopped() }
                tasks.addTask { await self.watchAllowlist(signals: signals, announceLoop: announceLoop) }
                _ = await tasks.next()
                tasks.cancelAll()
            }
        } onCancelOrGracefulShutdown: {
            logger.info("tracker shutting down")
            announceLoop.stop()
            metricsChannel?.close(promise: nil)
        }
        announceLoop.stop()
        await announceLoop.waitUntilStopped()
        try? await metricsChannel?.close()
        boundContinuation.finish()
    }

    private func bindMetrics(group: MultiThreadedEventLoopGroup, host: String, port: Int) async throws -> any Channel {
        let registry = self.registry
        return try await EndpointServer.bind(
            host: host, port: port, routes: ["/metrics": { $0.makeSucceededFuture(.prometheus(registry.emitToBuffer())) }], group: group)
    }

    // MARK: Reload

    /// Re-reads the allowlist on SIGHUP (and then also the torrents directory) and whenever the file's inode, size,
    /// mtime or ctime changes (``AllowlistWatch``); keeps the old list if the new one does not parse.
    private func watchAllowlist(signals: UnixSignalsSequence, announceLoop: AnnounceLoop) async {
        let watch = AllowlistWatch(
            path: configuration.allowlistPath, pollInterval: .milliseconds(configuration.reloadPollMilliseconds),
            loaded: initialFingerprint)
        await watch.run(signals: signals) { triggers in
            var snapshot = self.initial
            for await trigger in triggers {
                if Task.isCancelled { break }
                snapshot = await self.reload(current: snapshot, trigger: trigger, announceLoop: announceLoop)
            }
        }
    }

    private func reload(
        current: AccessSnapshot, trigger: AllowlistWatch.Trigger, announceLoop: AnnounceLoop
    ) async -> AccessSnapshot
    {
        let path = configuration.allowlistPath
        let directory = trigger == .signal ? configuration.torrentsDirectory : nil
        let logger = self.logger
        let loaded: Result<(Allowlist, Set<InfoHash>?), any Error>
        do {
            loaded = .success(
                try await NIOThreadPool.singleton.runIfActive {
                    let allowlist = try Allowlist.load(path: path)
                    let registered = try directory.map { (dir) throws(TrackerError) in
                        try TorrentRegistry.scan(directory: dir, logger: logger)
                    }
                    return (allowlist, registered)
                })
        } catch {
            loaded = .failure(error)
        }
        let (allowlist, scanned): (Allowlist, Set<InfoHash>?)
        switch loaded {
        case .success(let value): (allowlist, scanned) = value
        case .failure(let error):
            metrics.reloadsFailed.increment()
            logger.error(
                "allowlist reload failed; keeping the previous list",
                metadata: ["file": "\(path)", "trigger": "\(trigger)", "error": "\(error)"])
            return current
        }
        let registered = directory == nil ? current.registered : scanned
        let (snapshot, revokedOwners, revokedEntries) = current.reloaded(with: allowlist, registered: registered)
        let active = snapshot.activeOwners
        // The new snapshot and the purge take effect together, between two requests of the announce loop.
        let removed = await announceLoop.submit { state in
            state.snapshot = snapshot
            return state.core.applyReload(activeOwners: active, revoked: revokedOwners)
        }
        if let removed {
            metrics.reloadsOK.increment()
            logger.notice(
                "allowlist reloaded",
                metadata: [
                    "file": "\(path)", "trigger": "\(trigger)", "active": "\(allowlist.activeCount)",
                    "revoked": "\(revokedEntries.map(\.description).joined(separator: "; "))",
                    "peers_dropped": "\(removed)",
                    "torrents": "\(registered.map { String($0.count) } ?? "any")",
                ])
        } else {
            logger.error("allowlist reload could not be applied: the tracker is stopping")
        }
        return snapshot
    }
}
