import SystemSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A dedicated OS thread for blocking work (file reads and hashing), joined explicitly.
///
/// Hashing blocks on `pread`, so it runs on threads of its own rather than on Swift's cooperative pool, which
/// must never block.
struct WorkerThread {
    private final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    #if canImport(Darwin)
    private let thread: pthread_t?
    #else
    private let thread: pthread_t
    #endif

    /// Starts `body` on a new thread.
    ///
    /// - Throws: ``MetainfoError/Code/fileSystem`` if the system refuses to create a thread.
    init(_ body: @escaping @Sendable () -> Void) throws(MetainfoError) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        #if canImport(Darwin)
        var thread: pthread_t? = nil
        #else
        var thread = pthread_t()
        #endif
        let result = pthread_create(
            &thread,
            nil,
            { context in
                let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
                body.run()
                return nil
            },
            context
        )
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw MetainfoError(.fileSystem, "cannot start a hashing thread: \(ErrnoText.of(result))")
        }
        self.thread = thread
    }

    /// Waits for the thread to finish.
    func join() {
        #if canImport(Darwin)
        if let thread { pthread_join(thread, nil) }
        #else
        pthread_join(thread, nil)
        #endif
    }
}
