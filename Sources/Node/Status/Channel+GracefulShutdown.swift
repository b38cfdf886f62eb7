import NIOCore
import ServiceLifecycle

extension Channel {
    /// Waits until the channel (a listener) closes, closing it on graceful shutdown or task cancellation: the
    /// `run()` of the node's HTTP services (``StatusService``, ``MirrorServer``).
    func closeOnGracefulShutdown() async {
        try? await withTaskCancellationOrGracefulShutdownHandler {
            try await self.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            self.close(promise: nil)
        }
    }
}
