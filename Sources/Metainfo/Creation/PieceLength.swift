/// Piece lengths for torrent creation: the allowed range, the default chosen from the content size, and the
/// parser for the command line's `--piece-length` (`262144`, `256K`, `4M`, `1MiB`).
///
/// The default follows libtorrent's `create_torrent` (the rule used by libtorrent 1.2 and 2.0 and by tools built on
/// it): aim for a piece list of about `2 × sqrt(total size)` bytes of hashes, i.e. the smallest power of two from
/// 16 KiB up whose size-table entry is at least the total size, capped at 16 MiB. mktorrent 1.1 has no automatic
/// rule (always 256 KiB unless `-l` is given). See `Docs/make.md`.
public enum PieceLength {
    /// The smallest piece length `make` writes: 16 KiB (one BitTorrent block; also BEP 52's minimum).
    public static let minimum = 16 * 1024
    /// The largest piece length `make` writes: 16 MiB.
    public static let maximum = 16 * 1024 * 1024

    /// libtorrent's size table: for a total size up to `sizeTable[i]` bytes the piece length is `16 KiB << i`;
    /// above the last entry it is 16 MiB. Each entry is `(2 × piece / 20)²` rounded, so the piece list holds about
    /// `2 × sqrt(total)` bytes of hashes.
    static let sizeTable: [Int64] = [
        2_684_355,  // 16 KiB
        10_737_418,  // 32 KiB
        42_949_673,  // 64 KiB
        171_798_692,  // 128 KiB
        687_194_767,  // 256 KiB
        2_748_779_069,  // 512 KiB
        10_995_116_278,  // 1 MiB
        43_980_465_111,  // 2 MiB
        175_921_860_444,  // 4 MiB
        703_687_441_777,  // 8 MiB
    ]

    /// The default piece length for content of `totalSize` bytes (libtorrent's rule, 16 KiB ... 16 MiB).
    public static func `default`(forTotalSize totalSize: Int64) -> Int {
        var shift = 0
        for limit in sizeTable {
            if limit >= totalSize { break }
            shift += 1
        }
        return minimum << shift
    }

    /// Whether `length` is a power of two from ``minimum`` to ``maximum``.
    public static func isValid(_ length: Int) -> Bool {
        length >= minimum && length <= maximum && length & (length - 1) == 0
    }

    /// Checks a piece length given by the user.
    ///
    /// - Throws: ``MetainfoError/Code/invalidPieceLength`` naming the value and the allowed range.
    public static func validate(_ length: Int) throws(MetainfoError) {
        guard isValid(length) else {
            let what = length & (length - 1) == 0 || length <= 0 ? "outside 16K...16M" : "not a power of two"
            throw MetainfoError(
                .invalidPieceLength,
                "piece length \(length) is \(what); use a power of two from 16K (16384) to 16M (16777216)",
                field: "piece length"
            )
        }
    }

    /// Parses a byte count with an optional binary suffix, then checks it with ``validate(_:)``.
    ///
    /// Accepted: a decimal number of bytes (`262144`), or a number followed by `K`, `M` or `G` (powers of 1024),
    /// optionally followed by `i`, `B` or `iB` in either case: `256K`, `256k`, `4M`, `1MiB`, `512KB`. `KB` means
    /// 1024 bytes here like `KiB`: a piece length is a power of two, so decimal units would never be valid.
    ///
    /// - Throws: ``MetainfoError/Code/invalidArgument`` for text that is not a size,
    ///   ``MetainfoError/Code/invalidPieceLength`` for a size that is not an allowed piece length.
    public static func parse(_ text: String) throws(MetainfoError) -> Int {
        let bytes = try parseByteCount(text)
        try validate(bytes)
        return bytes
    }

    /// Parses `text` as a byte count with an optional binary suffix (see ``parse(_:)``), without range checks.
    public static func parseByteCount(_ text: String) throws(MetainfoError) -> Int {
        let trimmed = Array(text.utf8)
        var digitsEnd = 0
        while digitsEnd < trimmed.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(trimmed[digitsEnd]) {
            digitsEnd += 1
        }
        let invalid = MetainfoError(
            .invalidArgument,
            "piece length '\(text)' is not a size; write bytes or a number with K, M or G (powers of 1024), e.g. 256K",
            field: "piece length"
        )
        // 12 digits is far beyond any allowed piece length and keeps the arithmetic below from overflowing.
        guard digitsEnd > 0, digitsEnd <= 12 else { throw invalid }
        var value = 0
        for digit in trimmed[0..<digitsEnd] { value = value * 10 + Int(digit - UInt8(ascii: "0")) }
        let suffix = String(decoding: trimmed[digitsEnd...], as: UTF8.self).lowercased()
        let multiplier: Int
        switch suffix {
        case "", "b": multiplier = 1
        case "k", "kb", "ki", "kib": multiplier = 1 << 10
        case "m", "mb", "mi", "mib": multiplier = 1 << 20
        case "g", "gb", "gi", "gib": multiplier = 1 << 30
        default: throw invalid
        }
        return value * multiplier
    }
}
