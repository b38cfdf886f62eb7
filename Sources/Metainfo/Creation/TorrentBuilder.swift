import Bencode
import SwarmPrimitives

/// Options for making a torrent. The defaults make a public, dateless torrent with no tracker.
public struct TorrentOptions: Sendable, Hashable {
    /// Tracker tiers (BEP 12). The first URL of the first tier becomes `announce`; when there is more than one URL
    /// in all, every tier is also written to `announce-list` (mktorrent's layout).
    public var announceTiers: [[String]] = []
    /// Sets `private` = 1 in the info dictionary (BEP 27). When false the key is left out, as mktorrent does, so
    /// the info-hash matches mktorrent's for the same content.
    public var isPrivate = false
    /// The piece length; nil chooses ``PieceLength/default(forTotalSize:)``.
    public var pieceLength: Int?
    /// Web seed URLs (BEP 19), written as the `url-list` list.
    public var webSeeds: [String] = []
    /// `source` in the info dictionary (changes the info-hash; private trackers use it to tell uploads apart).
    public var source: String?
    /// `comment`.
    public var comment: String?
    /// `created by`.
    public var createdBy: String? = TorrentBuilder.createdBy
    /// `creation date` in seconds since 1970; nil leaves it out (`--no-date`).
    public var creationDate: Int64?
    /// Hashing threads; nil for one per core.
    public var threads: Int?
    /// Whole-file digests to compute in the same pass as the pieces.
    public var fileDigests: WholeFileDigests = .none

    /// Creates options; set the properties you need.
    public init() {}

    /// Splits `--announce` values into tiers the way mktorrent's `-a` does: each value is one tier, and a value
    /// may hold several comma-separated URLs of that tier. Empty entries are dropped.
    public static func announceTiers(fromArguments arguments: [String]) -> [[String]] {
        arguments.map { $0.split(separator: ",").map(String.init).filter { !$0.isEmpty } }.filter { !$0.isEmpty }
    }

    /// Splits `--web-seed` values: each may hold several comma-separated URLs (mktorrent's `-w`).
    public static func webSeeds(fromArguments arguments: [String]) -> [String] {
        arguments.flatMap { $0.split(separator: ",").map(String.init) }.filter { !$0.isEmpty }
    }
}

/// A torrent that was made: the `.torrent` bytes and what a user wants to know about them.
public struct MadeTorrent: Sendable, Hashable {
    /// The bencoded `.torrent` file, canonical (keys sorted as raw bytes).
    public var bytes: [UInt8]
    /// The v1 info-hash: SHA-1 of the bencoded info dictionary inside ``bytes``.
    public var infoHash: InfoHash
    /// The content that was hashed.
    public var content: TorrentContent
    /// The piece length used.
    public var pieceLength: Int
    /// The number of pieces.
    public var pieceCount: Int
    /// Each file's SHA-256 (file order) when ``TorrentOptions/fileDigests`` asked for it.
    public var fileSHA256: [[UInt8]]?
    /// Each file's BLAKE2b-512 (file order) when ``TorrentOptions/fileDigests`` asked for it.
    public var fileBLAKE2b512: [[UInt8]]?
    /// A magnet link with the info-hash, the name, the trackers and the web seeds.
    public var magnetLink: MagnetLink
}

/// Makes v1 `.torrent` files from a file or a directory.
///
/// The info dictionary holds exactly what mktorrent 1.1 writes for the same input and options — `length` or
/// `files`, `name`, `piece length`, `pieces`, `private` (only when set), `source` (only when set) — so a single
/// file gives the same info-hash as `mktorrent -a URL -l N [-p] [-s SOURCE]`. See `Docs/make.md`.
public struct TorrentBuilder: Sendable {
    /// The `created by` value written by default.
    public static let createdBy = "swtorrent/0.1.0"

    /// The options used.
    public var options: TorrentOptions

    /// Creates a builder.
    public init(options: TorrentOptions) {
        self.options = options
    }

    /// Scans `path` (see ``TorrentContent/scan(_:)``), hashes it and returns the torrent.
    ///
    /// - Parameters:
    ///   - path: a file or a directory.
    ///   - progress: called on this thread with the bytes hashed so far (about ten times a second).
    /// - Throws: ``MetainfoError`` naming the path for unreadable or unsuitable input, or the option at fault.
    public func make(path: String, progress: ((Int64, Int64) -> Void)? = nil) throws(MetainfoError) -> MadeTorrent {
        let content = try TorrentContent.scan(path)
        return try make(content: content, progress: progress)
    }

