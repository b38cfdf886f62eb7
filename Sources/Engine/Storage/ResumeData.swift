import Bencode
import PeerWire

/// The resume file: which pieces were verified, and the size and modification time of every file at that moment.
///
/// A bencoded dictionary (format in `Docs/peer-wire.md`):
///
///     d
///       6:format   16:swtorrent-resume
///       7:version  i1e
///       9:info-hash 20:<bytes>
///       12:piece-length i<n>e
///       6:pieces   <bitfield in wire order: piece 0 is the top bit of the first byte>
///       5:files    l d 4:path l<components>e 4:size i<bytes, -1 if absent>e 8:mtime-ns i<ns>e e ... e
///     e
struct ResumeData: Sendable, Hashable {
    static let format = "swtorrent-resume"
    static let version: Int64 = 1

    struct FileEntry: Sendable, Hashable {
        var path: [String]
        var size: Int64
        var modified: Int64
    }

    var infoHash: [UInt8]
    var pieceLength: Int
    var pieces: Bitfield
    var files: [FileEntry]

    /// A generous bound on the encoded size for a layout: refuse anything bigger without reading it.
    static func maximumSize(layout: StorageLayout) -> Int {
        let pathBytes = layout.files.reduce(0) { $0 + $1.path.reduce(0) { $0 + $1.utf8.count + 8 } + 64 }
        return 4096 + (layout.pieceCount + 7) / 8 + pathBytes
    }

    func encoded() -> [UInt8] {
        let fileList: [BencodeValue] = files.map { file in
            .dict([
                "mtime-ns": .integer(file.modified),
                "path": .list(file.path.map { .string($0) }),
                "size": .integer(file.size),
            ])
        }
        return BencodeValue.dict([
            "files": .list(fileList),
            "format": .string(Self.format),
            "info-hash": .bytes(infoHash),
            "piece-length": .integer(Int64(pieceLength)),
            "pieces": .bytes(pieces.wireBytes),
            "piece-count": .integer(Int64(pieces.count)),
            "version": .integer(Self.version),
        ]).encoded()
    }

    init(infoHash: [UInt8], pieceLength: Int, pieces: Bitfield, files: [FileEntry]) {
        self.infoHash = infoHash
        self.pieceLength = pieceLength
        self.pieces = pieces
        self.files = files
    }

    /// Parses a resume file.
    ///
    /// - Throws: ``EngineError`` with code `resumeRejected` for anything that is not a version-1 resume file.
    init(decoding bytes: [UInt8], path: String) throws(EngineError) {
        func reject(_ why: String) -> EngineError {
            EngineError(.resumeRejected, "\(path): \(why)")
        }
        let value: BencodeValue
        do {
            value = try BencodeDecoder().decode(bytes)
        } catch {
            throw reject("not a resume file (\(error))")
        }
        guard value["format"]?.utf8String == Self.format else { throw reject("not a swtorrent resume file") }
        guard value["version"]?.integer == Self.version else { throw reject("unsupported resume file version") }
        guard let infoHash = value["info-hash"]?.bytes, infoHash.count == 20 else { throw reject("bad info-hash") }
        guard let pieceLength = value["piece-length"]?.integer, pieceLength > 0, pieceLength <= Int64(Int32.max)
        else { throw reject("bad piece-length") }
        guard let count = value["piece-count"]?.integer, count > 0, count <= Int64(Int32.max),
            let pieceBytes = value["pieces"]?.bytes
        else { throw reject("bad pieces") }
        let pieces: Bitfield
        do {
            pieces = try Bitfield(wireBytes: pieceBytes, count: Int(count))
        } catch {
            throw reject("bad pieces bitfield (\(error.message))")
        }
        guard let list = value["files"]?.list else { throw reject("no file list") }
        var files: [FileEntry] = []
        for item in list {
            guard let components = item["path"]?.list, let size = item["size"]?.integer,
                let modified = item["mtime-ns"]?.integer
            else { throw reject("bad file entry") }
            var path: [String] = []
            for component in components {
                guard let text = component.utf8String else { throw reject("bad file path") }
                path.append(text)
            }
            files.append(FileEntry(path: path, size: size, modified: modified))
        }
        self.init(infoHash: infoHash, pieceLength: Int(pieceLength), pieces: pieces, files: files)
    }
}
