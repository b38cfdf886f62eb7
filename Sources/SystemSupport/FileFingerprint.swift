#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// What identifies a version of a file without reading it: its device and inode (which file it is), size and
/// modification time (whether it was written to), and status-change time (renamed over, re-linked, chmod). Resume
/// checks, the release gate and the tracker's allowlist watcher compare two of these instead of re-reading bytes.
public struct FileFingerprint: Sendable, Hashable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    /// Nanoseconds since the epoch.
    public var modificationTime: Int64
    /// Status-change time (`st_ctim`), nanoseconds since the epoch.
    public var changeTime: Int64
    /// True for a regular file.
    public var isRegularFile: Bool

    /// The fingerprint of `info`, as filled by `stat`, `fstat` or `lstat`.
    public init(_ info: stat) {
        #if canImport(Darwin)
            let time = info.st_mtimespec
            let change = info.st_ctimespec
        #else
            let time = info.st_mtim
            let change = info.st_ctim
        #endif
        self.device = UInt64(info.st_dev)
        self.inode = UInt64(info.st_ino)
        self.size = Int64(info.st_size)
        self.modificationTime = Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
        self.changeTime = Int64(change.tv_sec) * 1_000_000_000 + Int64(change.tv_nsec)
        self.isRegularFile = (info.st_mode & S_IFMT) == S_IFREG
    }

    /// The fingerprint of an open file (`fstat`).
    ///
    /// - Throws: ``SystemSupportError`` `.stat` with the `errno`.
    public init(descriptor fd: CInt, path: String) throws(SystemSupportError) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemSupportError(.stat, path, errno: errno) }
        self.init(info)
    }

    /// The fingerprint of the file at `path`; nil when there is no such file (or it cannot be examined).
    ///
    /// - Parameter followingSymlinks: fingerprint what a final symbolic link points to (`stat`: a configuration
    ///   file that is a link managed by other tools); by default the link itself (`lstat`).
    public init?(path: String, followingSymlinks: Bool = false) {
        var info = stat()
        guard (followingSymlinks ? stat(path, &info) : lstat(path, &info)) == 0 else { return nil }
        self.init(info)
    }

    /// Whether `other` is the same file (device and inode).
    public func isSameFile(as other: FileFingerprint) -> Bool {
        device == other.device && inode == other.inode
    }

    /// Whether `other` has the same size and modification time (not written to, as far as the file system says).
    public func hasSameContentStamp(as other: FileFingerprint) -> Bool {
        size == other.size && modificationTime == other.modificationTime
    }
}
