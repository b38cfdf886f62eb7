import CryptoPrimitives
import Foundation

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

    /// Hashes the file open at `fd` from offset 0 to end of file with `pread` (the descriptor's offset is not used,
    /// so the caller can keep using the same descriptor). Memory is bounded by one chunk.
    ///
    /// - Parameters:
    ///   - fd: an open, readable descriptor of a regular file.
    ///   - needs: which digests to compute (both in the same pass).
    ///   - path: for messages.
    public static func compute(
        fileDescriptor fd: Int32, needs: Needs, path: String
    ) throws(SignatureGateError)
        -> FileDigests
    {
        #if os(Linux)
            _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        #endif
        let sha = needs.sha256 ? IncrementalDigest(.sha256) : nil
        let blake = needs.blake2b512 ? BLAKE2b(outputByteCount: 64) : nil
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 4096)
        defer { buffer.deallocate() }
        var offset: Int64 = 0
        while true {
            let n = pread(fd, buffer.baseAddress, chunkSize, off_t(offset))
            if n < 0 {
                if errno == EINTR { continue }
                throw SignatureGateError(.io, path, "read failed at byte \(offset): \(errnoText())")
            }
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            sha?.update(chunk)
            blake?.update(chunk)
            offset += Int64(n)
        }
        return FileDigests(size: offset, sha256: sha?.finalize(), blake2b512: blake?.finalize())
    }

    /// Opens `path` read-only (not following a final symlink) and hashes it.
    public static func compute(path: String, needs: Needs) throws(SignatureGateError) -> FileDigests {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw SignatureGateError(.io, path, "cannot open: \(errnoText())") }
        defer { close(fd) }
        return try compute(fileDescriptor: fd, needs: needs, path: path)
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
                throw SignatureGateError(.io, path, "read failed: \(errnoText())")
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
