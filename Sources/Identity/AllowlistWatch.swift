import SystemSupport

/// When an allowlist file must be re-read: on every signal of a sequence (SIGHUP) and whenever the file's inode,
/// size, mtime or ctime changes (polled). The one watch behind both readers of an allowlist, the tracker
/// (`TrackerServer`) and a node's private swarms (`PrivateSwarm`); each decides what a reload does.
public struct AllowlistWatch: Sendable {
    /// What asked for a reload.
    public enum Trigger: Sendable, Hashable {
        case signal
        case fileChanged
    }

    /// The allowlist file.
    public let path: String
    /// How often the file's fingerprint is compared.
    public let pollInterval: Duration
    /// The fingerprint of the file as it was loaded (a change from it is the first trigger).
    public let loaded: FileFingerprint?

    /// - Parameters:
    ///   - path: the allowlist file.
    ///   - pollInterval: how often to look at the file.
    ///   - loaded: the file's fingerprint when it was loaded (`FileFingerprint(path:followingSymlinks: true)`,
    ///     taken before reading it).
    public init(path: String, pollInterval: Duration, loaded: FileFingerprint?) {
        self.path = path
        self.pollInterval = pollInterval
        self.loaded = loaded
    }

    /// Runs `body` with the stream of triggers until `body` returns or the task is cancelled (the stream then ends).
    /// Triggers that arrive while `body` is busy are merged (at most 4 are kept).
    ///
    /// - Parameters:
    ///   - signals: one element per reload signal (the caller traps SIGHUP).
    ///   - body: reads the triggers and reloads, one at a time.
    public func run<Signals: AsyncSequence & Sendable>(
        signals: Signals, _ body: @escaping @Sendable (AsyncStream<Trigger>) async -> Void
    ) async {
        let (triggers, continuation) = AsyncStream.makeStream(of: Trigger.self, bufferingPolicy: .bufferingNewest(4))
        let path = self.path
        let pollInterval = self.pollInterval
        let loaded = self.loaded
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                do {
                    for try await _ in signals { continuation.yield(.signal) }
                } catch {}
            }
            tasks.addTask {
                var seen = loaded
                while !Task.isCancelled {
                    try? await Task.sleep(for: pollInterval)
                    let now = FileFingerprint(path: path, followingSymlinks: true)
                    if now != seen {
                        seen = now
                        continuation.yield(.fileChanged)
                    }
                }
            }
            tasks.addTask { await body(triggers) }
            await withTaskCancellationHandler {
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            } onCancel: {
                continuation.finish()
            }
            tasks.cancelAll()
        }
    }
}
