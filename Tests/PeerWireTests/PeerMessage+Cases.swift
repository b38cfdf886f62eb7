import NIOCore
import PeerWire

// Each case's payload as an optional, so a test can `try #require` the case it expects instead of a `guard case`
// that returns early.

extension PeerMessage {
    var piecePayload: ByteBuffer? { if case .piece(_, _, let payload) = self { payload } else { nil } }
    /// The payload of an extended message with id `id`.
    func extendedPayload(id: UInt8) -> ByteBuffer? {
        if case .extended(let got, let payload) = self, got == id { payload } else { nil }
    }
}
