import NIOCore
import NIOEmbedded
import NIOTestUtils
import PeerWire
import SwarmPrimitives
import Testing

@Suite struct HandshakeTests {
    static let handshake = Handshake(
        infoHash: InfoHash(Array(1...20))!,
        peerID: PeerID(Array("-SW0100-abcdefghijkl".utf8))!,
        reserved: .init(fastExtension: true, extensionProtocol: true, dht: true)
    )

    @Test func encodesAs68BytesWithReservedBits() {
        var buffer = ByteBuffer()
        Self.handshake.write(to: &buffer)
        let bytes = Array(buffer.readableBytesView)
        #expect(bytes.count == 68)
        #expect(bytes[0] == 19)
        #expect(Array(bytes[1..<20]) == Array("BitTorrent protocol".utf8))
        #expect(Array(bytes[20..<28]) == [0, 0, 0, 0, 0, 0x10, 0, 0x05])
        #expect(Array(bytes[28..<48]) == Array(1...20))
        #expect(Array(bytes[48..<68]) == Array("-SW0100-abcdefghijkl".utf8))
    }

    @Test func reservedBitsNegotiate() {
        let ours = Handshake.Reserved.swtorrent
        #expect(ours.fastExtension && ours.extensionProtocol && !ours.dht)
        let theirs = Handshake.Reserved(fastExtension: false, extensionProtocol: true, dht: true)
        let both = ours.negotiated(with: theirs)
        #expect(!both.fastExtension && both.extensionProtocol && !both.dht)
    }

    /// The handshake decoder emits one handshake and stops, so NIO's verifier (which feeds many messages into one
    /// decoder) does not apply; the same feeding patterns are done here by hand.
    @Test(arguments: [1, 2, 5, 19, 20, 47, 67, 68])
    func decoderHandlesAnySplit(chunkSize: Int) throws {
        var input = ByteBuffer()
        Self.handshake.write(to: &input)
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HandshakeDecoder()))
        var outputs: [Handshake] = []
        while input.readableBytes > 0 {
            try channel.writeInbound(input.readSlice(length: min(chunkSize, input.readableBytes))!)
            while let handshake = try channel.readInbound(as: Handshake.self) { outputs.append(handshake) }
            if input.readableBytes > 0 { #expect(outputs.isEmpty) }
        }
        #expect(outputs == [Self.handshake])
        #expect(try channel.finish().isClean)
    }

    @Test(arguments: [
        ([UInt8](arrayLiteral: 18), "length"),
        ([19] + Array("BitTorrent protocoL".utf8), "string"),
        ([19] + Array("Bxt".utf8), "string prefix"),
        ([0x8F, 0x12, 0x99], "encrypted stream"),
    ])
    func malformedHandshakeIsRefusedEarly(bytes: [UInt8], what: String) {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HandshakeDecoder()))
        do {
            try channel.writeInbound(ByteBuffer(bytes: bytes))
            Issue.record("bad handshake (\(what)) accepted")
        } catch let error as PeerWireError {
            #expect(error.code == .invalidHandshake)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    /// The handshake decoder is swapped for the message decoder; bytes that came with the handshake are not lost.
    @Test func bytesAfterTheHandshakeReachTheMessageDecoder() throws {
        let channel = EmbeddedChannel()
        let handshakeHandler = ByteToMessageHandler(HandshakeDecoder())
        try channel.pipeline.syncOperations.addHandler(handshakeHandler)
        var input = ByteBuffer()
        Self.handshake.write(to: &input)
        try PeerMessage.interested.write(to: &input)
        try PeerMessage.have(piece: 3).write(to: &input)
        try channel.writeInbound(input)
        let received = try channel.readInbound(as: Handshake.self)
        #expect(received == Self.handshake)
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)

        let limits = PeerWireLimits(pieceLength: 16384, totalLength: 16384 * 8)
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(PeerMessageDecoder(limits: limits)),
            position: .after(handshakeHandler)
        )
        _ = channel.pipeline.syncOperations.removeHandler(handshakeHandler)
        channel.embeddedEventLoop.run()
        var tail = ByteBuffer()
        try PeerMessage.unchoke.write(to: &tail)
        try channel.writeInbound(tail)
        #expect(try channel.readInbound(as: PeerMessage.self) == .interested)
        #expect(try channel.readInbound(as: PeerMessage.self) == .have(piece: 3))
        #expect(try channel.readInbound(as: PeerMessage.self) == .unchoke)
        #expect(try channel.finish().isClean)
    }
}
