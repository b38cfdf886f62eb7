import LocalDiscovery

/// libFuzzer entry point: parse arbitrary bytes as a BEP 14 datagram; what parses stays within the bounds and survives
/// a round trip through the encoder.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLocalDiscovery(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let announcement = try? LSDAnnouncement(decoding: bytes) else { return 0 }
    precondition(size <= LSDLimits.maximumDatagram, "oversized datagram accepted")
    precondition((1...65535).contains(announcement.port), "port out of range")
    precondition(
        !announcement.infoHashes.isEmpty && announcement.infoHashes.count <= LSDLimits.maximumInfoHashes,
        "info-hashes out of bounds")
    // Cookies we would not send (spaces, control bytes) are dropped for the round trip.
    let cookie = announcement.cookie.flatMap { c in
        !c.isEmpty && c.utf8.count <= 64 && c.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F } ? c : nil
    }
    let sent = LSDAnnouncement(port: announcement.port, infoHashes: announcement.infoHashes, cookie: cookie)
    guard let datagrams = try? sent.encode(family: .ipv4) else { preconditionFailure("a decoded announcement must encode") }
    let again = datagrams.compactMap { try? LSDAnnouncement(decoding: $0) }
    precondition(again.count == datagrams.count, "an encoded datagram does not decode")
    precondition(again.flatMap(\.infoHashes) == sent.infoHashes, "hashes changed")
    precondition(again.allSatisfy { $0.port == sent.port && $0.cookie == sent.cookie }, "port or cookie changed")
    return 0
}
