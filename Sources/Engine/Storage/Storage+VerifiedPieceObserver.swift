import NIOCore
import PeerWire

extension Storage {
    /// Called on a storage thread each time a piece joins ``have``, after its bytes are on disk: with the piece's
    /// buffer when the storage holds it in memory (a whole piece written by ``writeVerified(piece:data:on:)``; its
    /// readable bytes are the piece), or nil when it does not (``verify(piece:)`` read the piece back from disk).
    /// Must be quick and must not call back into the storage.
    ///
    /// The observer may keep the buffer to read it later, without copying it: it shares the storage with the buffer
    /// that goes back to its owner (``takeReturnedBuffers()``). The session never writes into a piece buffer someone
    /// else still holds: reusing it for a new piece (`ByteBuffer.clear()`) then gives it fresh storage and leaves the
    /// kept bytes as they were. A kept buffer therefore costs the owner a new buffer only while it is kept when the
    /// owner needs it; an observer should drop it as soon as it is done.
    public typealias VerifiedPieceObserver = @Sendable (_ piece: Int, _ bytes: ByteBuffer?) -> Void

    /// Installs `observer` for every piece verified from now on (replacing any earlier one) and returns the pieces
    /// verified before, atomically: each piece is in the returned set or reaches the observer, never both.
    ///
    /// The gated leech feeds its streaming SHA-256 of the staged files from it (`Docs/engine.md`, "write path").
    public func observeVerifiedPieces(_ observer: @escaping VerifiedPieceObserver) -> Bitfield {
        state.withLock { state in
            state.verifiedPieceObserver = observer
            return state.have
        }
    }
}
