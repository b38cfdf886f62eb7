import SystemSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One file of the content of a torrent being made, in torrent order.
public struct ContentFile: Sendable, Hashable {
    /// The path inside the torrent as components (for a single-file torrent, just the name).
    public var path: [String]
    /// Where the bytes are read from on disk.
    public var sourcePath: String
    /// The size in bytes, taken when the content was scanned.
    public var length: Int64

    /// Creates a file entry.
    public init(path: [String], sourcePath: String, length: Int64) {
        self.path = path
        self.sourcePath = sourcePath
        self.length = length
    }
}

/// The files a torrent is made of: one file, or every file under a directory in a deterministic order.
///
/// Rules for a directory (see `Docs/make.md`):
/// - Files are ordered by their path inside the torrent, compared component by component as raw UTF-8 bytes
///   (`a/z` before `a.b`, because the component `a` sorts before `a.b`). The order does not depend on the file
///   system, the locale or the order `readdir` returns.
/// - Hidden files (names starting with `.`) are included like any other file: nothing is skipped silently.
/// - Empty files are included (length 0); empty directories are left out, because a v1 torrent cannot hold them.
/// - A symbolic link to a regular file is followed: the torrent holds the target's bytes under the link's name.
///   A link to a directory, a dangling link, and special files (FIFOs, sockets, devices) are refused with an error
///   naming the path, so a torrent never silently misses content or loops.
/// - Names must be valid UTF-8 (BEP 3) and are refused otherwise.
public struct TorrentContent: Sendable, Hashable {
    /// The torrent's `name`: the last component of the path that was scanned.
    public var name: String
    /// The files in torrent order.
    public var files: [ContentFile]
    /// Whether the content is one file given directly (a single-file torrent), rather than a directory.
    public var isSingleFile: Bool

    /// Limits that keep a scan bounded.
    public static let maximumFileCount = 1_000_000
    /// The deepest directory nesting accepted below the scanned directory.
    public static let maximumDepth = 128

    /// Creates content from a list of files in the order given.
    public init(name: String, files: [ContentFile], isSingleFile: Bool) {
        self.name = name
        self.files = files
        self.isSingleFile = isSingleFile
    }

    /// The total size of all files in bytes.
    public var totalSize: Int64 { files.reduce(0) { $0 + $1.length } }

