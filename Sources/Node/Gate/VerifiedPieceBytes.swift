import NIOCore
import SignatureGate

/// A verified piece's buffer as the engine's storage reports it (`Storage.VerifiedPieceObserver`), shared with the
/// gate's streaming SHA-256 (``StreamingFileHasher``) without a copy: the hasher keeps it until it has hashed it. The
/// engine writes a new piece into that buffer only once nothing else holds it (it takes fresh storage otherwise).
struct VerifiedPieceBytes: SharedBytes {
    let buffer: ByteBuffer

    var count: Int { buffer.readableBytes }

    func withBytes(_ body: (UnsafeRawBufferPointer) -> Void) { buffer.withUnsafeReadableBytes(body) }
}
