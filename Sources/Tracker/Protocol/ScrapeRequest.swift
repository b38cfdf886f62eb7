/// A parsed scrape query (BEP 48): one or more `info_hash` parameters.
public struct ScrapeRequest: Sendable, Hashable {
    /// The requested info-hashes, in request order, without duplicates.
    public var infoHashes: [InfoHash]

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
            while let p = try scanner.next() {
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
            return ScrapeRequest(infoHashes: hashes)
        }
    }

    /// Convenience for tests and tools: parses a query held in a `String`.
    public static func parse(query: String, limits: RequestLimits = RequestLimits()) throws(TrackerError)
        -> ScrapeRequest
    {
        try withUTF8Bytes(query) { (buffer) throws(TrackerError) in try parse(query: buffer, limits: limits) }
    }
}
