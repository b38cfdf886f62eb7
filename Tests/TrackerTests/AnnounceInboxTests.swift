import Foundation
import Synchronization
import Testing

@testable import Tracker

#if canImport(Glibc)
    import Glibc
#endif

struct AnnounceInboxTests {
    /// Threads post (as the thread pool does with signed-announce results) while the loop's thread closes the inbox.
    /// A pipe opened right after `close()` returns is given the lowest free descriptors, normally the ones the
    /// wake-up pipe just had; a byte that reaches it is a wake-up written after close — to a descriptor that, in a
    /// real process, now belongs to someone else's file or socket.
    @Test func noWakeUpByteLandsOnADescriptorReusedAfterClose() throws {
        let rounds = 300
        let posters = 3
        var reused = 0
        for round in 0..<rounds {
            let inbox = try #require(AnnounceInbox(), "round \(round): cannot open the wake-up pipe")
            let old = inbox.readDescriptor
            let posted = Atomic<Int>(0)
            let running = Atomic<Bool>(true)
            let done = DispatchSemaphore(value: 0)
            for _ in 0..<posters {
                Thread {
                    while running.load(ordering: .acquiring) {
                        if inbox.post({ _ in }) { posted.add(1, ordering: .relaxed) }
                    }
                    done.signal()
                }.start()
            }
            // Close while the posters are busy (bounded: each round waits at most 5 s for them to start).
            let started = Date()
            while posted.load(ordering: .relaxed) < 64, Date().timeIntervalSince(started) < 5 { sched_yield() }
            _ = inbox.close()
            var fresh: [Int32] = [-1, -1]
            try #require(pipe(&fresh) == 0, "round \(round): pipe failed")
            defer {
                _ = Glibc.close(fresh[0])
                _ = Glibc.close(fresh[1])
            }
            if fresh[0] == old || fresh[1] == old || fresh[0] == old + 1 || fresh[1] == old + 1 { reused += 1 }
            // Let the posters run on against the closed inbox for a moment: every late post must be refused.
            usleep(200)
            running.store(false, ordering: .releasing)
            for _ in 0..<posters {
                #expect(done.wait(timeout: .now() + 10) == .success, "round \(round): a poster did not stop")
            }
            let lateAccepted = inbox.post { _ in }
            #expect(!lateAccepted, "round \(round): a post after close was accepted")
            _ = fcntl(fresh[0], F_SETFL, O_NONBLOCK)
            var byte: UInt8 = 0
            let got = read(fresh[0], &byte, 1)
            #expect(
                got == -1 && errno == EAGAIN,
                "round \(round): a wake-up byte reached descriptor \(fresh[1]) after the inbox was closed")
        }
        // The check above means something only if the fresh pipe took the closed descriptors at least sometimes
        // (other tests running in parallel open descriptors too).
        #expect(reused > rounds / 10, "the fresh pipe reused the wake-up pipe's descriptors in \(reused) rounds")
    }
}
