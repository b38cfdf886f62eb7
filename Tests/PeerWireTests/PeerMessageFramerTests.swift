import NIOCore
import NIOEmbedded
import PeerWire
import Testing

@Suite struct PeerMessageFramerTests {
    /// Every message, plus full-size blocks, as one byte stream.
    static let stream: (wire: [UInt8], messages: [PeerMessage]) = {
        let messages: [PeerMessage] =
            [
                .piece(piece: 0, begin: 0, block: block(16384, seed: 1)),
                .keepAlive,
                .piece(piece: 0, begin: 16384, block: block(16384, seed: 2)),
            ] + everyMessage.map(\.0) + [.piece(piece: 10, begin: 0, block: block(100, seed: 3))]
        var wire = ByteBuffer()
        for message in messages { try! message.write(to: &wire) }
        return (Array(wire.readableBytesView), messages)
    }()

    /// Feeds `wire` in chunks of the given sizes (cycled) and returns what came out.
    func decode(_ wire: [UInt8], chunks: [Int]) throws -> (messages: [PeerMessage], channel: EmbeddedChannel) {
        let framer = PeerMessageFramer(limits: limits)
        let channel = EmbeddedChannel(handler: framer)
        var decoded: [PeerMessage] = []
        var offset = 0
        var index = 0
        while offset < wire.count {
            let length = min(chunks[index % chunks.count], wire.count - offset)
            try channel.writeInbound(ByteBuffer(bytes: wire[offset..<offset + length]))
            while let message = try channel.readInbound(as: PeerMessage.self) { decoded.append(message) }
            // Never more than one (partial) frame is held between reads.
            #expect(framer.carriedBytes <= limits.maxFrameLength + 4)
            offset += length
            index += 1
        }
        return (decoded, channel)
    }

    @Test(arguments: [[1], [2], [3], [7], [13], [4, 16384], [16397], [5000, 1, 20000], [1 << 20]])
    func decodesEveryMessageInAnyChunking(chunks: [Int]) throws {
        let (wire, messages) = Self.stream
        let (decoded, channel) = try decode(wire, chunks: chunks)
        #expect(decoded == messages)
        #expect(try channel.finish().isClean)
    }

    @Test func blocksOfWholeFramesAreSlicesOfTheRead() throws {
        var input = ByteBuffer()
        try PeerMessage.piece(piece: 1, begin: 0, block: block(16384)).write(to: &input)
        let channel = EmbeddedChannel(handler: PeerMessageFramer(limits: limits))
        let base = input.withUnsafeReadableBytes { Int(bitPattern: $0.baseAddress) }
        try channel.writeInbound(input)
        let payload = try #require(try channel.readInbound(as: PeerMessage.self)?.piecePayload, "no piece decoded")
        #expect(payload.withUnsafeReadableBytes { Int(bitPattern: $0.baseAddress) } == base + 13)
        _ = try channel.finish()
    }

    @Test(arguments: [0, 1, 2, 3, 4])
    func oversizedPrefixIsRefusedEvenWhenSplit(split: Int) throws {
        let channel = EmbeddedChannel(handler: PeerMessageFramer(limits: limits))
        // A complete request, then a frame announcing 16 MiB, its prefix split after `split` bytes.
        let request: [UInt8] = [0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0]
        let bytes = request + [1, 0, 0, 0, 7, 0, 0]
        let cut = request.count + split
        var refused: PeerWireError.Code?
        for part in [bytes[0..<cut], bytes[cut...]] {
            do {
                try channel.writeInbound(ByteBuffer(bytes: part))
            } catch let error as PeerWireError {
                refused = error.code
            }
        }
        #expect(refused == .frameTooLarge)
        #expect(try channel.readInbound(as: PeerMessage.self) == .request(BlockRequest(piece: 1, begin: 16384, length: 16384)))
        // After the error nothing more is decoded.
        try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 1, 1]))
        #expect(try channel.readInbound(as: PeerMessage.self) == nil)
        _ = try? channel.finish()
    }

    @Test func malformedFrameSplitAcrossReadsIsRefused() throws {
        let channel = EmbeddedChannel(handler: PeerMessageFramer(limits: limits))
        // A bitfield of the wrong size for 11 pieces, delivered in two parts.
        try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 4, 5]))
        do {
            try channel.writeInbound(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF]))
            Issue.record("a bitfield of the wrong size was accepted")
        } catch let error as PeerWireError {
            #expect(error.code == .invalidBitfield || error.code == .invalidLength, "\(error)")
        }
        _ = try? channel.finish()
    }

    @Test func closingWithAPartialFrameDropsIt() throws {
        let channel = EmbeddedChannel(handler: PeerMessageFramer(limits: limits))
        try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 13, 6, 0, 0]))
        #expect(try channel.readInbound(as: PeerMessage.self) == nil)
        // Removing the handler (the channel closes) must not pass raw bytes on to the message handler after it.
        _ = try channel.finish(acceptAlreadyClosed: true)
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
    }
}
