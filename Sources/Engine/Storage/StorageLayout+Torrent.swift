import Metainfo

extension StorageLayout {
    /// The layout of a parsed torrent: its (already sanitised) file paths, checked once more here.
    ///
    /// - Throws: ``EngineError`` with code `unsafePath` or `invalidLayout` (not expected for a torrent that
    ///   `Torrent` accepted).
    public init(torrent: Torrent) throws(EngineError) {
        try self.init(
            files: torrent.files.map { (path: $0.relativePath, length: $0.length, isPadFile: $0.isPadFile) },
            pieceLength: torrent.pieceLength,
            pieceHashes: torrent.pieceHashes,
            infoHash: torrent.infoHash.bytes
        )
    }
}
