#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes small files that must have their final mode from the start (key files): created with `O_EXCL`, never
/// through a symbolic link, synced before they count as written.
public enum NewFile {
    /// Whether anything (a file, a directory, a dangling link) is at `path`.
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Writes `bytes` to `path`, creating it with `mode` (less the umask) from the start.
    ///
    /// Without `replace` the file is created with `O_EXCL` (fails if anything exists at `path`). With `replace`, a
    /// temporary file is created with `O_EXCL` beside `path` and renamed over it, so readers see the old or the new
    /// file, never a mix, and the old file's permissions never apply to the new contents.
    /// - Throws: ``SystemSupportError`` `.exists` (nothing written), `.create` or `.write` with the `errno`.
    public static func create(
        _ bytes: [UInt8], at path: String, mode: mode_t, replace: Bool
    ) throws(SystemSupportError) {
        let target = replace ? path + ".tmp-" + String(UInt64.random(in: 0...UInt64.max), radix: 16) : path
        let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else {
            let code = errno
            throw SystemSupportError(code == EEXIST ? .exists : .create, path, errno: code)
        }
        var written = 0
        var failure: Int32 = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                failure = errno
                break
            }
            written += count
        }
        if failure == 0, fsync(fd) != 0 { failure = errno }
        if close(fd) != 0, failure == 0 { failure = errno }
        if failure == 0, replace, rename(target, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(target)
            throw SystemSupportError(.write, path, errno: failure)
        }
    }
}
