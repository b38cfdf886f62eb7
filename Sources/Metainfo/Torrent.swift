import Bencode
import SwarmPrimitives

/// A parsed `.torrent` file (BEP 3 metainfo), v1 or hybrid v1+v2 (BEP 52).
///
/// Parsing is deliberate about what it accepts; the rules are in `Docs/metainfo.md`:
/// - the bencode must be canonical except that dictionary keys may be unsorted (real torrents have them; the
///   info-hash is taken over the raw bytes, so nothing is lost). Duplicate keys, leading zeros and trailing bytes
///   are refused;
/// - `piece length` must be a power of two from 16 KiB to 512 MiB and `pieces` must hold exactly one SHA-1 per
///   piece of the total size;
/// - every file path is sanitised into components that are safe to join under a target directory
///   (``File/relativePath``), and a torrent whose paths collide after that is refused;
/// - hybrid torrents load as v1 and report their v2 info-hash too; v2-only torrents are refused with
///   ``MetainfoError/Code/unsupported`` and the v2 info-hash in ``MetainfoError/infoHashV2``.
public struct Torrent: Sendable, Hashable {
    /// Which BitTorrent protocol versions the torrent supports.
    public enum Version: String, Sendable, Hashable {
        /// BEP 3 only.
        case v1
        /// BEP 52 hybrid: v1 `pieces` and v2 `file tree` describe the same files.
        case hybrid
    }

    /// SHA-1 of the raw info dictionary.
    public let infoHash: InfoHash
    /// SHA-256 of the raw info dictionary, for hybrid torrents.
    public let infoHashV2: InfoHashV2?
    /// `v1` or `hybrid`.
    public let version: Version
    /// The torrent's name after sanitising (see ``File``): the file name of a single-file torrent or the top
    /// directory of a multi-file one. If the name sanitises to nothing (`..`), the v1 info-hash in hex is used.
    public let name: String
    /// True for a torrent with `length` (one file) rather than `files`.
    public let isSingleFile: Bool
    /// Bytes per piece; a power of two.
    public let pieceLength: Int
    /// The concatenated 20-byte SHA-1 hashes of the pieces, as in the file.
    public let pieceHashes: [UInt8]
    /// The files in torrent order, pad files included, with their offsets in the torrent's byte stream.
    public let files: [File]
    /// Sum of all file lengths (pad files included, symlinks count zero).
    public let totalLength: Int64
    /// BEP 27: peers only from the tracker; no DHT, PEX or LSD by other clients.
    public let isPrivate: Bool
    /// `announce`: the single tracker URL, if any (whitespace trimmed).
    public let announce: String?
    /// BEP 12 tiers from `announce-list` (whitespace trimmed, empty URLs and duplicates dropped, empty tiers
    /// dropped). Empty when the torrent has no usable `announce-list`.
    public let announceList: [[String]]
    /// BEP 19 web seeds from `url-list` (a single string or a list), trimmed and without duplicates.
    public let webSeeds: [String]
    /// `info.source`: the private tracker's source tag, part of the info-hash.
    public let source: String?
    /// `comment`.
    public let comment: String?
    /// `created by`.
    public let createdBy: String?
    /// `creation date`, seconds since the Unix epoch.
    public let creationDate: Int64?
    /// The info dictionary exactly as it appeared in the file.
    public let infoBytes: [UInt8]

    /// The trackers to use: the `announce-list` tiers when present, otherwise `announce` as a single tier.
    public var trackerTiers: [[String]] {
        if !announceList.isEmpty { return announceList }
        if let announce { return [[announce]] }
        return []
    }

    /// The number of pieces.
    public var pieceCount: Int { pieceHashes.count / InfoHash.byteCount }

    /// The SHA-1 of piece `index`.
    public func pieceHash(_ index: Int) -> ArraySlice<UInt8> {
        precondition(index >= 0 && index < pieceCount, "piece index \(index) out of range 0..<\(pieceCount)")
        return pieceHashes[(index * 20)..<(index * 20 + 20)]
    }

    /// The size of piece `index` in bytes: ``pieceLength`` except for a shorter last piece.
    public func pieceSize(_ index: Int) -> Int {
        precondition(index >= 0 && index < pieceCount, "piece index \(index) out of range 0..<\(pieceCount)")
        if index < pieceCount - 1 { return pieceLength }
        return Int(totalLength - Int64(pieceLength) * Int64(pieceCount - 1))
    }

    /// The largest `.torrent` accepted, in bytes.
    public static let maximumFileSize = 128 << 20
    /// The smallest accepted piece length (one BitTorrent block).
    public static let minimumPieceLength = 16 << 10
    /// The largest accepted piece length.
    public static let maximumPieceLength = 512 << 20
    /// The most files a torrent may list.
    public static let maximumFileCount = 1_000_000

    init(
        infoHash: InfoHash, infoHashV2: InfoHashV2?, version: Version, name: String, isSingleFile: Bool,
        pieceLength: Int, pieceHashes: [UInt8], files: [File], totalLength: Int64, isPrivate: Bool,
        announce: String?, announceList: [[String]], webSeeds: [String], source: String?, comment: String?,
        createdBy: String?, creationDate: Int64?, infoBytes: [UInt8]
    ) {
        self.infoHash = infoHash
        self.infoHashV2 = infoHashV2
        self.version = version
        self.name = name
        self.isSingleFile = isSingleFile
        self.pieceLength = pieceLength
        self.pieceHashes = pieceHashes
        self.files = files
        self.totalLength = totalLength
        self.isPrivate = isPrivate
        self.announce = announce
        self.announceList = announceList
        self.webSeeds = webSeeds
        self.source = source
        self.comment = comment
        self.createdBy = createdBy
        self.creationDate = creationDate
        self.infoBytes = infoBytes
    }
}

extension Torrent {
    /// A magnet link for this torrent: both info-hashes (for a hybrid), the name, the trackers tier by tier and
    /// the web seeds.
    public func magnetLink() -> MagnetLink {
        var trackers: [String] = []
        var seen: Set<String> = []
        for url in trackerTiers.joined() where seen.insert(url).inserted { trackers.append(url) }
        return MagnetLink(
            infoHash: infoHash, infoHashV2: infoHashV2, displayName: name, trackers: trackers, webSeeds: webSeeds)
    }
}
