import NIOCore
import NIOPosix
import Testing

@testable import Engine

/// The host's shared timer: the repeating timers of many sessions on one scheduled task, each running until its
/// owner ends. (What it saves, CPU on an idle daemon with hundreds of torrents, is measured by
/// scripts/bench/footprint.sh, not here.)
@Suite struct HostTimersTests {
    /// A hundred owners' timers at two intervals on one loop.
    final class Probe {
        let timers: HostTimers
        var runs = [Int](repeating: 0, count: 100)
        var alive = [Bool](repeating: true, count: 100)

        init(loop: any EventLoop) {
            timers = HostTimers(loop: loop)
            for owner in 0..<100 {
                timers.every(.milliseconds(owner % 2 == 0 ? 100 : 230), while: { self.alive[owner] }) {
                    self.runs[owner] += 1
                }
            }
        }
    }

    @Test func timersRunUntilTheirOwnerEndsThenAreDropped() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let probe = try await loop.submit { NIOLoopBound(Probe(loop: loop), eventLoop: loop) }.get()
        func read<T: Sendable>(_ body: @escaping @Sendable (Probe) -> T) async throws -> T {
            try await loop.submit { body(probe.value) }.get()
        }
        func waitUntil(_ condition: @escaping @Sendable (Probe) -> Bool) async throws -> Bool {
            for _ in 0..<200 {
                if try await read(condition) { return true }
                try await Task.sleep(for: .milliseconds(50))
            }
            return try await read(condition)
        }

        #expect(try await read { $0.timers.count == 100 && $0.timers.isArmed })
        let allRan = try await waitUntil { $0.runs.allSatisfy { $0 >= 3 } }
        let runs = try await read { $0.runs }
        #expect(allRan, "\(runs)")

        // Half of the owners end: their timers never run again and are dropped; the others go on.
        let before = try await read { probe in
            for owner in 0..<50 { probe.alive[owner] = false }
            return probe.runs
        }
        let othersRanOn = try await waitUntil { probe in (50..<100).allSatisfy { probe.runs[$0] >= before[$0] + 3 } }
        #expect(othersRanOn)
        let after = try await read { $0.runs }
        #expect(Array(after[0..<50]) == Array(before[0..<50]), "a timer ran after its owner ended")
        #expect(try await read { $0.timers.count } == 50)

        // The last owners end: no timer is left and no task stays set.
        _ = try await read { probe in for owner in 50..<100 { probe.alive[owner] = false } }
        let emptied = try await waitUntil { $0.timers.count == 0 && !$0.timers.isArmed }
        #expect(emptied)
    }
}
