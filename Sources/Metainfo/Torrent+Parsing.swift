import Bencode
import SwarmPrimitives
import SystemSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Torrent {
    /// Parses a `.torrent` from its bytes.
    ///
    /// - Throws: ``MetainfoError`` naming the key and the problem; ``MetainfoError/source`` is not set (use
    ///   ``init(contentsOfFile:)`` or ``MetainfoError/in(_:)`` to attach a file name).
    public init<Bytes: Collection>(bytes input: Bytes) throws(MetainfoError) where Bytes.Element == UInt8 {
        guard input.count <= Self.maximumFileSize else {
            throw MetainfoError(
                .tooLarge, "the torrent is \(input.count) bytes; the limit is \(Self.maximumFileSize) bytes")
        }
        var options = BencodeDecoder.Options.lenient
        options.maxInputSize = Self.maximumFileSize
        options.allowTrailingBytes = true
        let document: BencodeDocument
        do {
            document = try BencodeDecoder(options: options).decodeDocument(input)
        } catch {
            throw MetainfoError(error)
        }
        // Whitespace after the dictionary (a final newline added by an editor or a transfer) is tolerated; the
        // info-hash never covers it. Anything else after the value is refused.
        let end = document.span.range.upperBound
        if let extra = document.bytes[end...].firstIndex(where: { !Self.isWhitespace($0) }) {
            throw MetainfoError(BencodeError(.trailingBytes, at: extra))
        }
        self = try TorrentParser(document: document).parse()
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d
    }

    /// Reads and parses a `.torrent` file. Errors carry `path` as their ``MetainfoError/source``.
    public init(contentsOfFile path: String) throws(MetainfoError) {
        let bytes: [UInt8]
        do {
            bytes = try readFile(path, limit: Self.maximumFileSize)
        } catch {
            throw error.in(path)
        }
        do {
            try self.init(bytes: bytes)
        } catch {
            throw error.in(path)
        }
    }
}

/// Reads a whole file, refusing anything larger than `limit` before reading it.
func readFile(_ path: String, limit: Int) throws(MetainfoError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        throw MetainfoError(.fileSystem, "cannot open: \(ErrnoText.of())")
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
        throw MetainfoError(.fileSystem, "cannot stat: \(ErrnoText.of())")
    }
    guard (info.st_mode & S_IFMT) == S_IFREG else {
        throw MetainfoError(.fileSystem, "not a regular file")
    }
    guard Int(info.st_size) <= limit else {
        throw MetainfoError(.tooLarge, "the file is \(info.st_size) bytes; the limit is \(limit) bytes")
    }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw MetainfoError(.fileSystem, "cannot read: \(ErrnoText.of())")
        }
        if count == 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
        if bytes.count > limit {
            throw MetainfoError(.tooLarge, "the file is larger than the limit of \(limit) bytes")
        }
    }
    return bytes
}

/// The parsing rules of `Docs/metainfo.md`, one step per method.
struct TorrentParser {
    let document: BencodeDocument

    private struct RawFile {
        var rawPath: [[UInt8]]
        var file: Torrent.File
    }

