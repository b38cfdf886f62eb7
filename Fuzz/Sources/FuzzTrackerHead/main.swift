import Tracker

/// libFuzzer entry point: arbitrary bytes as what a client sends on the announce listener. The request-head parser
/// must return a head, say "incomplete", or throw a TrackerError — never crash — and a parsed head must stay inside
/// the input and the limits the server relies on. Feeding the same bytes in two pieces (resuming the end-of-head
/// search) must give the same answer as feeding them at once.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTrackerHead(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    var limits = RequestLimits()
    limits.maxHeadLength = 4096
    limits.maxTargetLength = 2048
    limits.maxHeaderFields = 16
    let whole = Result { () throws(TrackerError) in try RequestHeadParser.parse(raw, limits: limits) }
    var scanned = 0
    let split = size / 2
    let first = Result { () throws(TrackerError) in
        try RequestHeadParser.parse(UnsafeRawBufferPointer(rebasing: raw[0..<split]), limits: limits, scanned: &scanned)
    }
    if case .success(nil) = first {
        let resumed = Result { () throws(TrackerError) in
            try RequestHeadParser.parse(raw, limits: limits, scanned: &scanned)
        }
        precondition(resumed == whole, "resumed parse differs: \(resumed) vs \(whole)")
    }
    guard case .success(let parsed) = whole, let head = parsed else { return 0 }
    precondition(head.length > 0 && head.length <= min(size, limits.maxHeadLength), "head length out of range")
    precondition(head.target.lowerBound >= 0 && head.target.upperBound <= head.length, "target outside the head")
    precondition(head.target.count <= limits.maxTargetLength, "target over the limit")
    for range in [head.host, head.forwardedFor].compactMap({ $0 }) {
        precondition(range.lowerBound >= 0 && range.upperBound <= head.length, "field value outside the head")
    }
    precondition(head.minorVersion == 0 || head.minorVersion == 1)
    // What the server does next with the target must also hold.
    _ = try? RequestTarget.parse(UnsafeRawBufferPointer(rebasing: raw[head.target]), limits: limits)
    return 0
}
