import CEventPoll
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The announce loop's mailbox: closures other threads queue for the loop's thread, the waiters for its end, and
/// the non-blocking pipe whose byte wakes the loop's `epoll_wait`.
///
/// The wake-up byte is written while the lock is held, and `close()` marks the inbox stopped and closes the pipe
/// under the same lock. So once `close()` has returned no thread can write to the pipe's old descriptor, which the
/// kernel may already have handed to a new file, socket or pipe.
final class AnnounceInbox: Sendable {
    typealias Task = @Sendable (AnnounceLoopState) -> Void

    /// The pipe's read end: the loop registers it with epoll and drains it in `take()`.
    let readDescriptor: Int32
    private let writeDescriptor: Int32
    private let state = Mutex(State())

    private struct State {
        var tasks: [Task] = []
        var stopped = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Opens the wake-up pipe; nil with `errno` set when the process is out of descriptors.
    init?() {
        var fds: [Int32] = [-1, -1]
        guard swt_pipe(&fds) == 0 else { return nil }
        readDescriptor = fds[0]
        writeDescriptor = fds[1]
    }

    /// Queues `task` and wakes the loop. False (and `task` dropped) once the inbox is closed.
    @discardableResult
    func post(_ task: @escaping Task) -> Bool {
        state.withLock { state in
            guard !state.stopped else { return false }
            state.tasks.append(task)
            // Under the lock: `close()` cannot close the descriptor between the check above and this write. The
            // pipe is non-blocking, so a full pipe (the loop already has a wake-up pending) never blocks the lock.
            var byte: UInt8 = 1
            _ = write(writeDescriptor, &byte, 1)
            return true
        }
    }

    /// Called on the loop's thread: drains the pipe and takes the queued tasks.
    func take() -> [Task] {
        var drained = [UInt8](repeating: 0, count: 64)
        while read(readDescriptor, &drained, drained.count) > 0 {}
        return state.withLock { state in
            let tasks = state.tasks
            state.tasks.removeAll()
            return tasks
        }
    }

    /// Returns once `close()` has run (at once if it has).
    func waitUntilClosed() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                if state.stopped { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Called once, on the loop's thread as it ends: refuses further posts, closes the pipe (under the lock, see the
    /// type's comment) and returns the tasks still queued and the waiters to resume after running them.
    func close() -> (tasks: [Task], waiters: [CheckedContinuation<Void, Never>]) {
        state.withLock { state in
            state.stopped = true
            _ = Glibc.close(writeDescriptor)
            _ = Glibc.close(readDescriptor)
            let taken = (state.tasks, state.waiters)
            state.tasks.removeAll()
            state.waiters.removeAll()
            return taken
        }
    }
}