    func parse() throws(MetainfoError) -> Torrent {
        let root = document.value
        guard root.entries != nil else {
            throw MetainfoError(
                .invalidStructure, "not a torrent: the top level is \(Self.describe(root)), not a dictionary")
        }
        guard let info = root["info"] else {
            throw MetainfoError(.missingField, "not a torrent: there is no info dictionary", field: "info")
        }
        guard info.entries != nil, let infoSlice = document.rawBytes(atPath: ["info"]) else {
            throw MetainfoError(
                .invalidStructure, "info is \(Self.describe(info)), not a dictionary", field: "info")
        }
        let infoBytes = Array(infoSlice)
        let infoHash = InfoHash(hashing: infoBytes)

        // Version: v1, hybrid (v1 keys and v2 keys), or v2-only (refused).
        var hasV2 = info["file tree"] != nil
        if let metaVersion = info["meta version"] {
            guard let number = metaVersion.integer, number == 1 || number == 2 else {
                throw MetainfoError(
                    .unsupported,
                    "info.meta version is \(Self.describe(metaVersion)); only meta version 2 (BEP 52) is understood",
                    field: "info.meta version")
            }
            if number == 2 { hasV2 = true }
        }
        let infoHashV2 = hasV2 ? InfoHashV2(hashing: infoBytes) : nil
        if let infoHashV2, info["pieces"] == nil {
            throw MetainfoError(
                .unsupported,
                "v2-only torrents are not supported yet (v2 info-hash \(infoHashV2.hex)); "
                    + "create it as a hybrid (v1+v2) or v1 torrent",
                field: "info.pieces", infoHashV2: infoHashV2)
        }

        // Name.
        guard let nameValue = info["name"] else {
            throw MetainfoError(.missingField, "info.name is missing: the torrent has no name", field: "info.name")
        }
        guard let rawName = nameValue.bytes, !rawName.isEmpty else {
            throw MetainfoError(
                .invalidValue, "info.name is \(Self.describe(nameValue)), not a non-empty string", field: "info.name")
        }
        let name = try PathSanitizer.component(rawName, field: "info.name") ?? infoHash.hex

        // Piece length and hashes.
        guard let pieceLengthValue = info["piece length"] else {
            throw MetainfoError(.missingField, "info.piece length is missing", field: "info.piece length")
        }
        guard let pieceLength64 = pieceLengthValue.integer else {
            throw MetainfoError(
                .invalidPieceLength, "info.piece length is \(Self.describe(pieceLengthValue)), not an integer",
                field: "info.piece length")
        }
        guard pieceLength64 > 0, pieceLength64 & (pieceLength64 - 1) == 0 else {
            throw MetainfoError(
                .invalidPieceLength, "piece length \(pieceLength64) is not a power of two",
                field: "info.piece length")
        }
        guard pieceLength64 >= Torrent.minimumPieceLength, pieceLength64 <= Torrent.maximumPieceLength else {
            throw MetainfoError(
                .invalidPieceLength,
                "piece length \(pieceLength64) is outside the supported range \(Torrent.minimumPieceLength) "
                    + "(16 KiB) to \(Torrent.maximumPieceLength) (512 MiB)",
                field: "info.piece length")
        }
        let pieceLength = Int(pieceLength64)
        guard let piecesValue = info["pieces"], let pieceHashes = piecesValue.bytes else {
            throw MetainfoError(
                .invalidStructure, "info.pieces is \(Self.describe(info["pieces"])), not a string of SHA-1 hashes",
                field: "info.pieces")
        }
        guard !pieceHashes.isEmpty, pieceHashes.count % InfoHash.byteCount == 0 else {
            throw MetainfoError(
                .piecesMismatch,
                "info.pieces is \(pieceHashes.count) bytes, not a non-zero multiple of 20 (one SHA-1 per piece)",
                field: "info.pieces")
        }

        // Files.
        let isSingleFile = info["files"] == nil
        let rawFiles = try isSingleFile ? singleFile(info, name: name, rawName: rawName) : multiFile(info, name: name)
        let files = rawFiles.map(\.file)
        let totalLength = files.last.map { $0.offset + $0.length } ?? 0
        guard totalLength > 0 else {
            throw MetainfoError(
                .invalidValue, "the torrent holds no data: its total length is 0", field: "info.length")
        }
        try Self.checkCollisions(files)
        let expectedPieces = (totalLength - 1) / Int64(pieceLength) + 1
        guard Int64(pieceHashes.count / InfoHash.byteCount) == expectedPieces else {
            throw MetainfoError(
                .piecesMismatch,
                "info.pieces holds \(pieceHashes.count / InfoHash.byteCount) piece hash(es) but \(totalLength) "
                    + "bytes in pieces of \(pieceLength) need \(expectedPieces)",
                field: "info.pieces")
        }
        if hasV2 {
            try Self.checkHybrid(info: info, files: rawFiles, pieceLength: pieceLength)
        }

        // Trackers, web seeds and descriptive fields. Optional fields of the wrong type are ignored.
        let announce = root["announce"]?.bytes.flatMap(Self.cleanURL)
        var announceList: [[String]] = []
        var seen: Set<String> = []
        for tier in root["announce-list"]?.list ?? [] {
            var urls: [String] = []
            for url in tier.list ?? [] {
                guard let clean = url.bytes.flatMap(Self.cleanURL), seen.insert(clean).inserted else { continue }
                urls.append(clean)
            }
            if !urls.isEmpty { announceList.append(urls) }
        }
        var webSeeds: [String] = []
        var seenWebSeeds: Set<String> = []
        let urlList = root["url-list"]
        for url in urlList?.list ?? (urlList?.bytes != nil ? [urlList!] : []) {
            guard let clean = url.bytes.flatMap(Self.cleanURL), seenWebSeeds.insert(clean).inserted else { continue }
            webSeeds.append(clean)
        }

        return Torrent(
            infoHash: infoHash, infoHashV2: infoHashV2, version: hasV2 ? .hybrid : .v1, name: name,
            isSingleFile: isSingleFile, pieceLength: pieceLength, pieceHashes: pieceHashes, files: files,
            totalLength: totalLength, isPrivate: info["private"]?.integer == 1, announce: announce,
            announceList: announceList, webSeeds: webSeeds, source: info["source"]?.bytes.map(Self.text),
            comment: root["comment"]?.bytes.map(Self.text), createdBy: root["created by"]?.bytes.map(Self.text),
            creationDate: root["creation date"]?.integer, infoBytes: infoBytes)
    }

