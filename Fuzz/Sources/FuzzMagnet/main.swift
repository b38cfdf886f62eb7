import Metainfo

/// libFuzzer entry point: parse arbitrary text as a magnet link; what parses must survive a round trip.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMagnet(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let link = try? MagnetLink(parsing: text) else { return 0 }
    let again = try? MagnetLink(parsing: link.uri)
    precondition(again?.infoHash == link.infoHash && again?.infoHashV2 == link.infoHashV2, "hash lost")
    precondition(again?.trackers == link.trackers && again?.webSeeds == link.webSeeds, "trackers changed")
    precondition(again?.peers == link.peers && again?.selectedFiles == link.selectedFiles, "peers changed")
    precondition(again?.displayName == link.displayName, "name changed")
    return 0
}
