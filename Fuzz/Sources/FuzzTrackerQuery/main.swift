import Tracker

/// libFuzzer entry point: arbitrary bytes as a tracker request target (`/path?query`). Every input must parse or
/// fail with a TrackerError — never crash — and what parses must hold the invariants the server relies on.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTrackerQuery(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    let limits = RequestLimits()
    guard let target = try? RequestTarget.parse(raw, limits: limits) else { return 0 }
    precondition(target.query.upperBound <= size, "query range outside the target")
    let query = UnsafeRawBufferPointer(rebasing: raw[target.query])
    switch target.endpoint {
    case .announce(let passkey):
        precondition(passkey.map { !$0.isEmpty && $0.utf8.count <= RequestTarget.maxPasskeyLength } ?? true)
        if let request = try? ReceivedAnnounce.parse(query: query, limits: limits) {
            precondition(request.port >= 1, "port 0 accepted")
            precondition(request.numwant >= 0 && request.numwant <= limits.maxNumwant, "numwant not capped")
            precondition(request.infoHash.bytes.count == 20 && request.peerID.bytes.count == 20)
        }
    case .scrape:
        if let request = try? ScrapeRequest.parse(query: query, limits: limits) {
            precondition(!request.infoHashes.isEmpty && request.infoHashes.count <= limits.maxScrapeHashes)
            precondition(Set(request.infoHashes).count == request.infoHashes.count, "duplicate hashes kept")
        }
    }
    return 0
}
