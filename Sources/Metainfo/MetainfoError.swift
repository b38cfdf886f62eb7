import Bencode

/// Everything that can go wrong reading or writing metainfo: a `.torrent` file, a magnet link, or the input to
/// torrent creation.
///
/// `code` is for programs (tests, exit codes); ``message`` is for people and names the thing and, where there is
/// one, the fix: `piece length 3000 is not a power of two`. ``source`` (a file name or the magnet link) is put in
/// front of the message by ``description`` once the caller knows it, see ``in(_:)``.
public struct MetainfoError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The input is not valid bencode; ``MetainfoError/bencodeError`` has the decoder's error and offset.
        case malformedBencode
        /// The bencode is valid but the torrent's structure is not: wrong type, missing key.
        case invalidStructure
        /// A required key is missing.
        case missingField
        /// A value has the right type but is not allowed (negative length, empty name, bad URL, ...).
        case invalidValue
        /// `piece length` is not a power of two, or outside the supported range.
        case invalidPieceLength
        /// `pieces` is not a multiple of 20 bytes, or does not match the total size.
        case piecesMismatch
        /// A file path could escape the download directory or cannot be represented safely.
        case unsafePath
        /// The torrent uses a feature this version does not support (v2-only torrents).
        case unsupported
        /// A magnet link that cannot be parsed (not a magnet link, a bad percent escape).
        case invalidMagnetLink
        /// A magnet link without a BitTorrent info-hash (`xt=urn:btih:` or `xt=urn:btmh:`).
        case missingInfoHash
        /// An info-hash that is not 40 hex digits / 32 base32 characters (v1) or `1220` + 64 hex digits (v2).
        case invalidInfoHash
        /// The input is larger than the configured limit.
        case tooLarge
        /// Reading or writing a file failed (not found, permission denied, ...).
        case fileSystem
        /// An argument to torrent creation is not usable (no files, empty directory, bad option value).
        case invalidArgument
    }

    /// What kind of problem this is.
    public var code: Code
    /// A human-readable explanation naming the value and, where possible, the fix.
    public var message: String
    /// The file name or link the problem was found in, if known. ``description`` starts with it.
    public var source: String?
    /// The dotted key path inside the torrent, e.g. `info.files[3].path`, if the problem is about one value.
    public var field: String?
    /// The underlying bencode error (with its byte offset) for ``Code/malformedBencode``.
    public var bencodeError: BencodeError?
    /// For a v2-only torrent refused as ``Code/unsupported``: its v2 info-hash, so it can still be shown.
    public var infoHashV2: InfoHashV2?

    /// Creates an error. `message` should name the value and the fix.
    public init(
        _ code: Code,
        _ message: String,
        field: String? = nil,
        source: String? = nil,
        bencodeError: BencodeError? = nil,
        infoHashV2: InfoHashV2? = nil
    ) {
        self.code = code
        self.message = message
        self.field = field
        self.source = source
        self.bencodeError = bencodeError
        self.infoHashV2 = infoHashV2
    }

    /// Wraps a bencode decoding error.
    public init(_ error: BencodeError, source: String? = nil) {
        self.init(
            .malformedBencode,
            "not valid bencode: \(error.code.rawValue) at byte \(error.offset)",
            source: source,
            bencodeError: error
        )
    }

    /// The same error, attributed to `source` (a file name or a link).
    public func `in`(_ source: String) -> MetainfoError {
        var copy = self
        copy.source = source
        return copy
    }

    public var description: String {
        if let source { return "\(source): \(message)" }
        return message
    }
}
