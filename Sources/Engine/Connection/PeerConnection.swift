import NIOCore
import PeerWire
import SwarmPrimitives

/// One peer connection after the handshake: the last handler of its channel's pipeline and the session's record
/// of the peer (choke and interest state, requests both ways, rates). Lives on the session's event loop.
final class PeerConnection: ChannelDuplexHandler {
    typealias InboundIn = PeerMessage
    typealias OutboundIn = PeerMessage
    typealias OutboundOut = PeerMessage

    let core: SessionCore
    /// Set by the session when the connection is admitted.
    var id = 0
    let record: PeerRecord
    let peerID: PeerID
    /// Both sides set the Fast extension bit (BEP 6).
    let fast: Bool
    /// Both sides set the extension protocol bit (BEP 10).
    let extensions: Bool
    /// The extended message id the peer wants `ut_metadata` (BEP 9) on, from its extended handshake.
    var peerMetadataID: UInt8?
    /// The key reputation and bans are kept under: the IP address, or address and port on loopback (where several
    /// peers share one address).
    let banKey: String
    /// The key the data this peer supplied is credited under (``PeerAttribution``): its address, `ip:port`.
    let attributionKey: String
    private(set) var context: ChannelHandlerContext?

    // Choke and interest, both directions.
    var amChoking = true
    var amInterested = false
    var peerChoking = true
    var peerInterested = false
    /// When the peer last began choking us (it does from the start).
    var chokedSince: Double
    /// LAN-first: when this LAN peer last announced a piece of its WAN share (``SiteShare``), or connected.
    var lastShareProgress: Double

    // Download side.
    var pipeline: RequestPipeline
    var lastBlockAt: Double
    var snubbed = false
    var rateWindowBytes: Int64 = 0
    var downloadRate: Double = 0

    // Upload side: requests waiting for a disk read, reads in flight.
    var uploadQueue: [BlockRequest] = []
    var uploadQueueHead = 0
    var readsInFlight = 0
    var readBytesInFlight = 0
    var unflushedWrites = 0

    var lastReceivedAt: Double
    var lastSentAt: Double
    let connectedAt: Double
    var closed = false

    init(core: SessionCore, handshake: Handshake, dialled: PeerRecord?, remote: SocketAddress?) {
        self.core = core
        self.peerID = handshake.peerID
        self.fast = handshake.reserved.fastExtension && core.ourHandshake.reserved.fastExtension
        self.extensions = handshake.reserved.extensionProtocol && core.ourHandshake.reserved.extensionProtocol
        let address =
            dialled?.address
            ?? PeerAddress(host: remote?.ipAddress ?? "unknown", port: remote?.port ?? 0)
        var record = dialled ?? core.classifier.record(address, source: .incoming)
        record.peerID = handshake.peerID
        self.record = record
        let host = remote?.ipAddress ?? address.host
        let loopback = host.hasPrefix("127.") || host == "::1" || host == "localhost"
        self.banKey = loopback ? "\(host):\(address.port)" : host
        self.attributionKey = address.description
        let now = core.now()
        lastBlockAt = now
        lastReceivedAt = now
        lastSentAt = now
        connectedAt = now
        chokedSince = now
        // LAN-first: what is asked of a WAN peer is committed to the WAN; keep that short (the site's shares change).
        let wan = core.configuration.lanFirst && record.locality != .lan
        pipeline = RequestPipeline(queueTime: wan ? core.configuration.wanQueueTime.seconds : 1.0)
        lastShareProgress = now
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        core.connectionReady(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastReceivedAt = core.now()
        core.received(unwrapInboundIn(data), from: self)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        core.readComplete(self)
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { core.pumpUploads(self) }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        core.disconnected(self)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        core.protocolError(self, error)
        context.close(promise: nil)
    }

    /// Queues a message; it goes out on the next ``flush()``.
    func send(_ message: PeerMessage, promise: EventLoopPromise<Void>? = nil) {
        guard let context, !closed else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(wrapOutboundOut(message), promise: promise)
        lastSentAt = core.now()
    }

    func flush() {
        unflushedWrites = 0
        context?.flush()
    }

    func close() {
        guard !closed else { return }
        closed = true
        context?.close(promise: nil)
    }

    var allocator: ByteBufferAllocator { context?.channel.allocator ?? ByteBufferAllocator() }

    var isWritable: Bool { context?.channel.isWritable ?? false }

    var pendingUploads: Int { uploadQueue.count - uploadQueueHead }

    func peekUpload() -> BlockRequest? {
        uploadQueueHead < uploadQueue.count ? uploadQueue[uploadQueueHead] : nil
    }

    func popUpload() -> BlockRequest? {
        guard uploadQueueHead < uploadQueue.count else { return nil }
        let request = uploadQueue[uploadQueueHead]
        uploadQueueHead += 1
        if uploadQueueHead > 1024 && uploadQueueHead * 2 > uploadQueue.count {
            uploadQueue.removeFirst(uploadQueueHead)
            uploadQueueHead = 0
        }
        return request
    }

    func clearUploads() -> [BlockRequest] {
        let rest = Array(uploadQueue[uploadQueueHead...])
        uploadQueue.removeAll(keepingCapacity: true)
        uploadQueueHead = 0
        return rest
    }

    func removeUpload(_ request: BlockRequest) {
        if let index = uploadQueue[uploadQueueHead...].firstIndex(of: request) { uploadQueue.remove(at: index) }
    }
}

@available(*, unavailable)
extension PeerConnection: Sendable {}
