import NIOCore
import NIOPosix
import Synchronization

/// A TCP relay on loopback between a leech and a seed that flips one bit of one byte the seed sends: the `at`-th
/// byte (0-based) of the first connection's seed-to-leech stream. Counts the connections it relayed.
final class ByteFlippingRelay: Sendable {
    private struct State {
        var connections = 0
        var seen = 0
        var flipped = false
    }

    private let state = Mutex(State())
    private let at: Int
    private let target: Int
    private let group = MultiThreadedEventLoopGroup.singleton
    private let listener: Mutex<(any Channel)?> = Mutex(nil)

    /// - Parameters:
    ///   - target: the seed's port.
    ///   - at: the offset of the byte to flip in the first connection's seed-to-leech stream.
    init(target: Int, at: Int) {
        self.target = target
        self.at = at
    }

    var connections: Int { state.withLock { $0.connections } }
    var flipped: Bool { state.withLock { $0.flipped } }

    /// Starts listening; returns the relay's port.
    func start() async throws -> Int {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] leech in
                let number = state.withLock { state in
                    state.connections += 1
                    return state.connections
                }
                let flip: ByteFlippingRelay? = number == 1 ? self : nil
                return leech.eventLoop.makeCompletedFuture {
                    let toSeed = Forward()
                    try leech.pipeline.syncOperations.addHandler(toSeed)
                    let bound = NIOLoopBound(toSeed, eventLoop: leech.eventLoop)
                    ClientBootstrap(group: leech.eventLoop)
                        .channelInitializer { seed in
                            seed.eventLoop.makeCompletedFuture {
                                let toLeech = Forward(flip: flip)
                                try seed.pipeline.syncOperations.addHandler(toLeech)
                                toLeech.connected(to: leech)
                            }
                        }
                        .connect(host: "127.0.0.1", port: target)
                        .whenComplete { result in
                            switch result {
                            case .success(let seed): bound.value.connected(to: seed)
                            case .failure: leech.close(promise: nil)
                            }
                        }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        listener.withLock { $0 = channel }
        return channel.localAddress?.port ?? 0
    }

    func stop() async {
        let channel = listener.withLock { $0 }
        try? await channel?.close()
    }

    /// Flips the chosen byte if it is in `buffer` (the next bytes of the seed-to-leech stream).
    fileprivate func pass(_ buffer: inout ByteBuffer) {
        let count = buffer.readableBytes
        let offset: Int? = state.withLock { state in
            defer { state.seen += count }
            guard !state.flipped, state.seen <= at, at < state.seen + count else { return nil }
            state.flipped = true
            return at - state.seen
        }
        if let offset, let byte = buffer.getInteger(at: buffer.readerIndex + offset, as: UInt8.self) {
            buffer.setInteger(byte ^ 0x01, at: buffer.readerIndex + offset)
        }
    }

    /// Copies what one side sends to the other (holding it until the other side is connected); closes the other
    /// when one side closes.
    private final class Forward: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private var partner: (any Channel)?
        private var pending: [ByteBuffer] = []
        private var closed = false
        let flip: ByteFlippingRelay?

        init(flip: ByteFlippingRelay? = nil) {
            self.flip = flip
        }

        func connected(to partner: any Channel) {
            guard !closed else { return partner.close(promise: nil) }
            self.partner = partner
            for buffer in pending { partner.write(buffer, promise: nil) }
            pending = []
            partner.flush()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            flip?.pass(&buffer)
            if let partner {
                partner.writeAndFlush(buffer, promise: nil)
            } else {
                pending.append(buffer)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            closed = true
            partner?.close(promise: nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
