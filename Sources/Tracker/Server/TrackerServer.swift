import Identity
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization
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
        initialFingerprint = FileFingerprint(path: configuration.allowlistPath)
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
        let threads = configuration.threads > 0 ? configuration.threads : System.coreCount
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
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
        let storeLoop = group.next()
        let timing = SwarmStore.Timing(interval: configuration.interval)
        let metrics = self.metrics
        let initial = self.initial
        let core = try await storeLoop.submit {
            NIOLoopBound(
                TrackerCore(timing: timing, activeOwners: initial.activeOwners, metrics: metrics), eventLoop: storeLoop)
        }.get()
        var contexts: [ObjectIdentifier: NIOLoopBound<LoopContext>] = [:]
        for loop in group.makeIterator() {
            contexts[ObjectIdentifier(loop)] = try await loop.submit {
                NIOLoopBound(LoopContext(snapshot: initial), eventLoop: loop)
            }.get()
        }
        let shared = TrackerShared(
            configuration: configuration, metrics: metrics, logger: logger, storeLoop: storeLoop, core: core,
            contexts: contexts)

        let trackerChannels = try await bindTracker(group: group, shared: shared)
        let trackerChannel = trackerChannels[0]
        let metricsChannel: (any Channel)?
        if let host = configuration.metricsHost {
            do {
                metricsChannel = try await bindMetrics(group: group, host: host, port: configuration.metricsPort)
            } catch {
                for channel in trackerChannels { try? await channel.close() }
                throw error
            }
        } else {
            metricsChannel = nil
        }
        let ports = BoundPorts(
            tracker: trackerChannel.localAddress?.port ?? configuration.listenPort,
            metrics: metricsChannel?.localAddress?.port)
        logger.info(
            "tracker listening",
            metadata: [
                "address": "\(trackerChannel.localAddress.map { "\($0)" } ?? "?")",
                "metrics": "\(metricsChannel?.localAddress.map { "\($0)" } ?? "off")",
                "interval": "\(configuration.interval)", "listeners": "\(trackerChannels.count)",
            ])
        boundContinuation.yield(ports)

        // Idle/slow connection sweep: every loop walks its own connections once per period.
        let timeoutMilliseconds = max(1, configuration.requestTimeoutSeconds) * 1000
        let sweepMilliseconds = timeoutMilliseconds <= 4000 ? Int64(250) : Int64(1000)
        let idleTicks = Int((timeoutMilliseconds + sweepMilliseconds - 1) / sweepMilliseconds)
        var sweeps: [RepeatedTask] = []
        let gauge = metrics.connections
        let gate = shared.gate
        for bound in contexts.values {
            sweeps.append(
                bound.eventLoop.scheduleRepeatedTask(
                    initialDelay: .milliseconds(sweepMilliseconds), delay: .milliseconds(sweepMilliseconds)
                ) { _ in
                    bound.value.sweep(idleTicks: idleTicks)
                    gauge.record(gate.count.load(ordering: .relaxed))
                })
        }
        defer { for sweep in sweeps { sweep.cancel() } }

        let sweepSeconds = Int64(max(1, min(configuration.interval / 2, 60)))
        let logger = self.logger
        let expiry = storeLoop.scheduleRepeatedTask(initialDelay: .seconds(sweepSeconds), delay: .seconds(sweepSeconds))
        {
            _ in
            let removed = core.value.expire()
            if removed > 0 { logger.debug("expired peers", metadata: ["count": "\(removed)"]) }
        }
        defer { expiry.cancel() }

        let signals = await UnixSignalsSequence(trapping: .sighup)
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for channel in trackerChannels {
                    tasks.addTask { try await channel.closeFuture.get() }
                }
                tasks.addTask {
                    await self.watchAllowlist(signals: signals, group: group, shared: shared)
                }
                _ = try await tasks.next()
                tasks.cancelAll()
            }
        } onCancelOrGracefulShutdown: {
            logger.info("tracker shutting down")
            for channel in trackerChannels { channel.close(promise: nil) }
            metricsChannel?.close(promise: nil)
        }
        try? await metricsChannel?.close()
        boundContinuation.finish()
    }

    /// One listening socket per event loop (SO_REUSEPORT): the kernel spreads connections over the loops and each
    /// connection stays on the loop that accepted it, with no cross-thread hand-off at accept.
    private func bindTracker(group: MultiThreadedEventLoopGroup, shared: TrackerShared) async throws -> [any Channel] {
        let configuration = self.configuration
        let metrics = self.metrics
        let gate = shared.gate
        func bootstrap(on loop: any EventLoop) -> ServerBootstrap {
            ServerBootstrap(group: loop)
                .serverChannelOption(.backlog, value: 4096)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(ChannelOptions.socket(SocketOptionLevel(SOL_SOCKET), SO_REUSEPORT), value: 1)
                // Accept up to 64 connections per readiness event of the listening socket.
                .serverChannelOption(.maxMessagesPerRead, value: 64)
                // No child channel options: accepted sockets inherit TCP_NODELAY from the listener (NIO sets it
                // there), and applying options per connection costs more than the announce itself.
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(AcceptBackoffHandler())
                    }
                }
                .childChannelInitializer { channel in
                    let open = gate.count.wrappingAdd(1, ordering: .relaxed).newValue
                    guard open <= configuration.maxConnections else {
                        gate.count.wrappingSubtract(1, ordering: .relaxed)
                        metrics.connectionsRefused.increment()
                        return channel.close()
                    }
                    // One handler per connection; the loop's cached succeeded future (no allocation).
                    do {
                        guard let local = shared.contexts[ObjectIdentifier(channel.eventLoop)] else {
                            throw TrackerError(.configuration, "event loop", "connection on an unknown event loop")
                        }
                        try channel.pipeline.syncOperations.addHandler(
                            AnnounceConnectionHandler(shared: shared, local: local.value))
                    } catch {
                        gate.count.wrappingSubtract(1, ordering: .relaxed)
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
        }
        var channels: [any Channel] = []
        var port = configuration.listenPort
        if port != 0 { try Self.ensureNoListener(host: configuration.listenHost, port: port) }
        do {
            for loop in group.makeIterator() {
                let channel = try await bootstrap(on: loop).bind(host: configuration.listenHost, port: port).get()
                if port == 0 { port = channel.localAddress?.port ?? 0 }
                channels.append(channel)
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        return channels
    }

    /// SO_REUSEPORT would let a second tracker (or any same-user process using it) share the port silently and split
    /// the traffic. Refuse to start instead: a probe socket without SO_REUSEPORT cannot bind while anyone listens.
    private static func ensureNoListener(host: String, port: Int) throws {
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        let fd = socket(address.protocol.rawValue, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withSockAddr { bind(fd, $0, socklen_t($1)) }
        if bound != 0 && errno == EADDRINUSE {
            throw TrackerError(
                .configuration, "\(host):\(port)", "address already in use; is another tracker listening there?")
        }
    }

    private func bindMetrics(group: MultiThreadedEventLoopGroup, host: String, port: Int) async throws -> any Channel {
        let registry = self.registry
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try sync.addHandler(MetricsHTTPHandler(registry: registry))
                }
            }
            .bind(host: host, port: port).get()
    }

    // MARK: Reload

    private enum ReloadTrigger: Sendable {
        case signal
        case fileChanged
    }

    /// Re-reads the allowlist on SIGHUP (and then also the torrents directory) and whenever the file's inode, size,
    /// mtime or ctime changes; keeps the old list if the new one does not parse.
    private func watchAllowlist(signals: UnixSignalsSequence, group: MultiThreadedEventLoopGroup, shared: TrackerShared)
        async
    {
        let (triggers, continuation) = AsyncStream.makeStream(
            of: ReloadTrigger.self, bufferingPolicy: .bufferingNewest(4))
        let path = configuration.allowlistPath
        let pollInterval = Duration.milliseconds(configuration.reloadPollMilliseconds)
        let lastSeen = initialFingerprint
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for await _ in signals { continuation.yield(.signal) }
            }
            tasks.addTask {
                var seen = lastSeen
                while !Task.isCancelled {
                    try? await Task.sleep(for: pollInterval)
                    let now = FileFingerprint(path: path)
                    if now != seen {
                        seen = now
                        continuation.yield(.fileChanged)
                    }
                }
            }
            tasks.addTask {
                var snapshot = self.initial
                for await trigger in triggers {
                    if Task.isCancelled { break }
                    snapshot = await self.reload(current: snapshot, trigger: trigger, group: group, shared: shared)
                }
            }
            await withTaskCancellationHandler {
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            } onCancel: {
                continuation.finish()
            }
            tasks.cancelAll()
        }
    }

    private func reload(
        current: AccessSnapshot, trigger: ReloadTrigger, group: MultiThreadedEventLoopGroup, shared: TrackerShared
    )
        async -> AccessSnapshot
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
        var futures: [EventLoopFuture<Void>] = []
        for bound in shared.contexts.values {
            futures.append(bound.eventLoop.submit { bound.value.snapshot = snapshot })
        }
        let core = shared.core
        let active = snapshot.activeOwners
        let purged = shared.storeLoop.submit { core.value.applyReload(activeOwners: active, revoked: revokedOwners) }
        do {
            for future in futures { try await future.get() }
            let removed = try await purged.get()
            metrics.reloadsOK.increment()
            logger.notice(
                "allowlist reloaded",
                metadata: [
                    "file": "\(path)", "trigger": "\(trigger)", "active": "\(allowlist.activeCount)",
                    "revoked": "\(revokedEntries.map(\.description).joined(separator: "; "))",
                    "peers_dropped": "\(removed)",
                    "torrents": "\(registered.map { String($0.count) } ?? "any")",
                ])
        } catch {
            logger.error("allowlist reload could not be applied", metadata: ["error": "\(error)"])
        }
        return snapshot
    }
}

/// Counts open client connections across event loops.
final class ConnectionGate: Sendable {
    let count = Atomic<Int>(0)
}

/// What identifies a version of a file without reading it: device, inode, size, mtime and ctime.
struct FileFingerprint: Sendable, Hashable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var mtimeSeconds: Int
    var mtimeNanoseconds: Int
    var ctimeSeconds: Int
    var ctimeNanoseconds: Int

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        mtimeSeconds = Int(info.st_mtim.tv_sec)
        mtimeNanoseconds = Int(info.st_mtim.tv_nsec)
        ctimeSeconds = Int(info.st_ctim.tv_sec)
        ctimeNanoseconds = Int(info.st_ctim.tv_nsec)
    }
}