    /// Scans a file or a directory.
    ///
    /// - Parameter path: a regular file (or a link to one), or a directory.
    /// - Returns: the content, with a directory's files sorted as described on ``TorrentContent``.
    /// - Throws: ``MetainfoError`` with ``MetainfoError/Code/fileSystem`` when the path or something under it cannot
    ///   be read, ``MetainfoError/Code/invalidArgument`` for an empty directory, an unsupported file type or a
    ///   name that is not UTF-8, ``MetainfoError/Code/tooLarge`` past ``maximumFileCount`` or ``maximumDepth``.
    public static func scan(_ path: String) throws(MetainfoError) -> TorrentContent {
        guard !path.isEmpty else { throw MetainfoError(.invalidArgument, "no path given; name a file or a directory") }
        var info = stat()
        guard stat(path, &info) == 0 else { throw fileError(path, errno, doing: "cannot read") }
        let name = try torrentName(for: path)
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            guard access(path, R_OK) == 0 else { throw fileError(path, errno, doing: "cannot read") }
            let file = ContentFile(path: [name], sourcePath: path, length: Int64(info.st_size))
            return TorrentContent(name: name, files: [file], isSingleFile: true)
        case S_IFDIR:
            var found: [(key: [[UInt8]], file: ContentFile)] = []
            try walk(directory: path, components: [], depth: 0, into: &found)
            guard !found.isEmpty else {
                throw MetainfoError(
                    .invalidArgument,
                    "directory has no files (empty directories are not part of a torrent); add a file to it",
                    source: path
                )
            }
            found.sort { lhs, rhs in lhs.key.lexicographicallyPrecedes(rhs.key) { $0.lexicographicallyPrecedes($1) } }
            return TorrentContent(name: name, files: found.map(\.file), isSingleFile: false)
        default:
            throw MetainfoError(
                .invalidArgument,
                "not a regular file or a directory (\(fileTypeName(info.st_mode))); name a file or a directory",
                source: path
            )
        }
    }

    /// Orders torrent paths as `scan` does: component by component, each compared as raw UTF-8 bytes.
    public static func precedes(_ lhs: [String], _ rhs: [String]) -> Bool {
        lhs.lazy.map { Array($0.utf8) }.lexicographicallyPrecedes(rhs.lazy.map { Array($0.utf8) }) {
            $0.lexicographicallyPrecedes($1)
        }
    }

    private static func torrentName(for path: String) throws(MetainfoError) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        var last = trimmed.split(separator: "/").last.map(String.init) ?? ""
        if last.isEmpty || last == "." || last == ".." {
            guard let resolved = realpath(path, nil) else { throw fileError(path, errno, doing: "cannot resolve") }
            defer { free(resolved) }
            last = String(cString: resolved).split(separator: "/").last.map(String.init) ?? ""
        }
        guard !last.isEmpty else {
            throw MetainfoError(.invalidArgument, "cannot make a torrent of the root directory; name a subdirectory")
        }
        return last
    }

    private static func walk(
        directory: String,
        components: [[UInt8]],
        depth: Int,
        into found: inout [(key: [[UInt8]], file: ContentFile)]
    ) throws(MetainfoError) {
        guard depth <= maximumDepth else {
            throw MetainfoError(.tooLarge, "directories nested deeper than \(maximumDepth) levels", source: directory)
        }
        guard let handle = opendir(directory) else { throw fileError(directory, errno, doing: "cannot list") }
        defer { closedir(handle) }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(handle) else {
                if errno != 0 { throw fileError(directory, errno, doing: "cannot list") }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            names.append(name)
        }
        for name in names {
            let childPath = directory + "/" + String(decoding: name, as: UTF8.self)
            guard String(validating: name, as: UTF8.self) != nil else {
                throw MetainfoError(
                    .invalidArgument,
                    "file name is not valid UTF-8, which a torrent cannot hold; rename it",
                    source: childPath
                )
            }
            var linkInfo = stat()
            guard lstat(childPath, &linkInfo) == 0 else { throw fileError(childPath, errno, doing: "cannot read") }
            var info = linkInfo
            let isLink = linkInfo.st_mode & S_IFMT == S_IFLNK
            if isLink {
                guard stat(childPath, &info) == 0 else {
                    throw MetainfoError(
                        .invalidArgument,
                        "symbolic link points to nothing (\(ErrnoText.of(errno))); remove it or fix its target",
                        source: childPath
                    )
                }
            }
            let key = components + [name]
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                guard access(childPath, R_OK) == 0 else { throw fileError(childPath, errno, doing: "cannot read") }
                guard found.count < maximumFileCount else {
                    throw MetainfoError(.tooLarge, "more than \(maximumFileCount) files", source: directory)
                }
                let file = ContentFile(
                    path: key.map { String(decoding: $0, as: UTF8.self) },
                    sourcePath: childPath,
                    length: Int64(info.st_size)
                )
                found.append((key, file))
            case S_IFDIR where isLink:
                throw MetainfoError(
                    .invalidArgument,
                    "symbolic link to a directory is not followed (it could loop or pull in unrelated files); "
                        + "replace it with the directory itself or remove it",
                    source: childPath
                )
            case S_IFDIR:
                try walk(directory: childPath, components: key, depth: depth + 1, into: &found)
            default:
                throw MetainfoError(
                    .invalidArgument,
                    "\(fileTypeName(info.st_mode)) cannot be part of a torrent; move it out of the directory",
                    source: childPath
                )
            }
        }
    }

    static func fileError(_ path: String, _ code: Int32, doing what: String) -> MetainfoError {
        MetainfoError(.fileSystem, "\(what): \(ErrnoText.of(code))", source: path)
    }


    private static func fileTypeName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFLNK: "a symbolic link"
        default: "a special file"
        }
    }
}
