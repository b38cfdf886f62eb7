import Foundation
import Identity
import Logging
import Metainfo
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import PeerWire
import SwarmPrimitives
import TestSupport
import Testing

@testable import Engine

/// The connection pipeline and the host's router on `EmbeddedChannel`: no sockets.
@Suite struct PeerPipelineTests {
    static let peerID = PeerID(Array("-XX0001-abcdefghijkl".utf8))!
    static let remote = try! SocketAddress(ipAddress: "192.0.2.7", port: 51413)

    /// Two torrents' leech sessions in one host on an embedded loop. Everything after the storages are open runs
    /// synchronously on the test's thread (the embedded loop's).
    final class Node {
        let loop = EmbeddedEventLoop()
        let host: HostCore
        let sessions: [SessionCore]
        let stop: EventLoopPromise<Void>

        init(configuration: HostConfiguration, torrents: [(Torrent, Storage)]) {
            let loop = self.loop
            let host = HostCore(loop: loop, configuration: configuration, logger: quietLogger)
            self.host = host
            stop = loop.makePromise()
            var sessionConfiguration = SessionConfiguration()
            sessionConfiguration.useTrackers = false
            sessions = torrents.map { torrent, storage in
                SessionCore(
                    host: host, torrent: torrent, storage: storage, configuration: sessionConfiguration,
                    logger: quietLogger, done: loop.makePromise(), progress: { _ in })
            }
            for session in sessions { session.begin(stopRequested: stop.futureResult) }
        }

        /// A connection accepted by the listener, before the peer sent anything.
        func accept(security: (any PeerTransportSecurity)? = nil) throws -> EmbeddedChannel {
            let channel = EmbeddedChannel(loop: loop)
            channel.remoteAddress = PeerPipelineTests.remote
            try PeerPipeline.configure(channel, router: host, security: security, dial: nil)
            channel.connect(to: PeerPipelineTests.remote, promise: nil)
            return channel
        }

        /// Stops the sessions (their outcomes complete) and the loop (its timers are cancelled).
        func finish() throws {
            stop.succeed()
            loop.run()
            try loop.syncShutdownGracefully()
        }
    }

    func handshakeBytes(_ infoHash: InfoHash) -> ByteBuffer {
        var buffer = ByteBuffer()
        Handshake(infoHash: infoHash, peerID: Self.peerID).write(to: &buffer)
        return buffer
    }

    func withNode(
        _ configuration: HostConfiguration = HostConfiguration(), _ body: (Node, [TorrentFixture]) throws -> Void
    ) async throws {
        let directory = try TestFiles.makeTemporaryDirectory("pipeline")
        defer { TestFiles.cleanup(directory) }
        var fixtures: [TorrentFixture] = []
        var torrents: [(Torrent, Storage)] = []
        for (index, name) in ["a.bin", "b.bin"].enumerated() {
            let fixture = try TorrentFixture(
                name: name, size: 100_000, pieceLength: 16 << 10, seed: UInt64(index + 1), in: directory)
            fixtures.append(fixture)
            let storage = try await fixture.leechStorage(in: directory.appendingPathComponent("leech-\(name)"))
            torrents.append((fixture.torrent, storage))
        }
        let node = Node(configuration: configuration, torrents: torrents)
        try body(node, fixtures)
        try node.finish()
    }

    @Test func anIncomingConnectionGoesToTheSessionItsHandshakeNames() async throws {
        try await withNode { node, fixtures in
            let channel = try node.accept()
            try channel.writeInbound(handshakeBytes(fixtures[1].torrent.infoHash))
            // The answer is torrent B's handshake, with B's session's peer id, then what it has (nothing).
            var answer = try #require(try channel.readOutbound(as: ByteBuffer.self))
            let ours = try #require(try Handshake.read(from: &answer))
            #expect(ours.infoHash == fixtures[1].torrent.infoHash)
            #expect(ours.peerID == node.sessions[1].peerID)
            #expect(node.sessions[1].progress().peers == 1)
            #expect(node.sessions[0].progress().peers == 0)
            #expect(node.host.statistics().connections == 1)
            #expect(node.host.statistics().refusals.isEmpty)
            // The handshake handlers are gone; the message codec and the session's handler are in place.
            let pipeline = channel.pipeline.syncOperations
            #expect(throws: (any Error).self) { try pipeline.context(name: PeerPipeline.handshakeName) }
            _ = try pipeline.context(name: PeerPipeline.framerName)
            _ = try pipeline.context(handlerType: PeerConnection.self)
            _ = try? channel.finish()
        }
    }

    @Test func anUnknownInfoHashIsClosedAndCounted() async throws {
        try await withNode { node, _ in
            let channel = try node.accept()
            try channel.writeInbound(handshakeBytes(InfoHash(Array(repeating: 0xAB, count: 20))!))
            #expect(!channel.isActive)
            #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)  // no handshake answered
            #expect(node.host.statistics().refusals == [.unknownInfoHash: 1])
            #expect(node.sessions.allSatisfy { $0.progress().peers == 0 })
        }
    }

    @Test func aSessionThatEndsClosesItsConnectionsAndLeavesTheRoutingTable() async throws {
        try await withNode { node, fixtures in
            let a = fixtures[0].torrent.infoHash
            let connected = try node.accept()
            try connected.writeInbound(handshakeBytes(a))
            #expect(node.sessions[0].progress().peers == 1)
            node.sessions[0].shutdown(.stopped)
            #expect(!connected.isActive)
            #expect(node.host.statistics().sessions == 1)
            #expect(node.host.statistics().connections == 0)
            // Its info-hash is unknown now; the other torrent is still served.
            let late = try node.accept()
            try late.writeInbound(handshakeBytes(a))
            #expect(!late.isActive)
            #expect(node.host.statistics().refusals == [.unknownInfoHash: 1])
            let other = try node.accept()
            try other.writeInbound(handshakeBytes(fixtures[1].torrent.infoHash))
            #expect(other.isActive)
            #expect(node.sessions[1].progress().peers == 1)
            _ = try? other.finish()
        }
    }

