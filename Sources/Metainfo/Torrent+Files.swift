extension Torrent {
    /// One file of a torrent.
    ///
    /// ``relativePath`` is the place to write it, relative to the download directory, already sanitised so that
    /// joining its components under that directory can never leave it: no component is empty, `.` or `..`, none
    /// contains `/`, `\`, NUL or another control character, none is longer than 255 bytes, and no two files share a
    /// path or sit inside one another. See `Docs/metainfo.md` ("Path safety").
    public struct File: Sendable, Hashable {
        /// Path components relative to the download directory. For a multi-file torrent the first component is
        /// the torrent's name; for a single-file torrent it is just the name.
        public let relativePath: [String]
        /// Byte length (zero for symlinks).
        public let length: Int64
        /// Offset of the file's first byte in the torrent's concatenated data.
        public let offset: Int64
        /// BEP 47 `attr` `p`: padding that exists only to align the next file to a piece boundary; never written.
        public let isPadFile: Bool
        /// BEP 47 `attr` `x`.
        public let isExecutable: Bool
        /// BEP 47 `attr` `h`.
        public let isHidden: Bool
        /// BEP 47 `attr` `l`: the link target, sanitised like a path and relative to the download directory's
        /// torrent root (the first component of ``relativePath`` for a multi-file torrent).
        public let symlinkTarget: [String]?
        /// True if sanitising changed the path as it appeared in the torrent.
        public let wasSanitised: Bool

        /// `relativePath` joined with `/`.
        public var path: String { relativePath.joined(separator: "/") }

        public init(
            relativePath: [String], length: Int64, offset: Int64, isPadFile: Bool = false, isExecutable: Bool = false,
            isHidden: Bool = false, symlinkTarget: [String]? = nil, wasSanitised: Bool = false
        ) {
            self.relativePath = relativePath
            self.length = length
            self.offset = offset
            self.isPadFile = isPadFile
            self.isExecutable = isExecutable
            self.isHidden = isHidden
            self.symlinkTarget = symlinkTarget
            self.wasSanitised = wasSanitised
        }
    }
}

/// Turns path components from a torrent into components that are safe to join under a directory.
///
/// Per component: an empty component is dropped; a control byte (0x00-0x1F, 0x7F) refuses the torrent; `/` and
/// `\` are removed (a component of nothing but separators becomes `_`); a component that is then `.` or `..` is
/// dropped; invalid UTF-8 becomes U+FFFD; the bidirectional-override characters U+200E, U+200F and U+202A-U+202E
/// are removed (they disguise file extensions); more than 255 bytes refuses the torrent.
enum PathSanitizer {
    static let maximumComponentBytes = 255
    private static let bidiControls: Set<Unicode.Scalar> = [
        "\u{200E}", "\u{200F}", "\u{202A}", "\u{202B}", "\u{202C}", "\u{202D}", "\u{202E}",
    ]

    /// The sanitised component, or nil if it is dropped. Throws for components that cannot be made safe.
    static func component(_ raw: [UInt8], field: String) throws(MetainfoError) -> String? {
        if raw.isEmpty { return nil }
        if let bad = raw.first(where: { $0 < 0x20 || $0 == 0x7f }) {
            throw MetainfoError(
                .unsafePath,
                "\(field) contains the control character 0x\(String(bad, radix: 16)), which no file name may hold",
                field: field)
        }
        var bytes = raw.filter { $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "\\") }
        if bytes.isEmpty { bytes = [UInt8(ascii: "_")] }
        if bytes == [UInt8(ascii: ".")] || bytes == [UInt8(ascii: "."), UInt8(ascii: ".")] { return nil }
        var text = String(decoding: bytes, as: UTF8.self)
        if text.unicodeScalars.contains(where: { bidiControls.contains($0) }) {
            var scalars = String.UnicodeScalarView()
            scalars.append(contentsOf: text.unicodeScalars.filter { !bidiControls.contains($0) })
            text = String(scalars)
            if text.isEmpty || text == "." || text == ".." { text = "_" }
        }
        if text.utf8.count > maximumComponentBytes {
            throw MetainfoError(
                .unsafePath,
                "\(field) has a component of \(text.utf8.count) bytes; file names are limited to "
                    + "\(maximumComponentBytes) bytes",
                field: field)
        }
        return text
    }

    /// Sanitises a list of components; `changed` tells whether the result differs from the input.
    static func path(_ raw: [[UInt8]], field: String) throws(MetainfoError) -> (components: [String], changed: Bool) {
        var out: [String] = []
        var changed = false
        for component in raw {
            guard let clean = try self.component(component, field: field) else {
                changed = true
                continue
            }
            if !clean.utf8.elementsEqual(component) { changed = true }
            out.append(clean)
        }
        return (out, changed)
    }
}
