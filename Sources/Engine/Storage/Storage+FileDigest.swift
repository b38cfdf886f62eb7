import CryptoPrimitives
import Synchronization
import SystemSupport

extension Storage {
    /// The identity of file `index` as it is open now (`fstat` of the storage's own descriptor, so it names the
    /// file whose bytes the storage reads); nil for a pad file or a file that is not open.
    public func fingerprint(ofFile index: Int) -> FileFingerprint? {
        guard files.indices.contains(index), files[index].fd >= 0 else { return nil }
        return try? FileFingerprint(descriptor: files[index].fd, path: files[index].displayPath)
    }

    /// The SHA-256 of file `index`'s bytes, read through the storage's descriptors on its thread pool, one chunk a
    /// job (so a long file never holds a pool thread for long); the calling task may be cancelled between chunks.
    ///
    /// - Throws: ``EngineError`` `io` when the file is missing or short; `CancellationError` when cancelled.
    public func sha256(ofFile index: Int, chunkLength: Int = 1 << 20) async throws -> [UInt8] {
        let file = layout.files[index]
        let digest = SharedDigest()
        var done: Int64 = 0
        while done < file.length {
            try Task.checkCancellation()
            let length = Int(min(Int64(chunkLength), file.length - done))
            let spans = layout.spans(offset: file.offset + done, length: length)
            try await threadPool.runIfActive { [self] in
                var chunk = [UInt8](repeating: 0, count: length)
                try chunk.withUnsafeMutableBytes { target in
                    try Self.readSpans(spans, into: target, files: files, layout: layout, directory: directory)
                }
                digest.update(chunk)
            }
            done += Int64(length)
        }
        return digest.finalize()
    }
}

/// One SHA-256 fed from thread-pool jobs that run one after another.
private final class SharedDigest: Sendable {
    private let digest = Mutex(IncrementalDigest(.sha256))

    func update(_ bytes: [UInt8]) { digest.withLock { $0.update(bytes) } }
    func finalize() -> [UInt8] { digest.withLock { $0.finalize() } }
}
