import SwarmPrimitives

/// A parsed scrape query (BEP 48): one or more `info_hash` parameters.
public struct ScrapeRequest: Sendable, Hashable {
    /// The requested info-hashes, in request order, without duplicates.
    public var infoHashes: [InfoHash]
    /// `peer_id`, if sent (a signed scrape needs it: the signature covers it).
    public var peerID: PeerID?
    /// `port`, if sent (a signed scrape needs it).
    public var port: UInt16?
    /// The signed-request fields when all three of `swt_key`, `swt_ts`, `swt_sig` are present.
    public var signed: SignedAnnounceFields?

    /// Parses the query part of a scrape.
    /// - Throws: `TrackerError` for a badly encoded or wrongly sized `info_hash`, none at all (full scrapes are
    ///   not served), or more than `limits.maxScrapeHashes`.
    public static func parse(query: UnsafeRawBufferPointer, limits: RequestLimits) throws(TrackerError)
        -> ScrapeRequest
    {
        try withUnsafeTemporaryAllocation(byteCount: max(query.count, 20), alignment: 8) {
            (scratch) throws(TrackerError) in
            var scanner = QueryScanner(query, maxParameters: limits.maxParameters)
            var hashes: [InfoHash] = []
            var result = ScrapeRequest(infoHashes: [], peerID: nil, port: nil, signed: nil)
            var swt: [String?] = [nil, nil, nil]
            while let p = try scanner.next() {
                if scanner.name(p, is: "peer_id") {
                    guard p.value.count <= 60, try scanner.decode(p.value, into: scratch, name: "peer_id") == 20 else {
                        throw TrackerError(.wrongLength, "peer_id", "must be exactly 20 bytes after percent-decoding")
                    }
                    result.peerID = Bytes20(unsafeBytes: UnsafeRawBufferPointer(scratch))
                    continue
                }
                if scanner.name(p, is: "port") {
                    let n = try scanner.decode(p.value, into: scratch, name: "port")
                    guard let port = parseDecimal(UnsafeRawBufferPointer(scratch), count: n), port >= 1, port <= 65535
                    else { throw TrackerError(.badNumber, "port", "must be 1-65535") }
                    result.port = UInt16(port)
                    continue
                }
                for (slot, name) in [(0, "swt_key"), (1, "swt_ts"), (2, "swt_sig")] as [(Int, StaticString)]
                where scanner.name(p, is: name) {
                    guard p.value.count <= 256 else { throw TrackerError(.wrongLength, "\(name)", "too long") }
                    let n = try scanner.decode(p.value, into: scratch, name: name)
                    swt[slot] = String(decoding: UnsafeRawBufferPointer(rebasing: scratch[0..<n]), as: UTF8.self)
                }
                guard scanner.name(p, is: "info_hash") else { continue }
                guard p.value.count <= 60 else {
                    throw TrackerError(.wrongLength, "info_hash", "must be exactly 20 bytes after percent-decoding")
                }
                let n = try scanner.decode(p.value, into: scratch, name: "info_hash")
                guard n == 20 else {
                    throw TrackerError(
                        .wrongLength, "info_hash", "must be exactly 20 bytes after percent-decoding (got \(n))")
                }
                let hash = Bytes20(unsafeBytes: UnsafeRawBufferPointer(scratch))
                if !hashes.contains(hash) { hashes.append(hash) }
                guard hashes.count <= limits.maxScrapeHashes else {
                    throw TrackerError(
                        .tooManyParameters, "info_hash", "at most \(limits.maxScrapeHashes) info-hashes per scrape")
                }
            }
            guard !hashes.isEmpty else {
                throw TrackerError(.missingParameter, "info_hash", "name at least one torrent; full scrapes are off")
            }
            result.infoHashes = hashes
            if let key = swt[0], let ts = swt[1], let sig = swt[2] {
                result.signed = SignedAnnounceFields(key: key, timestamp: ts, signature: sig)
            }
            return result
        }
    }

    /// Convenience for tests and tools: parses a query held in a `String`.
    public static func parse(query: String, limits: RequestLimits = RequestLimits()) throws(TrackerError)
        -> ScrapeRequest
    {
        try withUTF8Bytes(query) { (buffer) throws(TrackerError) in try parse(query: buffer, limits: limits) }
    }
}
