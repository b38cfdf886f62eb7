import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Blocking file-system calls used by ``Storage``; call them on a thread pool, never on an event loop.
enum FileSystem {
    /// The current `errno` as a description.
    static func describe(_ code: Int32) -> String {
        ErrnoText.of(code)
    }

    static func ioError(_ what: String, _ path: String, errno code: Int32) -> EngineError {
        EngineError(.io, "\(path): \(what) failed: \(describe(code))", errno: code)
    }

    /// Opens (creating, when `create`) a directory and every parent of it. The path is the user's own save
    /// directory, so symlinks in it are followed.
    static func openRootDirectory(_ path: String, create: Bool) throws(EngineError) -> CInt {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { return fd }
        let code = errno
        guard code == ENOENT, create else { throw ioError("opening the save directory", path, errno: code) }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw ioError("creating the save directory", prefix, errno: errno)
            }
        }
        let created = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard created >= 0 else { throw ioError("opening the save directory", path, errno: errno) }
        return created
    }

    /// Opens the file at `components` under the directory `root`, one component at a time with `O_NOFOLLOW`, so
    /// that no symlink (planted before or during the walk) can lead outside `root`.
    ///
    /// - Returns: the file descriptor and whether the file was created now; nil when it does not exist and
    ///   `create` is false.
    static func openUnder(
        root: CInt,
        components: [String],
        create: Bool,
        displayPath: String
    ) throws(EngineError) -> (fd: CInt, created: Bool)? {
        var directory = root
        defer { if directory != root { close(directory) } }
        for component in components.dropLast() {
            var next = openat(directory, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 && errno == ENOENT && create {
                if mkdirat(directory, component, 0o755) != 0 && errno != EEXIST {
                    throw ioError("creating directory `\(component)`", displayPath, errno: errno)
                }
                next = openat(directory, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if next < 0 {
                let code = errno
                if code == ENOENT && !create { return nil }
                if code == ELOOP || code == ENOTDIR {
                    throw EngineError(
                        .unsafePath,
                        "\(displayPath): `\(component)` is a symlink or not a directory; remove it or choose "
                            + "another save directory",
                        errno: code
                    )
                }
                throw ioError("opening directory `\(component)`", displayPath, errno: code)
            }
            if directory != root { close(directory) }
            directory = next
        }
        let name = components.last!
        var created = false
        var fd = openat(directory, name, (create ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 && errno == ENOENT {
            guard create else { return nil }
            fd = openat(directory, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            created = fd >= 0
        }
        guard fd >= 0 else {
            let code = errno
            if code == ELOOP {
                throw EngineError(
                    .unsafePath,
                    "\(displayPath) is a symlink; the storage never follows links inside the save directory",
                    errno: code
                )
            }
            if code == EMFILE || code == ENFILE {
                throw EngineError(
                    .io,
                    "\(displayPath): too many open files; the storage keeps one descriptor per file of the torrent, "
                        + "so raise the limit (`ulimit -n`, systemd `LimitNOFILE=`)",
                    errno: code
                )
            }
            throw ioError("opening", displayPath, errno: code)
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw ioError("stat", displayPath, errno: code)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw EngineError(.unsafePath, "\(displayPath) exists and is not a regular file; move it away")
        }
        return (fd, created)
    }

    /// The canonical path an open descriptor refers to, from `/proc/self/fd`, or nil where there is no `/proc`.
    static func resolvedPath(of fd: CInt) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Makes the file at least `length` bytes long, allocating the blocks where the file system can.
    static func preallocate(_ fd: CInt, length: Int64, displayPath: String) throws(EngineError) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ioError("stat", displayPath, errno: errno) }
        guard Int64(info.st_size) < length else { return }
        #if os(Linux)
            let result = posix_fallocate(fd, 0, off_t(length))
            if result == 0 { return }
            guard result == EOPNOTSUPP || result == EINVAL else {
                throw ioError("preallocating \(length) bytes", displayPath, errno: result)
            }
        #endif
        guard ftruncate(fd, off_t(length)) == 0 else {
            throw ioError("extending to \(length) bytes", displayPath, errno: errno)
        }
    }

    /// A second descriptor of the open file `fd` with `O_DIRECT`, or -1 when the file system (tmpfs, some FUSE
    /// file systems) or the platform does not support it. Opened through `/proc/self/fd`, so it is the same inode
    /// as `fd` (no path is looked up again).
    static func reopenDirect(_ fd: CInt) -> CInt {
        guard DirectIO.flag != 0 else { return -1 }
        let direct = open("/proc/self/fd/\(fd)", O_RDWR | O_CLOEXEC | DirectIO.flag)
        guard direct >= 0 else { return -1 }
        var mine = stat()
        var theirs = stat()
        guard fstat(fd, &mine) == 0, fstat(direct, &theirs) == 0, mine.st_ino == theirs.st_ino,
            mine.st_dev == theirs.st_dev
        else {
            close(direct)
            return -1
        }
        return direct
    }

    /// Size and modification time (nanoseconds since the epoch) of an open file.
    static func sizeAndModificationTime(_ fd: CInt, displayPath: String) throws(EngineError) -> (Int64, Int64) {
        do {
            let fingerprint = try FileFingerprint(descriptor: fd, path: displayPath)
            return (fingerprint.size, fingerprint.modificationTime)
        } catch {
            throw ioError("stat", displayPath, errno: error.errno)
        }
    }

    /// Writes all of `bytes` at `offset`, retrying short writes and `EINTR`.
    static func writeAll(_ fd: CInt, _ bytes: UnsafeRawBufferPointer, at offset: Int64, displayPath: String)
        throws(EngineError)
    {
        var done = 0
        while done < bytes.count {
            let result = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + Int64(done)))
            if result < 0 {
                if errno == EINTR { continue }
                throw ioError("writing \(bytes.count) bytes at \(offset)", displayPath, errno: errno)
            }
            done += result
        }
    }

    /// Writes `bytes` at `offset` through an `O_DIRECT` descriptor, retrying `EINTR` and aligned short writes.
    ///
    /// - Returns: how many bytes were written; less than `bytes.count` when the kernel refused (for example
    ///   `EINVAL` for an alignment the device does not accept): the caller writes the rest through the page cache.
    static func writeDirect(_ fd: CInt, _ bytes: UnsafeRawBufferPointer, at offset: Int64) -> Int {
        var done = 0
        while done < bytes.count {
            let result = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + Int64(done)))
            if result < 0 {
                if errno == EINTR { continue }
                return done
            }
            if result == 0 || result % DirectIO.alignment != 0 { return done + result }
            done += result
        }
        return done
    }

    /// Reads up to `bytes.count` bytes at `offset`, retrying short reads and `EINTR`.
    ///
    /// - Returns: the number of bytes read; less than asked only at end of file.
    static func readAll(_ fd: CInt, _ bytes: UnsafeMutableRawBufferPointer, at offset: Int64, displayPath: String)
        throws(EngineError) -> Int
    {
        var done = 0
        while done < bytes.count {
            let result = pread(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + Int64(done)))
            if result < 0 {
                if errno == EINTR { continue }
                throw ioError("reading \(bytes.count) bytes at \(offset)", displayPath, errno: errno)
            }
            if result == 0 { break }
            done += result
        }
        return done
    }

    /// `fsync` with `EINTR` retried.
    static func sync(_ fd: CInt, displayPath: String) throws(EngineError) {
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw ioError("fsync", displayPath, errno: errno)
        }
    }

    /// Replaces the file at `path` with `bytes` atomically: write a temporary file beside it, fsync it, rename it
    /// over the target, fsync the directory. A crash leaves either the old file or the new one, never a mix.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ioError("creating", temporary, errno: errno) }
        do {
            try bytes.withUnsafeBytes { raw in
                try writeAll(fd, raw, at: 0, displayPath: temporary)
            }
            try sync(fd, displayPath: temporary)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw ioError("renaming \(temporary) to", path, errno: code)
        }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let directoryFD = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Reads a whole small file, refusing one larger than `limit` bytes. Nil when it does not exist.
    static func readSmallFile(_ path: String, limit: Int) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw ioError("opening", path, errno: errno)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ioError("stat", path, errno: errno) }
        guard Int64(info.st_size) <= Int64(limit) else {
            throw EngineError(.resumeRejected, "\(path) is \(info.st_size) bytes, over the \(limit)-byte limit")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        let count = try bytes.withUnsafeMutableBytes { raw in
            try readAll(fd, raw, at: 0, displayPath: path)
        }
        return Array(bytes[0..<count])
    }
}
