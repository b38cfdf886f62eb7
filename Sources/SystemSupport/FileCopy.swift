#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one `pread`/`write` copy loop: used where the release gate copies a verified file to another file system and
/// where a leech prefills its staging area from files it released before. (The quarantine's cross-file-system move
/// still uses `FileManager.copyItem`.)
public enum FileCopy {
    /// The buffer size: large enough that the system calls cost nothing next to the copying.
    public static let bufferSize = 1 << 20

    /// Copies `source` from offset 0 to `target` (at its current offset), retrying `EINTR` and short writes.
    ///
    /// - Parameters:
    ///   - source: a descriptor open for reading; its offset is not used (`pread`), so the caller can share it.
    ///   - target: a descriptor open for writing.
    ///   - length: bytes to copy; nil copies to the end of `source`.
    ///   - sourcePath, targetPath: for errors.
    ///   - chunk: sees every chunk after it was read and before it is written (e.g. to hash the bytes copied).
    /// - Returns: the number of bytes copied.
    /// - Throws: ``SystemSupportError`` `.read` / `.write` with the `errno`, or `.shortInput` when `source` ends
    ///   before `length` bytes.
    @discardableResult
    public static func copy(
        from source: CInt, _ sourcePath: String, to target: CInt, _ targetPath: String, length: Int64? = nil,
        chunk: (UnsafeRawBufferPointer) -> Void = { _ in }
    ) throws(SystemSupportError) -> Int64 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: DirectIO.alignment)
        defer { buffer.deallocate() }
        var copied: Int64 = 0
        while length.map({ copied < $0 }) ?? true {
            let want = length.map { min(buffer.count, Int($0 - copied)) } ?? buffer.count
            let n = pread(source, buffer.baseAddress, want, off_t(copied))
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw SystemSupportError(.read, sourcePath, errno: errno) }
            if n == 0 {
                if length == nil { break }
                throw SystemSupportError(.shortInput, sourcePath, errno: 0)
            }
            chunk(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            var done = 0
            while done < n {
                let w = write(target, buffer.baseAddress! + done, n - done)
                if w < 0, errno == EINTR { continue }
                guard w > 0 else { throw SystemSupportError(.write, targetPath, errno: w < 0 ? errno : ENOSPC) }
                done += w
            }
            copied += Int64(n)
        }
        return copied
    }
}
