import ServiceLifecycle
import Synchronization

/// Gives up on a transfer after a time (`swtorrent leech --deadline`): a ``Service`` beside the transfer's
/// ``TransferService`` that, when `after` has passed and the transfer has not called ``reached()``, records that it
/// fired and returns, so the group shuts down gracefully (configure it with
/// `successTerminationBehavior: .gracefullyShutdownGroup`): the session stops, announces `stopped`, and keeps what is
/// verified. When the group shuts down first, or the transfer got there in time, it does nothing.
public final class DeadlineService: Service, Sendable {
    private enum State {
        case waiting
        case reached
        case fired
    }

    public let after: Duration
    private let state = Mutex(State.waiting)

    /// - Parameter after: how long the transfer may take to reach its goal (e.g. a leech's complete download).
    public init(after: Duration) {
        self.after = after
    }

    /// The transfer got there; the deadline no longer applies. Too late once it has fired.
    public func reached() {
        state.withLock { if $0 == .waiting { $0 = .reached } }
    }

    public func run() async throws {
        let after = self.after
        do {
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: after) }
        } catch {
            return  // the group is shutting down (or was cancelled) before the deadline
        }
        let fired = state.withLock { state in
            if state == .waiting { state = .fired }
            return state == .fired
        }
        if fired { return }
        // In time: stay until the group shuts down, so returning does not end the transfer's later phases.
        try? await gracefulShutdown()
    }

    /// Whether the deadline passed with the transfer still waiting (and so ended it).
    public var fired: Bool { state.withLock { $0 == .fired } }
}
