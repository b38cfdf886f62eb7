/// A storage failure: what went wrong (``code``) and with which file or piece (``context``), plus the fix where
/// there is one.
public struct StorageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Hashable {
        /// A file path that could leave the save directory (`..`, `.`, empty or `/`-holding components, an absolute
        /// path), or that runs through a symlink.
        case unsafePath = "unsafe file path"
        /// The file list and the piece facts do not describe a torrent (negative lengths, wrong hash count, ...).
        case invalidLayout = "invalid torrent layout"
        /// A piece index, offset or length outside the torrent.
        case outOfRange = "outside the torrent"
        /// A write to a piece that is already verified; its data on disk is left alone.
        case pieceAlreadyComplete = "piece already complete"
        /// A system call on a file or directory failed.
        case io = "file I/O failed"
        /// A read-only storage was asked to write.
        case readOnly = "storage is read-only"
        /// A resume file that cannot be used: malformed, for another torrent, or the files changed since.
        case resumeRejected = "resume data rejected"
    }

    /// What went wrong.
    public var code: Code
    /// The file, piece or resume file concerned, the details and, where there is one, the fix.
    public var context: String
    /// The `errno` of a failed system call, if any.
    public var errno: Int32?

    /// Creates an error.
    public init(_ code: Code, _ context: String, errno: Int32? = nil) {
        self.code = code
        self.context = context
        self.errno = errno
    }

    public var description: String { "\(context): \(code.rawValue)" }
}
