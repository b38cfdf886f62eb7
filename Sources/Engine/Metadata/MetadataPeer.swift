import NIOCore
import PeerWire

/// One peer of a ``MetadataFetch``, after the handshake: sends our extended handshake, reads the peer's (its
/// `ut_metadata` id and `metadata_size`), asks for every 16 KiB piece of the info dictionary, a few at a time, and
/// hands the complete copy to the coordinator. Anything else the peer sends is ignored. Lives on the fetch's loop.
final class MetadataPeer: ChannelInboundHandler {
    typealias InboundIn = PeerMessage
    typealias OutboundOut = PeerMessage

    /// The extended message id this side receives `ut_metadata` on.
    static let localID: UInt8 = 1
    /// Requests outstanding at once.
    static let requestDepth = 4

    private let coordinator: MetadataCoordinator
    let address: PeerAddress
    private let fast: Bool
    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?
    private var theirID: UInt8?
    private var size = 0
    private var info: [UInt8] = []
    private var received: [Bool] = []
    private var receivedCount = 0
    private var nextRequest = 0
    private var outstanding = 0
    private var done = false

    /// Whether the peer dialled us.
    private let incoming: Bool

    init(coordinator: MetadataCoordinator, address: PeerAddress, fast: Bool, timeout: TimeAmount, incoming: Bool = false) {
        self.coordinator = coordinator
        self.address = address
        self.fast = fast
        self.timeout = timeout
        self.incoming = incoming
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if incoming { coordinator.attached(context.channel) }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            let (peer, context) = bound.value
            peer.give(up: "sent no complete info dictionary within \(peer.timeout)", context)
        }
        if fast { context.write(wrapOutboundOut(.haveNone), promise: nil) }
        let ours = ExtendedHandshake(messages: [MetadataMessage.extensionName: Self.localID], client: "swtorrent")
        context.writeAndFlush(wrapOutboundOut(ours.message(allocator: context.channel.allocator)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done, case .extended(let id, let payload) = unwrapInboundIn(data) else { return }
        switch id {
        case 0: extendedHandshake(payload, context)
        case Self.localID: metadataMessage(payload, context)
        default: break
        }
    }

    private func extendedHandshake(_ payload: ByteBuffer, _ context: ChannelHandlerContext) {
        guard theirID == nil else { return }
        let theirs: ExtendedHandshake
        do {
            theirs = try ExtendedHandshake(payload: payload)
        } catch {
            return give(up: "\(error)", context)
        }
        guard let id = theirs.messages[MetadataMessage.extensionName] else {
            return give(up: "does not offer ut_metadata", context)
        }
        guard let size = theirs.metadataSize else {
            return give(up: "offers ut_metadata without a metadata_size", context)
        }
        guard size <= MetadataMessage.maximumMetadataSize else {
            return give(
                up: "metadata_size \(size) is over the \(MetadataMessage.maximumMetadataSize)-byte limit; not asked",
                context)
        }
        theirID = id
        self.size = size
        // The copy grows with the pieces that arrive (in order, a few ahead), not with what the peer claims: a peer
        // that offers the 8 MiB limit and sends nothing costs nothing.
        info = []
        received = [Bool](repeating: false, count: MetadataMessage.pieceCount(size: size))
        requestMore(context)
    }

    private func requestMore(_ context: ChannelHandlerContext) {
        guard let theirID else { return }
        while outstanding < Self.requestDepth && nextRequest < received.count {
            let message = MetadataMessage.request(piece: nextRequest)
            context.write(wrapOutboundOut(message.message(id: theirID, allocator: context.channel.allocator)), promise: nil)
            nextRequest += 1
            outstanding += 1
        }
        context.flush()
    }

    private func metadataMessage(_ payload: ByteBuffer, _ context: ChannelHandlerContext) {
        let message: MetadataMessage
        do {
            message = try MetadataMessage(payload: payload)
        } catch {
            return give(up: "\(error)", context)
        }
        switch message {
        case .request(let piece):
            // We have nothing to serve yet.
            if let theirID {
                let reject = MetadataMessage.reject(piece: piece)
                context.writeAndFlush(
                    wrapOutboundOut(reject.message(id: theirID, allocator: context.channel.allocator)), promise: nil)
            }
        case .reject(let piece):
            give(up: "rejected metadata piece \(piece)", context)
        case .data(let piece, let totalSize, let bytes):
            guard theirID != nil, totalSize == size else {
                return give(up: "sent a total_size \(totalSize) other than its metadata_size \(size)", context)
            }
            guard piece < nextRequest, !received[piece] else {
                return give(up: "sent metadata piece \(piece), which was not asked for", context)
            }
            let start = piece * MetadataMessage.pieceLength
            if info.count < start + bytes.count {
                info.append(contentsOf: repeatElement(0, count: start + bytes.count - info.count))
            }
            info.replaceSubrange(start..<start + bytes.count, with: bytes)
            received[piece] = true
            receivedCount += 1
            outstanding -= 1
            if receivedCount == received.count {
                done = true
                timer?.cancel()
                if !coordinator.received(info, from: address) { context.close(promise: nil) }
            } else {
                requestMore(context)
            }
        }
    }

    private func give(up why: String, _ context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        timer?.cancel()
        coordinator.peerFailed(address, why)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        if !done {
            done = true
            coordinator.peerFailed(address, "closed the connection before the info dictionary was complete")
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        give(up: "\(error)", context)
    }
}

@available(*, unavailable)
extension MetadataPeer: Sendable {}
