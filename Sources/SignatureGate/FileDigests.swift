import CryptoPrimitives
import Dispatch
import Foundation
import Synchronization
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The digests of a file, computed in one streaming read pass.
public struct FileDigests: Sendable, Hashable {
    public var size: Int64
    /// SHA-256 (cosign, sigstore bundles, the audit log, torrents).
    public var sha256: [UInt8]?
    /// BLAKE2b-512 (prehashed minisign signatures).
    public var blake2b512: [UInt8]?

    public init(size: Int64, sha256: [UInt8]?, blake2b512: [UInt8]?) {
        self.size = size
        self.sha256 = sha256
        self.blake2b512 = blake2b512
    }

    /// Whether every digest `needs` asks for is here.
    public func covers(_ needs: Needs) -> Bool {
        (!needs.sha256 || sha256 != nil) && (!needs.blake2b512 || blake2b512 != nil)
    }

    /// Which digests to compute.
    public struct Needs: Sendable, Hashable {
        public var sha256: Bool
        public var blake2b512: Bool
        public init(sha256: Bool, blake2b512: Bool) {
            self.sha256 = sha256
            self.blake2b512 = blake2b512
        }
        public static let all = Needs(sha256: true, blake2b512: true)
    }

    /// The read size: large enough that syscalls cost nothing next to the hashing, small enough to stay in L2/L3.
    static let chunkSize = 1 << 20
    /// The read size with `O_DIRECT`: each read waits for the disk, so larger reads keep it busier (4 MiB reads ran
    /// at ≈ 1.5 GB/s on the test VM's disk, 1 MiB reads at ≈ 1 GB/s, below one core's SHA-256).
    static let directChunkSize = 4 << 20
    /// Chunks read ahead of the hashing.
    static let readAheadChunks = 4

    /// Hashes the file open at `fd` from offset 0 to end of file with `pread` (the descriptor's offset is not used,
    /// so the caller can keep using the same descriptor). A reader thread fills up to ``readAheadChunks`` chunks
    /// ahead while the calling thread hashes, so the copy out of the page cache (or the disk wait) overlaps with the
    /// hashing and a verification costs about one SHA-256 pass. Memory is bounded by those chunks; the reader has
    /// stopped when this returns.
    ///
    /// With `bypassingPageCache`, the file is read with `O_DIRECT` (set on the descriptor for the pass and cleared
    /// again before this returns): for a file that was itself written with `O_DIRECT`, as the engine writes pieces,
    /// that reads the disk into the hashing buffers without filling the page cache, which on some machines costs
    /// more CPU than the SHA-256. The kernel writes back any dirty cached pages of the range before a direct read,
    /// so the bytes are the file's either way. Where the file system refuses `O_DIRECT`, and for the unaligned tail,
    /// the pass goes on with ordinary reads.
    ///
    /// - Parameters:
    ///   - fd: an open, readable descriptor of a regular file.
    ///   - needs: which digests to compute (both in the same pass).
    ///   - path: for messages.
    ///   - bypassingPageCache: read with `O_DIRECT` where the file system allows it.
    public static func compute(
        fileDescriptor fd: Int32, needs: Needs, path: String, bypassingPageCache: Bool = false
    ) throws(SignatureGateError)
        -> FileDigests
    {
        #if os(Linux)
            _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
            let flags = fcntl(fd, F_GETFL)
            let direct =
                bypassingPageCache && DirectIO.flag != 0 && flags >= 0
                && fcntl(fd, F_SETFL, flags | DirectIO.flag) == 0
            // Callers go on using the descriptor (identity checks, copies, whole-file reads): clear it again.
            defer { if direct { _ = fcntl(fd, F_SETFL, flags) } }
        #else
            let direct = false
        #endif
        let sha = needs.sha256 ? IncrementalDigest(.sha256) : nil
        let blake = needs.blake2b512 ? BLAKE2b(outputByteCount: 64) : nil
        let ahead = ReadAhead()
        let reader = Thread { ahead.read(fd, direct: direct) }
        reader.name = "swtorrent-digest-read"
        reader.start()
        defer { ahead.finished.wait() }
        var sequence = 0
        var offset: Int64 = 0
        while true {
            ahead.filledSignal.wait()
            while var chunk = ahead.filled.withLock({ $0.removeValue(forKey: sequence) }) {
                if let code = chunk.error {
                    throw SignatureGateError(.io, path, "read failed at byte \(offset): \(ErrnoText.of(code))")
                }
                if chunk.count == 0 {
                    return FileDigests(size: offset, sha256: sha?.finalize(), blake2b512: blake?.finalize())
                }
                chunk.bytes.withUnsafeBytes { raw in
                    let bytes = UnsafeRawBufferPointer(rebasing: raw[chunk.start..<chunk.start + chunk.count])
                    sha?.update(bytes)
                    blake?.update(bytes)
                }
                offset += Int64(chunk.count)
                sequence += 1
                // Hand the buffer back without keeping a reference, so the reader refills it in place.
                ahead.free.withLock { list in
                    list.append(chunk.bytes)
                    chunk.bytes = []
                }
                ahead.freeSignal.signal()
            }
        }
    }

