import Bencode
import Metainfo

/// libFuzzer entry point: parse a torrent; whatever loads must satisfy the path-safety promise and be consistent.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTorrent(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let torrent = try? Torrent(bytes: bytes) else { return 0 }
    var paths: Set<String> = []
    var offset: Int64 = 0
    for file in torrent.files {
        precondition(!file.relativePath.isEmpty)
        for component in file.relativePath + (file.symlinkTarget ?? []) {
            precondition(!component.isEmpty && component != "." && component != "..")
            precondition(!component.utf8.contains(UInt8(ascii: "/")) && !component.utf8.contains(0))
            precondition(component.utf8.count <= 255)
        }
        precondition(paths.insert(file.path).inserted, "duplicate path")
        precondition(file.offset == offset && file.length >= 0)
        offset += file.length
    }
    precondition(offset == torrent.totalLength && torrent.totalLength > 0)
    precondition(torrent.pieceCount > 0 && Int64(torrent.pieceCount - 1) * Int64(torrent.pieceLength) < offset)
    _ = torrent.pieceSize(torrent.pieceCount - 1)
    let magnet = torrent.magnetLink()
    precondition((try? MagnetLink(parsing: magnet.uri))?.infoHash == torrent.infoHash)
    let report = InfoReport(source: "fuzz", subject: .torrent(torrent))
    _ = report.json()
    _ = report.text()
    return 0
}
