import ServiceLifecycle
import Synchronization

/// A node's long-running part as a swift-service-lifecycle ``Service``: `swtorrent seed`, `swtorrent leech` (its
/// download, gate and seed-after phase) each run as one, in one ``ServiceGroup`` with graceful shutdown on
/// SIGTERM/SIGINT, as the tracker does. The body reacts to the shutdown itself (``TransferRunner`` stops its session);
/// its result is kept for the caller, which turns it into an exit code after the group has returned. The body ending
/// is the service's normal end: configure it with `successTerminationBehavior: .gracefullyShutdownGroup`.
public final class TransferService<Result: Sendable>: Service, Sendable {
    private let body: @Sendable () async -> Result
    private let outcome = Mutex<Result?>(nil)

    public init(_ body: @escaping @Sendable () async -> Result) {
        self.body = body
    }

    public func run() async throws {
        let result = await body()
        outcome.withLock { $0 = result }
    }

    /// The body's result once ``run()`` has returned; nil before, or when the group never started the service.
    public var result: Result? { outcome.withLock { $0 } }
}
