import Bencode
import NIOCore
import PeerWire
import Testing

@Suite struct ExtendedHandshakeTests {
    @Test func roundTrip() throws {
        let handshake = ExtendedHandshake(
            messages: ["ut_pex": 1, "ut_metadata": 2],
            client: "swtorrent 0.1",
            listenPort: 6881,
            requestQueueLength: 500,
            yourIP: [127, 0, 0, 1]
        )
        let bytes = handshake.encoded()
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == "d1:md11:ut_metadatai2e6:ut_pexi1ee1:pi6881e4:reqqi500e1:v13:swtorrent 0.16:yourip4:\u{7F}\0\0\u{1}e"
        )
        let payload = try #require(handshake.message().extendedPayload(id: 0), "not an extended message with id 0")
        #expect(try ExtendedHandshake(payload: payload) == handshake)
    }

    @Test func parsesWhatLibtorrentSendsAndIgnoresTheRest() throws {
        // Unsorted keys, a disabled extension (id 0), out-of-range values and unknown keys.
        let text =
            "d1:v17:libtorrent/2.0.1111:upload_onlyi0e1:md6:ut_pexi0e11:ut_metadatai3e3:badi300ee"
            + "1:pi70000e4:reqqi-5e6:yourip3:abce"
        let parsed = try ExtendedHandshake(payload: ByteBuffer(string: text))
        #expect(parsed.messages == ["ut_metadata": 3])
        #expect(parsed.client == "libtorrent/2.0.11")
        #expect(parsed.listenPort == nil)
        #expect(parsed.requestQueueLength == nil)
        #expect(parsed.yourIP == nil)
    }

    @Test(arguments: ["", "i3e", "d1:mi3ee", "d1:m", "l1:me"])
    func malformedIsRefused(text: String) {
        do {
            _ = try ExtendedHandshake(payload: ByteBuffer(string: text))
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.code == .invalidExtendedHandshake)
        }
    }
}
