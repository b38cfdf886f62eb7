import SwarmPrimitives

/// Hand-rolled bencode for the tracker's hot path: appends straight into a byte array, keys pre-sorted.
enum BencodeWriter {
    /// `d8:completei…e10:downloadedi…e10:incompletei…e8:intervali…e12:min intervali…e` (dictionary left open).
    static func announceHead(counts: SwarmCounts, timing: SwarmStore.Timing, into out: inout [UInt8]) {
        out.append(contentsOf: "d8:completei".utf8)
        appendDecimal(UInt64(counts.complete), into: &out)
        out.append(contentsOf: "e10:downloadedi".utf8)
        appendDecimal(UInt64(counts.downloaded), into: &out)
        out.append(contentsOf: "e10:incompletei".utf8)
        appendDecimal(UInt64(counts.incomplete), into: &out)
        out.append(contentsOf: "e8:intervali".utf8)
        appendDecimal(UInt64(timing.interval), into: &out)
        out.append(contentsOf: "e12:min intervali".utf8)
        appendDecimal(UInt64(timing.minInterval), into: &out)
        out.append(UInt8(ascii: "e"))
    }

    /// An empty peer list in the requested model.
    static func emptyPeers(compact: Bool, into out: inout [UInt8]) {
        out.append(contentsOf: (compact ? "5:peers0:" : "5:peersle").utf8)
    }

    /// `<key><length>:` where `key` is already bencoded (e.g. `5:peers`).
    static func appendLength(_ length: Int, key: StaticString, into out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        appendDecimal(UInt64(length), into: &out)
        out.append(UInt8(ascii: ":"))
    }

    /// A bencoded byte string.
    static func appendBytes(_ bytes: some Collection<UInt8>, into out: inout [UInt8]) {
        appendDecimal(UInt64(bytes.count), into: &out)
        out.append(UInt8(ascii: ":"))
        out.append(contentsOf: bytes)
    }

    /// `d14:failure reason<len>:<reason>e`.
    static func failure(_ reason: String, into out: inout [UInt8]) {
        out.append(contentsOf: "d14:failure reason".utf8)
        appendBytes(Array(reason.utf8), into: &out)
        out.append(UInt8(ascii: "e"))
    }

    /// A scrape response (BEP 48): `d5:filesd<hash>d8:completei…e10:downloadedi…e10:incompletei…eee`.
    /// `entries` must be sorted by info-hash bytes.
    static func scrape(_ entries: [(InfoHash, SwarmCounts)], into out: inout [UInt8]) {
        out.append(contentsOf: "d5:filesd".utf8)
        for (hash, counts) in entries {
            out.append(contentsOf: "20:".utf8)
            hash.append(to: &out)
            out.append(contentsOf: "d8:completei".utf8)
            appendDecimal(UInt64(counts.complete), into: &out)
            out.append(contentsOf: "e10:downloadedi".utf8)
            appendDecimal(UInt64(counts.downloaded), into: &out)
            out.append(contentsOf: "e10:incompletei".utf8)
            appendDecimal(UInt64(counts.incomplete), into: &out)
            out.append(contentsOf: "ee".utf8)
        }
        out.append(contentsOf: "ee".utf8)
    }

    /// Decimal digits of `value`.
    static func appendDecimal(_ value: UInt64, into out: inout [UInt8]) {
        if value < 10 {
            out.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64) = (0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { raw in
            while rest > 0 {
                raw[15 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[(16 - count)...]))
        }
    }
}
