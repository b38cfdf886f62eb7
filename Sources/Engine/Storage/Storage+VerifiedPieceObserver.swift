import PeerWire

extension Storage {
    /// Called on a storage thread each time a piece joins ``have``, after its bytes are on disk: with the piece's
    /// bytes when the storage holds them in memory (a whole piece written by ``writeVerified(piece:data:on:)``; the
    /// pointer is valid only during the call, the buffer goes back to its owner afterwards), or nil when it does not
    /// (``verify(piece:)`` read the piece back from disk). Must be quick and must not call back into the storage.
    public typealias VerifiedPieceObserver = @Sendable (_ piece: Int, _ bytes: UnsafeRawBufferPointer?) -> Void

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