    /// Hashes already scanned content and returns the torrent.
    ///
    /// - Parameter progress: called with (bytes hashed, total bytes).
    public func make(content: TorrentContent, progress: ((Int64, Int64) -> Void)? = nil) throws(MetainfoError)
        -> MadeTorrent
    {
        try validateOptions()
        let total = content.totalSize
        guard total > 0 else {
            throw MetainfoError(
                .invalidArgument,
                content.isSingleFile
                    ? "file is empty; a torrent needs at least one byte of content"
                    : "every file in the directory is empty; a torrent needs at least one byte of content",
                source: content.files.first?.sourcePath
            )
        }
        let pieceLength = options.pieceLength ?? PieceLength.default(forTotalSize: total)
        try PieceLength.validate(pieceLength)
        let hasher = PieceHasher(pieceLength: pieceLength, threads: options.threads)
        let hashes = try hasher.hashFiles(content.files, fileDigests: options.fileDigests) { done in
            progress?(done, total)
        }
        let info = infoDictionary(content: content, pieceLength: pieceLength, pieces: hashes.pieces)
        let infoBytes = info.encoded()
        let bytes = torrentDictionary(infoBytes: infoBytes)
        let infoHash = InfoHash(hashing: infoBytes)
        let magnet = MagnetLink(
            infoHash: infoHash,
            displayName: content.name,
            trackers: options.announceTiers.flatMap { $0 },
            webSeeds: options.webSeeds
        )
        return MadeTorrent(
            bytes: bytes,
            infoHash: infoHash,
            content: content,
            pieceLength: pieceLength,
            pieceCount: hashes.pieceCount,
            fileSHA256: hashes.fileSHA256,
            fileBLAKE2b512: hashes.fileBLAKE2b512,
            magnetLink: magnet
        )
    }

    /// The info dictionary (keys are sorted by the encoder).
    func infoDictionary(content: TorrentContent, pieceLength: Int, pieces: [UInt8]) -> BencodeValue {
        var entries: [BencodeEntry] = [
            BencodeEntry("name", .string(content.name)),
            BencodeEntry("piece length", .integer(Int64(pieceLength))),
            BencodeEntry("pieces", .bytes(pieces)),
        ]
        if content.isSingleFile {
            entries.append(BencodeEntry("length", .integer(content.totalSize)))
        } else {
            let files = content.files.map { file in
                BencodeValue.dict([
                    "length": .integer(file.length),
                    "path": .list(file.path.map { .string($0) }),
                ])
            }
            entries.append(BencodeEntry("files", .list(files)))
        }
        if options.isPrivate { entries.append(BencodeEntry("private", .integer(1))) }
        if let source = options.source { entries.append(BencodeEntry("source", .string(source))) }
        return .dictionary(entries)
    }

    /// The whole torrent, with `info` spliced in as the exact bytes the info-hash was taken over.
    func torrentDictionary(infoBytes: [UInt8]) -> [UInt8] {
        var entries: [BencodeEntry] = []
        let urls = options.announceTiers.flatMap { $0 }
        if let first = urls.first { entries.append(BencodeEntry("announce", .string(first))) }
        if urls.count > 1 {
            let tiers = options.announceTiers.map { tier in BencodeValue.list(tier.map { .string($0) }) }
            entries.append(BencodeEntry("announce-list", .list(tiers)))
        }
        if let comment = options.comment { entries.append(BencodeEntry("comment", .string(comment))) }
        if let createdBy = options.createdBy { entries.append(BencodeEntry("created by", .string(createdBy))) }
        if let date = options.creationDate { entries.append(BencodeEntry("creation date", .integer(date))) }
        // `info` sorts between `creation date` and `url-list`; it is written from its own bytes below.
        let before = BencodeValue.dictionary(entries).encoded()
        var out = Array(before.dropLast())
        out.append(contentsOf: "4:info".utf8)
        out.append(contentsOf: infoBytes)
        if !options.webSeeds.isEmpty {
            out.append(contentsOf: "8:url-list".utf8)
            BencodeValue.list(options.webSeeds.map { .string($0) }).encode(into: &out)
        }
        out.append(UInt8(ascii: "e"))
        return out
    }

    private func validateOptions() throws(MetainfoError) {
        for url in options.announceTiers.flatMap({ $0 }) {
            try Self.checkURL(url, schemes: ["http", "https", "udp"], what: "announce URL", field: "announce")
        }
        for url in options.webSeeds {
            try Self.checkURL(url, schemes: ["http", "https"], what: "web seed URL", field: "url-list")
        }
        if let source = options.source, source.isEmpty {
            throw MetainfoError(.invalidArgument, "source is empty; give a non-empty source tag or none", field: "source")
        }
    }

    static func checkURL(_ url: String, schemes: [String], what: String, field: String) throws(MetainfoError) {
        let parts = url.split(separator: ":", maxSplits: 1)
        let scheme = parts.first.map { $0.lowercased() } ?? ""
        let rest = parts.count == 2 ? parts[1] : ""
        guard schemes.contains(scheme), rest.hasPrefix("//"), rest.count > 2,
            !url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F })
        else {
            throw MetainfoError(
                .invalidArgument,
                "\(what) '\(url)' is not a \(schemes.joined(separator: "/")) URL; write it like "
                    + "\(schemes[0])://host:port/path",
                field: field
            )
        }
    }
}
