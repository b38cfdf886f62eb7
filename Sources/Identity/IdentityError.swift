/// A failure in the Identity module: a key file or allowlist that cannot be read, written or parsed.
///
/// The description names the file (and the line, for allowlists) and says how to fix the problem, e.g.
/// `node.key: readable by group or others (mode 0644); run chmod 600 node.key`.
public struct IdentityError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Hashable {
        /// The file does not exist.
        case fileNotFound = "file not found"
        /// The file exists but could not be opened or read (permissions, I/O error).
        case fileUnreadable = "file unreadable"
        /// The path is a directory, a device or another non-regular file.
        case notARegularFile = "not a regular file"
        /// The file is larger than the parser accepts.
        case fileTooLarge = "file too large"
        /// A private key file is accessible by group or others.
        case insecurePermissions = "insecure permissions"
        /// Refused to overwrite an existing file (no `force`).
        case fileExists = "file exists"
        /// Creating or writing a file failed.
        case writeFailed = "write failed"
        /// A private key file does not hold exactly one well-formed key line.
        case malformedKeyFile = "malformed key file"
        /// An allowlist line (or a `.pub` line) does not parse.
        case malformedAllowlist = "malformed allowlist"
        /// A key or passkey appears on more than one allowlist line.
        case duplicateEntry = "duplicate entry"
        /// A node or passkey name is empty, too long or holds control characters.
        case invalidName = "invalid name"
        /// A signed announce cannot be formed from the given fields (wrong info-hash length, bad host or path).
        case invalidAnnounce = "invalid announce"
    }

    /// What went wrong.
    public var code: Code
    /// The file involved, if any, as the user named it.
    public var path: String?
    /// The 1-based line number, for allowlist and key-file parse errors.
    public var line: Int?
    /// A human-readable explanation that includes the fix.
    public var message: String

    /// Makes an error.
    public init(_ code: Code, path: String? = nil, line: Int? = nil, _ message: String) {
        self.code = code
        self.path = path
        self.line = line
        self.message = message
    }

    /// `path:line: message`, `path: message` or just `message`.
    public var description: String {
        switch (path, line) {
        case let (path?, line?): "\(path):\(line): \(message)"
        case let (path?, nil): "\(path): \(message)"
        case let (nil, line?): "line \(line): \(message)"
        case (nil, nil): message
        }
    }
}