    private func singleFile(_ info: BencodeValue, name: String, rawName: [UInt8]) throws(MetainfoError) -> [RawFile] {
        guard let lengthValue = info["length"] else {
            throw MetainfoError(
                .missingField, "info has neither length (one file) nor files (several files)", field: "info.length")
        }
        guard let length = lengthValue.integer, length >= 0 else {
            throw MetainfoError(
                .invalidValue, "info.length is \(Self.describe(lengthValue)), not a length in bytes",
                field: "info.length")
        }
        let file = Torrent.File(
            relativePath: [name], length: length, offset: 0, wasSanitised: !name.utf8.elementsEqual(rawName))
        return [RawFile(rawPath: [rawName], file: file)]
    }

    private func multiFile(_ info: BencodeValue, name: String) throws(MetainfoError) -> [RawFile] {
        guard let list = info["files"]?.list else {
            throw MetainfoError(
                .invalidStructure, "info.files is \(Self.describe(info["files"])), not a list", field: "info.files")
        }
        guard !list.isEmpty else {
            throw MetainfoError(.invalidValue, "info.files is empty: the torrent has no files", field: "info.files")
        }
        guard list.count <= Torrent.maximumFileCount else {
            throw MetainfoError(
                .tooLarge, "info.files lists \(list.count) files; the limit is \(Torrent.maximumFileCount)",
                field: "info.files")
        }
        var out: [RawFile] = []
        out.reserveCapacity(list.count)
        var offset: Int64 = 0
        for (index, entry) in list.enumerated() {
            let field = "info.files[\(index)]"
            guard entry.entries != nil else {
                throw MetainfoError(
                    .invalidStructure, "\(field) is \(Self.describe(entry)), not a dictionary", field: field)
            }
            let attributes = entry["attr"]?.bytes ?? []
            var isPad = attributes.contains(UInt8(ascii: "p"))
            // BEP 47: a symlink needs its target; without one the entry is an ordinary file.
            let targetValue = attributes.contains(UInt8(ascii: "l")) ? entry["symlink path"] : nil
            var target: [String]?
            if let targetValue {
                let raw = try Self.stringList(targetValue, field: "\(field).symlink path")
                target = try PathSanitizer.path(raw, field: "\(field).symlink path").components
            }
            var length: Int64 = 0
            if target == nil {
                guard let lengthValue = entry["length"] else {
                    throw MetainfoError(.missingField, "\(field).length is missing", field: "\(field).length")
                }
                guard let value = lengthValue.integer, value >= 0 else {
                    throw MetainfoError(
                        .invalidValue, "\(field).length is \(Self.describe(lengthValue)), not a length in bytes",
                        field: "\(field).length")
                }
                length = value
            }
            var rawPath: [[UInt8]]
            if let pathValue = entry["path"] {
                rawPath = try Self.stringList(pathValue, field: "\(field).path")
            } else if isPad {
                rawPath = [Array(".pad".utf8), Array(String(length).utf8)]
            } else {
                throw MetainfoError(.missingField, "\(field).path is missing", field: "\(field).path")
            }
            let (components, changed) = try PathSanitizer.path(rawPath, field: "\(field).path")
            guard !components.isEmpty else {
                throw MetainfoError(
                    .unsafePath,
                    "\(field).path is empty once empty, '.' and '..' components are removed; every file needs a name",
                    field: "\(field).path")
            }
            if components.contains(where: { $0.contains("_____padding_file_") }) { isPad = true }  // BitComet
            let file = Torrent.File(
                relativePath: [name] + components, length: length, offset: offset, isPadFile: isPad,
                isExecutable: attributes.contains(UInt8(ascii: "x")),
                isHidden: attributes.contains(UInt8(ascii: "h")), symlinkTarget: target, wasSanitised: changed)
            let (sum, overflow) = offset.addingReportingOverflow(length)
            guard !overflow else {
                throw MetainfoError(
                    .invalidValue, "the file lengths add up to more than 2^63 bytes", field: "\(field).length")
            }
            offset = sum
            out.append(RawFile(rawPath: rawPath, file: file))
        }
        return out
    }

