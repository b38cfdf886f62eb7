import NIOCore

/// The repeating timers of every session on a host (ticks, choking rounds, progress reports), served by **one**
/// scheduled task on the host's loop instead of one each.
///
/// A node seeding hundreds of torrents had three repeating NIO tasks per session (about 600 for 200 torrents, over
/// 1 000 firings a second), and keeping NIO's scheduled-task heap in order took most of an idle daemon's CPU
/// (`scripts/bench/footprint.sh`, Docs/benchmarks.md). Here each timer's due time is rounded up to a multiple of
/// ``quantum`` since the host started, so timers of different sessions fall due together and the loop wakes at most
/// once a quantum; one NIO task stands for all of them, set for the earliest due time.
///
/// Not thread-safe: every call runs on ``loop`` (the host's; every session's timers are on it too).
final class HostTimers {
    /// Timers are served on this grid: an interval runs every `interval` rounded up to the quantum, give or take
    /// one quantum of lateness when the loop is busy.
    static let quantum: TimeAmount = .milliseconds(50)

    private struct Timer {
        var interval: TimeAmount
        var due: NIODeadline
        let isAlive: () -> Bool
        let body: () -> Void
    }

    let loop: any EventLoop
    private let origin = NIODeadline.now()
    private var timers: [Timer] = []
    private var scheduled: (task: Scheduled<Void>, at: NIODeadline)?

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// Timers kept now (a timer whose owner ended is dropped when it next falls due).
    var count: Int { timers.count }

    /// Whether one NIO task is set (it stands for every timer; none when there is no timer).
    var isArmed: Bool { scheduled != nil }

    /// Runs `body` every `interval` (rounded up to ``quantum``) for as long as `isAlive` says so; the first run is
    /// one interval from now. A timer whose `isAlive` is false when it falls due is dropped without running.
    func every(_ interval: TimeAmount, while isAlive: @escaping () -> Bool, _ body: @escaping () -> Void) {
        loop.assertInEventLoop()
        let quantum = Self.quantum.nanoseconds
        let rounded = TimeAmount.nanoseconds(max(1, (interval.nanoseconds + quantum - 1) / quantum) * quantum)
        timers.append(Timer(interval: rounded, due: onGrid(.now() + rounded), isAlive: isAlive, body: body))
        arm()
    }

    /// The first grid point at or after `deadline`.
    private func onGrid(_ deadline: NIODeadline) -> NIODeadline {
        let quantum = Self.quantum.nanoseconds
        let since = (deadline - origin).nanoseconds
        return origin + .nanoseconds((since + quantum - 1) / quantum * quantum)
    }

    /// Keeps one NIO task set for the earliest due timer (none when there are no timers).
    private func arm() {
        guard let earliest = timers.lazy.map(\.due).min() else {
            scheduled?.task.cancel()
            scheduled = nil
            return
        }
        if let current = scheduled, current.at <= earliest { return }
        scheduled?.task.cancel()
        let task = loop.assumeIsolated().scheduleTask(deadline: earliest) { self.fire() }
        scheduled = (task, earliest)
    }

    private func fire() {
        scheduled = nil
        let now = NIODeadline.now()
        // Timers added by a body run from the next firing on (they are appended after `count`).
        let count = timers.count
        var index = 0
        var kept = 0
        while index < count {
            var timer = timers[index]
            index += 1
            guard timer.isAlive() else { continue }
            if timer.due <= now {
                timer.body()
                timer.due = onGrid(max(timer.due + timer.interval, now + .nanoseconds(1)))
            }
            timers[kept] = timer
            kept += 1
        }
        timers.removeSubrange(kept..<count)
        arm()
    }
}
