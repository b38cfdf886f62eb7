import NIOCore
import PeerWire
import Testing

/// BEP 9 `ut_metadata` messages: the three kinds round-trip, and each malformed shape a peer could send is refused
/// with `invalidMetadataMessage`.
@Suite struct MetadataMessageTests {
    @Test(arguments: [
        MetadataMessage.request(piece: 0), .reject(piece: 7),
        .data(piece: 0, totalSize: 16384 + 5, bytes: [UInt8](repeating: 0x61, count: 16384)),
        .data(piece: 1, totalSize: 16384 + 5, bytes: [1, 2, 3, 4, 5]),
    ])
    func roundTrips(message: MetadataMessage) throws {
        #expect(try MetadataMessage(payload: ByteBuffer(bytes: message.encoded())) == message)
    }

    @Test func encodesAsBEP9Says() {
        #expect(String(decoding: MetadataMessage.request(piece: 2).encoded(), as: UTF8.self) == "d8:msg_typei0e5:piecei2ee")
        #expect(
            String(decoding: MetadataMessage.data(piece: 0, totalSize: 3, bytes: Array("abc".utf8)).encoded(), as: UTF8.self)
                == "d8:msg_typei1e5:piecei0e10:total_sizei3eeabc")
    }

    @Test(arguments: [
        ("not bencode", "x"),
        ("no msg_type", "d5:piecei0ee"),
        ("negative piece", "d8:msg_typei0e5:piecei-1ee"),
        ("unknown msg_type", "d8:msg_typei9e5:piecei0ee"),
        ("request with bytes after it", "d8:msg_typei0e5:piecei0eeabc"),
        ("data without total_size", "d8:msg_typei1e5:piecei0eeabc"),
        ("total_size over the limit", "d8:msg_typei1e5:piecei0e10:total_sizei8388609eeabc"),
        ("piece past the size", "d8:msg_typei1e5:piecei1e10:total_sizei3eeabc"),
        ("short piece", "d8:msg_typei1e5:piecei0e10:total_sizei4eeabc"),
        ("long piece", "d8:msg_typei1e5:piecei0e10:total_sizei2eeabc"),
    ])
    func refusesMalformedMessages(_ what: String, _ text: String) {
        #expect(throws: PeerWireError.self, "\(what)") {
            try MetadataMessage(payload: ByteBuffer(string: text))
        }
    }

    @Test func theExtendedHandshakeCarriesMetadataSize() throws {
        let ours = ExtendedHandshake(messages: ["ut_metadata": 3], client: "swtorrent", metadataSize: 12345)
        #expect(
            String(decoding: ours.encoded(), as: UTF8.self)
                == "d1:md11:ut_metadatai3ee13:metadata_sizei12345e1:v9:swtorrente")
        #expect(try ExtendedHandshake(payload: ByteBuffer(bytes: ours.encoded())).metadataSize == 12345)
        let negative = try ExtendedHandshake(payload: ByteBuffer(string: "d1:mde13:metadata_sizei-4ee"))
        #expect(negative.metadataSize == nil)
    }

    @Test func messagesAboutPiecesAreSkippedWhileThePieceFactsAreUnknown() throws {
        var limits = PeerWireLimits(pieceLength: 16384, totalLength: 16384)
        limits.pieceFactsKnown = false
        // A seed's bitfield of 20 pieces and a have of piece 19: not checked against a torrent we do not know yet.
        var bitfield = ByteBuffer(bytes: [5, 0xff, 0xff, 0xf0])
        #expect(try PeerMessage.parse(frame: bitfield.readSlice(length: 4)!, limits: limits) == .keepAlive)
        #expect(try PeerMessage.parse(frame: ByteBuffer(bytes: [4, 0, 0, 0, 19]), limits: limits) == .keepAlive)
        limits.pieceFactsKnown = true
        #expect(throws: PeerWireError.self) { try PeerMessage.parse(frame: ByteBuffer(bytes: [4, 0, 0, 0, 19]), limits: limits) }
    }
}