    /// No two files may have the same path, and no file may be a directory of another. A trie of path components
    /// keeps this linear in the total path length (checking every prefix as a joined string would be quadratic in
    /// a hostile path with thousands of components).
    private static func checkCollisions(_ files: [Torrent.File]) throws(MetainfoError) {
        struct Node {
            var children: [String: Int] = [:]
            var file: Int?
        }
        var nodes = [Node()]
        for (index, file) in files.enumerated() {
            var current = 0
            for (depth, component) in file.relativePath.enumerated() {
                if let other = nodes[current].file {
                    let directory = file.relativePath[..<depth].joined(separator: "/")
                    throw MetainfoError(
                        .unsafePath,
                        "info.files[\(other)] ('\(directory)') is a file but info.files[\(index)] needs it as a "
                            + "directory",
                        field: "info.files[\(index)].path")
                }
                if let next = nodes[current].children[component] {
                    current = next
                } else {
                    nodes.append(Node())
                    nodes[current].children[component] = nodes.count - 1
                    current = nodes.count - 1
                }
            }
            if let other = nodes[current].file {
                throw MetainfoError(
                    .unsafePath, "info.files[\(other)] and info.files[\(index)] both map to the path '\(file.path)'",
                    field: "info.files[\(index)].path")
            }
            if !nodes[current].children.isEmpty {
                throw MetainfoError(
                    .unsafePath,
                    "info.files[\(index)] ('\(file.path)') is a file but another file needs it as a directory",
                    field: "info.files[\(index)].path")
            }
            nodes[current].file = index
        }
    }

    /// BEP 52 hybrid: the v2 `file tree` must describe the same files, in the same order and with the same
    /// lengths, as the v1 file list without its pad files, and every non-empty file must start on a piece
    /// boundary.
    private static func checkHybrid(
        info: BencodeValue, files: [RawFile], pieceLength: Int
    ) throws(MetainfoError) {
        guard let tree = info["file tree"] else {
            throw MetainfoError(
                .invalidStructure, "info.meta version is 2 but info.file tree is missing", field: "info.file tree")
        }
        var v2Files: [(path: [[UInt8]], length: Int64)] = []
        try flatten(tree, prefix: [], into: &v2Files, limit: files.count + 1)
        let v1Files = files.filter { !$0.file.isPadFile }.map { (path: $0.rawPath, length: $0.file.length) }
        let matches =
            v1Files.count == v2Files.count
            && zip(v1Files, v2Files).allSatisfy { $0.path == $1.path && $0.length == $1.length }
        guard matches else {
            throw MetainfoError(
                .invalidStructure,
                "this hybrid torrent's v1 file list and v2 file tree describe different files; it is corrupt",
                field: "info.file tree")
        }
        for (index, raw) in files.enumerated()
        where !raw.file.isPadFile && raw.file.length > 0 && raw.file.offset % Int64(pieceLength) != 0 {
            throw MetainfoError(
                .invalidStructure,
                "info.files[\(index)] starts at byte \(raw.file.offset), not on a piece boundary as a hybrid torrent "
                    + "requires (pad files are missing)",
                field: "info.files[\(index)]")
        }
    }

    private static func flatten(
        _ node: BencodeValue, prefix: [[UInt8]], into out: inout [(path: [[UInt8]], length: Int64)], limit: Int
    ) throws(MetainfoError) {
        guard let entries = node.entries else {
            throw MetainfoError(
                .invalidStructure, "info.file tree holds \(describe(node)) where a dictionary belongs",
                field: "info.file tree")
        }
        for entry in entries {
            if entry.key.isEmpty {
                out.append((prefix, entry.value["length"]?.integer ?? 0))
            } else {
                try flatten(entry.value, prefix: prefix + [entry.key], into: &out, limit: limit)
            }
            // More entries than v1 files means a mismatch; stop before a hostile tree costs more.
            if out.count > limit { return }
        }
    }

    private static func stringList(_ value: BencodeValue, field: String) throws(MetainfoError) -> [[UInt8]] {
        guard let list = value.list else {
            throw MetainfoError(
                .invalidStructure, "\(field) is \(describe(value)), not a list of strings", field: field)
        }
        var out: [[UInt8]] = []
        out.reserveCapacity(list.count)
        for (index, item) in list.enumerated() {
            guard let bytes = item.bytes else {
                throw MetainfoError(
                    .unsafePath, "\(field)[\(index)] is \(describe(item)), not a string", field: field)
            }
            out.append(bytes)
        }
        return out
    }

    /// Trims ASCII whitespace; nil if nothing is left or it is not UTF-8.
    static func cleanURL(_ bytes: [UInt8]) -> String? {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0d) }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) })
        else { return nil }
        return String(validating: bytes[first...last], as: UTF8.self)
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    static func describe(_ value: BencodeValue?) -> String {
        switch value {
        case nil: "missing"
        case .integer(let v)?: "the integer \(v)"
        case .bytes(let b)?: "a string of \(b.count) bytes"
        case .list?: "a list"
        case .dictionary?: "a dictionary"
        }
    }
}
