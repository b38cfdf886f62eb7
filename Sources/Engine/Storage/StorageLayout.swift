/// How a torrent's pieces lie on its files: the files in torrent order with their lengths, the piece length and
/// the SHA-1 of every piece. Everything ``Storage`` needs to know about a torrent, and nothing more.
///
/// Building a layout checks every path component, so that no file can be placed outside the save directory: a
/// component may not be empty, `.` or `..`, nor hold `/` or NUL. (The Metainfo module already sanitises paths when
/// it parses a torrent; this is the second, independent check at the place where files are opened.)
public struct StorageLayout: Sendable, Hashable {
    /// One file of the torrent.
    public struct File: Sendable, Hashable {
        /// Path components relative to the save directory.
        public let path: [String]
        /// Length in bytes.
        public let length: Int64
        /// Offset of the file's first byte in the torrent's concatenated content.
        public let offset: Int64
        /// A BEP 47 pad file: its bytes are zeros that exist only for alignment and are never written to disk.
        public let isPadFile: Bool

        /// The path joined with `/`.
        public var displayPath: String { path.joined(separator: "/") }
    }

    /// The files, in torrent order.
    public let files: [File]
    /// The nominal piece length.
    public let pieceLength: Int
    /// The total content length (pad files included).
    public let totalLength: Int64
    /// The SHA-1 digests of the pieces, 20 bytes each, concatenated.
    public let pieceHashes: [UInt8]
    /// The 20-byte info-hash; recorded in resume data so that one torrent's resume file is never used for another.
    public let infoHash: [UInt8]

    /// The number of pieces.
    public var pieceCount: Int { pieceHashes.count / 20 }

    /// A layout.
    ///
    /// - Parameters:
    ///   - files: `(path, length, isPadFile)` in torrent order; offsets are the running sum of the lengths.
    ///   - pieceLength: the nominal piece length (positive).
    ///   - pieceHashes: 20 bytes per piece: exactly `ceil(total / pieceLength)` digests.
    ///   - infoHash: the torrent's 20-byte info-hash.
    /// - Throws: ``EngineError`` with code `unsafePath` for a path that could leave the save directory, or
    ///   `invalidLayout` for lengths and hash counts that do not fit together.
    public init(
        files: [(path: [String], length: Int64, isPadFile: Bool)],
        pieceLength: Int,
        pieceHashes: [UInt8],
        infoHash: [UInt8]
    ) throws(EngineError) {
        guard pieceLength > 0 else { throw EngineError(.invalidLayout, "piece length \(pieceLength) is not positive") }
        guard infoHash.count == 20 else {
            throw EngineError(.invalidLayout, "info-hash has \(infoHash.count) bytes, expected 20")
        }
        guard !files.isEmpty else { throw EngineError(.invalidLayout, "the torrent has no files") }
        var built: [File] = []
        built.reserveCapacity(files.count)
        var offset: Int64 = 0
        var seen = Set<[String]>()
        for file in files {
            try Self.checkPath(file.path)
            guard file.length >= 0 else {
                throw EngineError(
                    .invalidLayout,
                    "\(file.path.joined(separator: "/")): negative length \(file.length)"
                )
            }
            if !file.isPadFile {
                guard seen.insert(file.path).inserted else {
                    throw EngineError(.unsafePath, "\(file.path.joined(separator: "/")) appears twice in the torrent")
                }
            }
            built.append(File(path: file.path, length: file.length, offset: offset, isPadFile: file.isPadFile))
            let (sum, overflow) = offset.addingReportingOverflow(file.length)
            guard !overflow else { throw EngineError(.invalidLayout, "total length overflows") }
            offset = sum
        }
        // A file may not also be a directory of another file (`a` and `a/b`).
        for file in built where !file.isPadFile {
            for cut in 1..<max(file.path.count, 1) where seen.contains(Array(file.path.prefix(cut))) {
                throw EngineError(
                    .unsafePath,
                    "\(file.displayPath) lies inside \(file.path.prefix(cut).joined(separator: "/")), which is a file"
                )
            }
        }
        guard offset > 0 else { throw EngineError(.invalidLayout, "the torrent's files are all empty") }
        let expected = (offset + Int64(pieceLength) - 1) / Int64(pieceLength)
        guard pieceHashes.count % 20 == 0, Int64(pieceHashes.count / 20) == expected else {
            throw EngineError(
                .invalidLayout,
                "\(pieceHashes.count) bytes of piece hashes for \(expected) pieces of \(pieceLength) bytes"
            )
        }
        self.files = built
        self.pieceLength = pieceLength
        self.totalLength = offset
        self.pieceHashes = pieceHashes
        self.infoHash = infoHash
    }