    /// Opens `path` read-only (not following a final symlink) and hashes it.
    public static func compute(path: String, needs: Needs) throws(SignatureGateError) -> FileDigests {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw SignatureGateError(.io, path, "cannot open: \(ErrnoText.of())") }
        defer { close(fd) }
        return try compute(fileDescriptor: fd, needs: needs, path: path)
    }

    /// The reader side of ``compute(fileDescriptor:needs:path:)``: chunks in file order, by sequence number.
    final class ReadAhead: Sendable {
        struct Chunk: Sendable {
            var bytes: [UInt8]
            /// Where the data starts in `bytes` (non-zero when the buffer was aligned for `O_DIRECT`).
            var start: Int
            /// Bytes read; 0 at end of file.
            var count: Int
            /// `errno` when the read failed (the last chunk).
            var error: Int32?
        }

        let filled = Mutex<[Int: Chunk]>([:])
        let filledSignal = DispatchSemaphore(value: 0)
        let free = Mutex<[[UInt8]]>([])
        let freeSignal = DispatchSemaphore(value: 0)
        /// Signalled once when the reader has stopped (it never touches the descriptor after that).
        let finished = DispatchSemaphore(value: 0)

        /// Reads `fd` from offset 0 to its end, at most ``FileDigests/readAheadChunks`` chunks ahead of the hashing;
        /// ends after posting the end-of-file (count 0) or failure chunk. With `direct` (`O_DIRECT` is set on `fd`),
        /// each read goes to a 4 KiB-aligned part of its buffer; a read the kernel refuses as unaligned (`EINVAL`:
        /// the file system does not do direct I/O, or the offset after a short read at the end) clears `O_DIRECT`
        /// and is retried as an ordinary read.
        func read(_ fd: Int32, direct: Bool) {
            var direct = direct
            let alignment = DirectIO.alignment
            let chunkSize = direct ? FileDigests.directChunkSize : FileDigests.chunkSize
            defer { finished.signal() }
            var allocated = 0
            var offset: Int64 = 0
            var sequence = 0
            while true {
                var buffer = free.withLock { $0.popLast() } ?? []
                if buffer.isEmpty {
                    if allocated < FileDigests.readAheadChunks {
                        buffer = [UInt8](repeating: 0, count: chunkSize + (direct ? alignment : 0))
                        allocated += 1
                    } else {
                        freeSignal.wait()
                        continue
                    }
                }
                var n = 0
                var start = 0
                var failure: Int32?
                buffer.withUnsafeMutableBytes { raw in
                    let address = Int(bitPattern: raw.baseAddress)
                    let aligned = (alignment - address % alignment) % alignment
                    while true {
                        start = direct && raw.count >= aligned + chunkSize ? aligned : 0
                        let length = min(chunkSize, raw.count - start)
                        n = pread(fd, raw.baseAddress! + start, length, off_t(offset))
                        if n < 0 && errno == EINTR { continue }
                        if n < 0 && errno == EINVAL && direct {
                            direct = false
                            let flags = fcntl(fd, F_GETFL)
                            if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~DirectIO.flag) }
                            continue
                        }
                        if n < 0 { failure = errno }
                        return
                    }
                }
                let chunk = Chunk(bytes: buffer, start: start, count: max(n, 0), error: failure)
                buffer = []
                filled.withLock { $0[sequence] = chunk }
                filledSignal.signal()
                if n <= 0 { return }
                offset += Int64(n)
                sequence += 1
            }
        }
    }

    /// Reads the whole file at `fd` (for legacy minisign signatures), refusing more than `limit` bytes.
    static func readAll(fileDescriptor fd: Int32, limit: Int, path: String) throws(SignatureGateError) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var offset: Int64 = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SignatureGateError(.io, path, "read failed: \(ErrnoText.of())")
            }
            if n == 0 { return out }
            guard out.count + n <= limit else {
                throw SignatureGateError(.inputTooLarge, path, "larger than \(limit) bytes")
            }
            out.append(contentsOf: buffer[0..<n])
            offset += Int64(n)
        }
    }
}
