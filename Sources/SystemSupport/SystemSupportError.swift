/// The one error type of SystemSupport: a system call that failed, with the file and the `errno` text.
public struct SystemSupportError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// `read`/`pread` failed.
        case read = "read failed"
        /// `write` failed or wrote nothing.
        case write = "write failed"
        /// The input ended before the length the caller asked for.
        case shortInput = "the file shrank while it was copied"
        /// `stat`/`fstat` failed.
        case stat = "cannot stat"
        /// A file to create exists already.
        case exists = "already exists"
        /// `open` with `O_CREAT` failed for another reason.
        case create = "cannot create"
    }

    public var code: Code
    /// The file concerned.
    public var path: String
    /// The `errno` value (0 for ``Code/shortInput``).
    public var errno: Int32

    public init(_ code: Code, _ path: String, errno: Int32) {
        self.code = code
        self.path = path
        self.errno = errno
    }

    /// `read failed: No space left on device` (the path is the caller's to add: callers name the file themselves).
    public var reason: String { errno == 0 ? code.rawValue : "\(code.rawValue): \(ErrnoText.of(errno))" }

    public var description: String { "\(path): \(reason)" }
}