    @Test func nodeRateLimitsAreSplitAmongTheTorrentsThatHaveConnections() async throws {
        var configuration = HostConfiguration()
        configuration.downloadRateLimit = 1_000_000
        try await withNode(configuration) { node, fixtures in
            let a = try node.accept()
            try a.writeInbound(handshakeBytes(fixtures[0].torrent.infoHash))
            // Only torrent A has a connection: it gets the whole rate; B would share it once it connects.
            #expect(node.sessions[0].hostDownloadBucket.rate == 1_000_000)
            #expect(node.sessions[1].hostDownloadBucket.rate == 500_000)
            let b = try node.accept()
            try b.writeInbound(handshakeBytes(fixtures[1].torrent.infoHash))
            #expect(node.sessions[0].hostDownloadBucket.rate == 500_000)
            #expect(node.sessions[1].hostDownloadBucket.rate == 500_000)
            #expect(node.sessions[0].hostUploadBucket.rate == nil)
            _ = try? a.finish()
            _ = try? b.finish()
        }
    }

    @Test func theAdmissionHookSeesThePeerAndCanRefuse() async throws {
        let seen = NIOLockedValueBox<[PeerAdmissionRequest]>([])
        var configuration = HostConfiguration()
        configuration.admission = { request in
            seen.withLockedValue { $0.append(request) }
            return .refuse(reason: "not on the allowlist")
        }
        try await withNode(configuration) { node, fixtures in
            let channel = try node.accept()
            try channel.writeInbound(handshakeBytes(fixtures[0].torrent.infoHash))
            #expect(!channel.isActive)
            #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
            #expect(node.host.statistics().refusals == [.admission: 1])
            #expect(node.sessions[0].progress().peers == 0)
            let requests = seen.withLockedValue { $0 }
            let request = try #require(requests.first)
            #expect(request.address == PeerAddress(host: "192.0.2.7", port: 51413))
            #expect(request.direction == .incoming)
            #expect(request.infoHash == fixtures[0].torrent.infoHash)
            #expect(request.peerID == Self.peerID)
            #expect(request.identity == nil)  // plain BitTorrent: no transport security in the slot
        }
    }

    @Test func theSecuritySlotSitsBeforeTheHandshakeAndItsIdentityReachesAdmission() async throws {
        let key = try #require(NodePublicKey(bytes: Array(repeating: 9, count: 32)))
        let transport = RecordingTransport(identity: PeerIdentity(publicKey: key))
        let seen = NIOLockedValueBox<PeerIdentity?>(nil)
        var configuration = HostConfiguration()
        configuration.admission = { request in
            seen.withLockedValue { $0 = request.identity }
            return .admit
        }
        try await withNode(configuration) { node, fixtures in
            let channel = try node.accept(security: transport)
            let theirs = handshakeBytes(fixtures[0].torrent.infoHash)
            try channel.writeInbound(theirs)
            // The slot's handler saw the raw handshake bytes coming in, and our handshake and first message going
            // out: it sits before the handshake decoder and stays after the switch to the message codec.
            let inbound = transport.inbound.withLockedValue { $0 }
            #expect(inbound == Array(theirs.readableBytesView))
            let outbound = transport.outbound.withLockedValue { $0 }
            #expect(outbound.count > Handshake.length)
            var ours = ByteBuffer(bytes: outbound.prefix(Handshake.length))
            #expect(try Handshake.read(from: &ours)?.infoHash == fixtures[0].torrent.infoHash)
            let identity = seen.withLockedValue { $0 }
            #expect(identity == PeerIdentity(publicKey: key))
            #expect(node.sessions[0].progress().peers == 1)
            _ = try? channel.finish()
        }
    }
}

/// A transport layer for the slot that records the bytes passing through it (no encryption) and reports a fixed
/// identity: enough to show where the slot is and that its identity reaches the admission hook.
struct RecordingTransport: PeerTransportSecurity {
    let identity: PeerIdentity
    let inbound = NIOLockedValueBox<[UInt8]>([])
    let outbound = NIOLockedValueBox<[UInt8]>([])

    func addHandlers(to pipeline: ChannelPipeline.SynchronousOperations, connection: PeerConnectionSetup) throws {
        try pipeline.addHandler(Recorder(inbound: inbound, outbound: outbound), name: "test.recorder")
    }

    func authenticatedIdentity(of channel: any Channel) -> PeerIdentity? { identity }

    final class Recorder: ChannelDuplexHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        typealias OutboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let inbound: NIOLockedValueBox<[UInt8]>
        let outbound: NIOLockedValueBox<[UInt8]>

        init(inbound: NIOLockedValueBox<[UInt8]>, outbound: NIOLockedValueBox<[UInt8]>) {
            self.inbound = inbound
            self.outbound = outbound
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            inbound.withLockedValue { $0 += bytes.readableBytesView }
            context.fireChannelRead(data)
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            let bytes = unwrapOutboundIn(data)
            outbound.withLockedValue { $0 += bytes.readableBytesView }
            context.write(data, promise: promise)
        }
    }
}

@available(*, unavailable)
extension RecordingTransport.Recorder: Sendable {}
