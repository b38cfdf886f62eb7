import NIOCore
import NIOEmbedded
import NIOTestUtils
import PeerWire
import Testing

/// 11 pieces of 32 KiB; the last one is 100 bytes.
let limits = PeerWireLimits(pieceLength: 32 * 1024, totalLength: 10 * 32 * 1024 + 100)

func block(_ length: Int, seed: UInt8 = 7) -> ByteBuffer {
    ByteBuffer(bytes: (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) })
}

/// One of every message, with their exact encodings.
let everyMessage: [(PeerMessage, [UInt8])] = {
    var bits = Bitfield(count: 11)
    bits.insert(0)
    bits.insert(10)
    return [
        (.keepAlive, [0, 0, 0, 0]),
        (.choke, [0, 0, 0, 1, 0]),
        (.unchoke, [0, 0, 0, 1, 1]),
        (.interested, [0, 0, 0, 1, 2]),
        (.notInterested, [0, 0, 0, 1, 3]),
        (.have(piece: 10), [0, 0, 0, 5, 4, 0, 0, 0, 10]),
        (.bitfield(bits), [0, 0, 0, 3, 5, 0x80, 0x20]),
        (
            .request(BlockRequest(piece: 1, begin: 16384, length: 16384)),
            [0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0]
        ),
        (
            .piece(piece: 2, begin: 4, block: block(3)),
            [0, 0, 0, 12, 7, 0, 0, 0, 2, 0, 0, 0, 4] + Array(block(3).readableBytesView)
        ),
        (
            .cancel(BlockRequest(piece: 10, begin: 0, length: 100)),
            [0, 0, 0, 13, 8, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 100]
        ),
        (.port(6881), [0, 0, 0, 3, 9, 0x1A, 0xE1]),
        (.suggest(piece: 5), [0, 0, 0, 5, 13, 0, 0, 0, 5]),
        (.haveAll, [0, 0, 0, 1, 14]),
        (.haveNone, [0, 0, 0, 1, 15]),
        (
            .rejectRequest(BlockRequest(piece: 0, begin: 0, length: 1)),
            [0, 0, 0, 13, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        ),
        (.allowedFast(piece: 9), [0, 0, 0, 5, 17, 0, 0, 0, 9]),
        (.extended(id: 3, payload: ByteBuffer(string: "de")), [0, 0, 0, 4, 20, 3, 0x64, 0x65]),
    ]
}()

@Suite struct PeerMessageCodecTests {
    @Test func everyMessageEncodesExactly() throws {
        for (message, bytes) in everyMessage {
            var buffer = ByteBuffer()
            try message.write(to: &buffer)
            #expect(Array(buffer.readableBytesView) == bytes, "\(message)")
            #expect(message.encodedLength == bytes.count, "\(message)")
        }
    }

    @Test func decoderVerifiesEveryMessageByteByByteAndInOddBatches() throws {
        let pairs = everyMessage.map { (ByteBuffer(bytes: $0.1), [$0.0]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: pairs,
            decoderFactory: { PeerMessageDecoder(limits: limits) }
        )
    }

    @Test func fullSizeBlocksRoundTripThroughTheEncoderAndDecoder() throws {
        let messages: [PeerMessage] =
            [
                .unchoke,
                .piece(piece: 0, begin: 0, block: block(16384, seed: 1)),
                .piece(piece: 0, begin: 16384, block: block(16384, seed: 2)),
                .have(piece: 0),
                .piece(piece: 10, begin: 0, block: block(100, seed: 3)),
            ] + everyMessage.map(\.0)
        let sender = EmbeddedChannel(handler: PeerMessageEncoder())
        var promises: [EventLoopFuture<Void>] = []
        for message in messages {
            promises.append(sender.write(message))
        }
        // Nothing leaves before the flush.
        #expect(try sender.readOutbound(as: ByteBuffer.self) == nil)
        sender.flush()
        var wire = ByteBuffer()
        var writes = 0
        while var chunk = try sender.readOutbound(as: ByteBuffer.self) {
            wire.writeBuffer(&chunk)
            writes += 1
        }
        // Small messages are coalesced: one write per run of small messages plus one per block.
        #expect(writes < messages.count)
        #expect(wire.readableBytes == messages.map(\.encodedLength).reduce(0, +))
        for promise in promises { try promise.wait() }

        // Feed it back in odd-sized chunks.
        let receiver = EmbeddedChannel(handler: ByteToMessageHandler(PeerMessageDecoder(limits: limits)))
        var decoded: [PeerMessage] = []
        var chunkSize = 1
        while wire.readableBytes > 0 {
            let chunk = wire.readSlice(length: min(chunkSize, wire.readableBytes))!
            try receiver.writeInbound(chunk)
            while let message = try receiver.readInbound(as: PeerMessage.self) { decoded.append(message) }
            chunkSize = chunkSize * 3 + 1
        }
        #expect(decoded == messages)
        #expect(try receiver.finish().isClean)
        _ = try sender.finish()
    }

    @Test func incompleteFrameDoesNotMoveTheReaderIndex() throws {
        let decoder = PeerMessageDecoder(limits: limits)
        var buffer = ByteBuffer(bytes: [0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0])
        #expect(try decoder.next(from: &buffer) == nil)
        #expect(buffer.readerIndex == 0)
        buffer.writeBytes([0x40, 0, 0, 0, 0x40, 0])
        #expect(try decoder.next(from: &buffer) == .request(BlockRequest(piece: 1, begin: 16384, length: 16384)))
        #expect(buffer.readableBytes == 0)
    }

    @Test func pieceBlocksAreSlicesNotCopies() throws {
        var input = ByteBuffer()
        try PeerMessage.piece(piece: 1, begin: 0, block: block(16384)).write(to: &input)
        let decoder = PeerMessageDecoder(limits: limits)
        let payload = try #require(try decoder.next(from: &input)?.piecePayload, "not a piece")
        let sameStorage = input.withUnsafeReadableBytes { whole in
            payload.withUnsafeReadableBytes { part in
                part.baseAddress! == whole.baseAddress! - 16384
            }
        }
        #expect(sameStorage)
    }

    static let badFrames: [([UInt8], PeerWireError.Code)] = [
        // A length prefix over the maximum is refused before the body arrives.
        ([0, 0x10, 0, 0], .frameTooLarge),
        ([0xFF, 0xFF, 0xFF, 0xFF], .frameTooLarge),
        ([0, 0, 0, 1, 42], .unknownMessage),
        ([0, 0, 0, 2, 1, 0], .invalidLength),
        ([0, 0, 0, 4, 4, 0, 0, 0], .invalidLength),
        ([0, 0, 0, 5, 4, 0, 0, 0, 11], .pieceOutOfRange),
        ([0, 0, 0, 5, 13, 0, 0, 1, 0], .pieceOutOfRange),
        // Bitfield: wrong size, spare bits set.
        ([0, 0, 0, 2, 5, 0xFF], .invalidBitfield),
        ([0, 0, 0, 4, 5, 0xFF, 0xE0, 0], .invalidBitfield),
        ([0, 0, 0, 3, 5, 0xFF, 0xF0], .invalidBitfield),
        // Requests: larger than the maximum block, outside the piece, outside the torrent, empty.
        ([0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 1], .blockTooLarge),
        ([0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 1, 0, 0, 0x40, 0], .blockOutOfRange),
        ([0, 0, 0, 13, 6, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 101], .blockOutOfRange),
        ([0, 0, 0, 13, 6, 0, 0, 0, 11, 0, 0, 0, 0, 0, 0, 0, 1], .pieceOutOfRange),
        ([0, 0, 0, 13, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0], .blockOutOfRange),
        ([0, 0, 0, 13, 16, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 1], .pieceOutOfRange),
        ([0, 0, 0, 12, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], .invalidLength),
        // Piece data past the end of the last piece, or empty.
        ([0, 0, 0, 10, 7, 0, 0, 0, 10, 0, 0, 0, 100, 1], .blockOutOfRange),
        ([0, 0, 0, 9, 7, 0, 0, 0, 1, 0, 0, 0, 0], .invalidLength),
        ([0, 0, 0, 2, 9, 1], .invalidLength),
        ([0, 0, 0, 1, 20], .invalidLength),
    ]

    @Test(arguments: badFrames)
    func malformedFramesAreRefusedWithTheRightCode(bytes: [UInt8], code: PeerWireError.Code) {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(PeerMessageDecoder(limits: limits)))
        do {
            try channel.writeInbound(ByteBuffer(bytes: bytes))
            Issue.record("accepted \(bytes)")
        } catch let error as PeerWireError {
            #expect(error.code == code, "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func extensionMessagesNeedNegotiation() {
        var plain = limits
        plain.fastExtension = false
        plain.extensionProtocol = false
        let decoder = PeerMessageDecoder(limits: plain)
        for (bytes, code) in [
            ([UInt8]([0, 0, 0, 1, 14]), PeerWireError.Code.fastExtensionNotNegotiated),
            ([0, 0, 0, 1, 15], .fastExtensionNotNegotiated),
            ([0, 0, 0, 5, 17, 0, 0, 0, 1], .fastExtensionNotNegotiated),
            ([0, 0, 0, 2, 20, 0], .extensionProtocolNotNegotiated),
        ] {
            var buffer = ByteBuffer(bytes: bytes)
            #expect(code == errorCode { try decoder.next(from: &buffer) })
        }
    }

    @Test func frameLimitCoversBlocksBitfieldsAndExtendedMessages() throws {
        #expect(limits.maxFrameLength == 2 + 64 * 1024)
        var big = PeerWireLimits(pieceLength: 16384, totalLength: 16384 * 2_000_000, maxBlockLength: 1 << 30)
        #expect(big.maxBlockLength == 128 * 1024)
        #expect(big.maxFrameLength == 1 + 250_000)
        big.maxExtendedPayloadLength = 10
        var oversized = ByteBuffer(bytes: [0, 0, 0, 13, 20, 1])
        oversized.writeBytes([UInt8](repeating: 0, count: 11))
        #expect(errorCode { try PeerMessageDecoder(limits: big).next(from: &oversized) } == .frameTooLarge)
    }

    @Test func encoderFailsUnencodableValuesWithoutLosingOthers() throws {
        let channel = EmbeddedChannel(handler: PeerMessageEncoder())
        let bad = channel.write(PeerMessage.have(piece: -1))
        let good = channel.write(PeerMessage.have(piece: 1))
        channel.flush()
        #expect(throws: PeerWireError.self) { try bad.wait() }
        try good.wait()
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(bytes: [0, 0, 0, 5, 4, 0, 0, 0, 1]))
        _ = try channel.finish()
    }
}

/// The code of the PeerWireError `body` throws, or nil.
func errorCode<T>(_ body: () throws -> T) -> PeerWireError.Code? {
    do {
        _ = try body()
        return nil
    } catch let error as PeerWireError {
        return error.code
    } catch {
        return nil
    }
}

@Suite struct PeerMessageDecoderRobustnessTests {
    /// Random frames (valid length prefixes, random ids and bodies) and random garbage: the decoder returns
    /// messages or a PeerWireError, never crashes, and never buffers past the frame limit.
    @Test(arguments: [1, 2, 3])
    func randomInputNeverCrashes(seed: UInt64) {
        var state = seed
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let decoder = PeerMessageDecoder(limits: limits)
        var decoded = 0
        var refused = 0
        for _ in 0..<5000 {
            var buffer = ByteBuffer()
            if next() % 4 == 0 {
                for _ in 0..<(next() % 40) { buffer.writeInteger(UInt8(truncatingIfNeeded: next())) }
            } else {
                let length = Int(next() % 20)
                buffer.writeInteger(UInt32(length))
                if length > 0 {
                    buffer.writeInteger(UInt8([0, 4, 5, 6, 7, 8, 9, 13, 14, 16, 17, 20, 21][Int(next() % 13)]))
                }
                for _ in 0..<max(0, length - 1) { buffer.writeInteger(UInt8(truncatingIfNeeded: next() % 3)) }
            }
            do {
                while let message = try decoder.next(from: &buffer) {
                    decoded += 1
                    // Whatever is accepted re-encodes to something that decodes to the same message.
                    var again = ByteBuffer()
                    try message.write(to: &again)
                    #expect(try decoder.next(from: &again) == message)
                }
            } catch {
                refused += 1
            }
        }
        #expect(decoded > 100)
        #expect(refused > 100)
    }
}