    /// Refuses path components that could name something outside the save directory.
    static func checkPath(_ path: [String]) throws(EngineError) {
        let shown = path.joined(separator: "/")
        guard !path.isEmpty else { throw EngineError(.unsafePath, "a file has an empty path") }
        for component in path {
            let bad =
                component.isEmpty || component == "." || component == ".."
                || component.utf8.contains(UInt8(ascii: "/")) || component.utf8.contains(0)
                || component.utf8.count > 255
            if bad {
                throw EngineError(
                    .unsafePath,
                    "\(shown): the component `\(component)` could leave the save directory; refusing the torrent"
                )
            }
        }
    }

    /// The size of piece `index` in bytes (the last piece may be shorter).
    public func pieceSize(_ index: Int) -> Int {
        precondition(index >= 0 && index < pieceCount, "piece \(index) out of range 0..<\(pieceCount)")
        if index == pieceCount - 1 { return Int(totalLength - Int64(index) * Int64(pieceLength)) }
        return pieceLength
    }

    /// The 20-byte SHA-1 of piece `index`.
    public func pieceHash(_ index: Int) -> ArraySlice<UInt8> {
        pieceHashes[index * 20..<(index + 1) * 20]
    }

    /// One contiguous run of bytes inside one file.
    public struct Span: Sendable, Hashable {
        /// Index into ``StorageLayout/files``.
        public var file: Int
        /// Offset inside that file.
        public var fileOffset: Int64
        /// Offset of the run's first byte relative to the start of the requested range.
        public var rangeOffset: Int
        /// Length of the run.
        public var length: Int
    }

    /// The file runs that make up `length` bytes at offset `begin` of piece `piece`, in order. Zero-length files
    /// contribute nothing.
    ///
    /// - Precondition: the range lies inside the piece.
    public func spans(piece: Int, begin: Int, length: Int) -> [Span] {
        spans(offset: Int64(piece) * Int64(pieceLength) + Int64(begin), length: length)
    }

    /// The file runs that make up `length` bytes at `offset` of the torrent's content (a run of several pieces, as
    /// an HTTP mirror is asked for), in order. Zero-length files contribute nothing.
    ///
    /// - Precondition: the range lies inside the content.
    public func spans(offset start: Int64, length: Int) -> [Span] {
        let end = start + Int64(length)
        var result: [Span] = []
        // Binary search for the last file whose offset is <= start.
        var low = 0
        var high = files.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if files[mid].offset <= start { low = mid } else { high = mid - 1 }
        }
        var index = low
        var position = start
        while position < end && index < files.count {
            let file = files[index]
            let fileEnd = file.offset + file.length
            if fileEnd > position {
                let runEnd = min(fileEnd, end)
                result.append(
                    Span(
                        file: index,
                        fileOffset: position - file.offset,
                        rangeOffset: Int(position - start),
                        length: Int(runEnd - position)
                    )
                )
                position = runEnd
            }
            index += 1
        }
        return result
    }

    /// The indexes of the pieces that hold at least one byte of file `index`.
    public func pieces(ofFile index: Int) -> Range<Int> {
        let file = files[index]
        guard file.length > 0 else { return 0..<0 }
        let first = Int(file.offset / Int64(pieceLength))
        let last = Int((file.offset + file.length - 1) / Int64(pieceLength))
        return first..<(last + 1)
    }
}
