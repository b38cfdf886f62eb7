import SystemSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// File access for key files and allowlists: bounded reads, permission checks on the open descriptor, and writes
/// that create files with their final mode from the start.
enum SecureFile {
    static func exists(_ path: String) -> Bool { NewFile.exists(path) }

    /// Reads a whole regular file of at most `maximumSize` bytes.
    /// - Parameter requirePrivate: refuse the file if group or others have any permission on it (checked with
    ///   `fstat` on the descriptor that is then read, so a rename in between cannot fool it).
    static func readFile(path: String, maximumSize: Int, requirePrivate: Bool) throws(IdentityError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw IdentityError(.fileNotFound, path: path, "no such file; check the path") }
            throw IdentityError(.fileUnreadable, path: path, "cannot open: \(ErrnoText.of(code))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw IdentityError(.fileUnreadable, path: path, "cannot stat: \(ErrnoText.of(errno))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw IdentityError(.notARegularFile, path: path, "not a regular file; give the path of a file")
        }
        if requirePrivate, info.st_mode & 0o077 != 0 {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw IdentityError(
                .insecurePermissions, path: path,
                "private key is accessible by group or others (mode 0\(mode)); run `chmod 600 \(path)` and retry"
            )
        }
        guard Int(info.st_size) <= maximumSize else {
            throw IdentityError(
                .fileTooLarge, path: path, "\(info.st_size) bytes is more than the limit of \(maximumSize) bytes"
            )
        }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw IdentityError(.fileUnreadable, path: path, "read failed: \(ErrnoText.of(errno))")
            }
            if count == 0 { break }
            out.append(contentsOf: chunk[0..<count])
            // The file may have grown since fstat: stay bounded regardless.
            guard out.count <= maximumSize else {
                throw IdentityError(.fileTooLarge, path: path, "more than the limit of \(maximumSize) bytes")
            }
        }
        return out
    }

    /// Writes `bytes` to `path`, creating it with `mode` (less the umask) from the start
    /// (``NewFile/create(_:at:mode:replace:)``).
    static func writeFile(_ bytes: [UInt8], to path: String, mode: mode_t, replace: Bool) throws(IdentityError) {
        do {
            try NewFile.create(bytes, at: path, mode: mode, replace: replace)
        } catch {
            switch error.code {
            case .exists: throw IdentityError(.fileExists, path: path, "already exists; refusing to replace it")
            case .create:
                throw IdentityError(.writeFailed, path: path, "cannot create: \(ErrnoText.of(error.errno))")
            default: throw IdentityError(.writeFailed, path: path, "cannot write: \(ErrnoText.of(error.errno))")
            }
        }
    }
}
