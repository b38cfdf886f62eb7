import Identity
import SwarmPrimitives

/// The swtorrent signed-announce parameters, percent-decoded but not yet verified.
public struct SignedAnnounceFields: Sendable, Hashable {
    /// `swt_key`: hex of the node's 32-byte Ed25519 public key.
    public var key: String
    /// `swt_ts`: the signing time in decimal unix seconds.
    public var timestamp: String
    /// `swt_sig`: hex of the 64-byte Ed25519 signature.
    public var signature: String

    /// Creates the fields.
    public init(key: String, timestamp: String, signature: String) {
        self.key = key
        self.timestamp = timestamp
        self.signature = signature
    }
}

/// An announce as the tracker received it (server side): the parsed query (BEP 3, BEP 23, BEP 7), bounded and typed.
public struct ReceivedAnnounce: Sendable, Hashable {
    /// `info_hash`: exactly 20 bytes after percent-decoding.
    public var infoHash: InfoHash
    /// `peer_id`: exactly 20 bytes after percent-decoding.
    public var peerID: PeerID
    /// `port`: 1...65535.
    public var port: UInt16
    /// `uploaded` bytes (0 when absent).
    public var uploaded: UInt64
    /// `downloaded` bytes (0 when absent).
    public var downloaded: UInt64
    /// `left` bytes; 0 means the peer is a seeder.
    public var left: UInt64
    /// `event` (Identity's enum: its raw value is the code signed announces cover).
    public var event: AnnounceEvent
    /// `compact` (BEP 23): true unless the client sent `compact=0`.
    public var compact: Bool
    /// `no_peer_id`: leave peer ids out of a non-compact peer list.
    public var noPeerID: Bool
    /// `numwant`, already capped to `RequestLimits.maxNumwant` (the default when absent).
    public var numwant: Int
    /// `ip` as sent (used only when the tracker is configured to trust it).
    public var ip: String?
    /// The signed-announce fields when all three of `swt_key`, `swt_ts`, `swt_sig` are present.
    public var signed: SignedAnnounceFields?

    /// Parses the query part of an announce (the bytes after `?`).
    /// - Throws: `TrackerError` naming the parameter: missing, duplicated, wrongly sized, badly encoded or
    ///   out of range; or `.tooManyParameters`.
    public static func parse(query: UnsafeRawBufferPointer, limits: RequestLimits) throws(TrackerError)
        -> ReceivedAnnounce
    {
        try withUnsafeTemporaryAllocation(byteCount: max(query.count, 20), alignment: 8) {
            (scratch) throws(TrackerError) in
            try parse(query: query, limits: limits, scratch: scratch)
        }
    }

    /// Convenience for tests and tools: parses a query held in a `String`.
    public static func parse(query: String, limits: RequestLimits = RequestLimits()) throws(TrackerError)
        -> ReceivedAnnounce
    {
        try withUTF8Bytes(query) { (buffer) throws(TrackerError) in try parse(query: buffer, limits: limits) }
    }

    private struct Seen: OptionSet {
        var rawValue: UInt16
        static let infoHash = Seen(rawValue: 1 << 0)
        static let peerID = Seen(rawValue: 1 << 1)
        static let port = Seen(rawValue: 1 << 2)
        static let uploaded = Seen(rawValue: 1 << 3)
        static let downloaded = Seen(rawValue: 1 << 4)
        static let left = Seen(rawValue: 1 << 5)
        static let event = Seen(rawValue: 1 << 6)
        static let compact = Seen(rawValue: 1 << 7)
        static let numwant = Seen(rawValue: 1 << 8)
        static let ip = Seen(rawValue: 1 << 9)
        static let key = Seen(rawValue: 1 << 10)
        static let ts = Seen(rawValue: 1 << 11)
        static let sig = Seen(rawValue: 1 << 12)
        static let noPeerID = Seen(rawValue: 1 << 13)
    }

    private static func parse(
        query: UnsafeRawBufferPointer, limits: RequestLimits, scratch: UnsafeMutableRawBufferPointer
    ) throws(TrackerError) -> ReceivedAnnounce {
        var scanner = QueryScanner(query, maxParameters: limits.maxParameters)
        var seen: Seen = []
        var result = ReceivedAnnounce(
            infoHash: .zero, peerID: .zero, port: 0, uploaded: 0, downloaded: 0, left: 0, event: .none,
            compact: true, noPeerID: false, numwant: limits.defaultNumwant, ip: nil, signed: nil)
        var swtKey = ""
        var swtTs = ""
        var swtSig = ""

        func mark(_ flag: Seen, _ name: StaticString) throws(TrackerError) {
            if seen.contains(flag) { throw TrackerError(.duplicateParameter, "\(name)", "send it once") }
            seen.insert(flag)
        }
        func decoded(_ p: QueryScanner.Parameter, _ name: StaticString) throws(TrackerError) -> Int {
            try scanner.decode(p.value, into: scratch, name: name)
        }
        func bytes20(_ p: QueryScanner.Parameter, _ name: StaticString) throws(TrackerError) -> Bytes20 {
            // Bound the work before decoding: 20 bytes take at most 60 encoded characters.
            guard p.value.count <= 60 else {
                throw TrackerError(.wrongLength, "\(name)", "must be exactly 20 bytes after percent-decoding")
            }
            let n = try decoded(p, name)
            guard n == 20 else {
                throw TrackerError(
                    .wrongLength, "\(name)", "must be exactly 20 bytes after percent-decoding (got \(n))")
            }
            return Bytes20(unsafeBytes: UnsafeRawBufferPointer(scratch))
        }
        func number(_ p: QueryScanner.Parameter, _ name: StaticString) throws(TrackerError) -> UInt64 {
            let n = try decoded(p, name)
            guard let value = parseDecimal(UnsafeRawBufferPointer(scratch), count: n) else {
                throw TrackerError(.badNumber, "\(name)", "must be a non-negative decimal integer")
            }
            return value
        }
        func text(_ p: QueryScanner.Parameter, _ name: StaticString, max: Int) throws(TrackerError) -> String {
            guard p.value.count <= max * 3 else {
                throw TrackerError(.wrongLength, "\(name)", "longer than \(max) bytes")
            }
            let n = try decoded(p, name)
            guard n <= max else { throw TrackerError(.wrongLength, "\(name)", "longer than \(max) bytes") }
            return String(decoding: UnsafeRawBufferPointer(rebasing: scratch[0..<n]), as: UTF8.self)
        }

        while let p = try scanner.next() {
            if scanner.name(p, is: "info_hash") {
                try mark(.infoHash, "info_hash")
                result.infoHash = try bytes20(p, "info_hash")
            } else if scanner.name(p, is: "peer_id") {
                try mark(.peerID, "peer_id")
                result.peerID = try bytes20(p, "peer_id")
            } else if scanner.name(p, is: "port") {
                try mark(.port, "port")
                let port = try number(p, "port")
                guard port >= 1, port <= 65535 else {
                    throw TrackerError(.badNumber, "port", "must be 1-65535 (got \(port))")
                }
                result.port = UInt16(port)
            } else if scanner.name(p, is: "uploaded") {
                try mark(.uploaded, "uploaded")
                result.uploaded = try number(p, "uploaded")
            } else if scanner.name(p, is: "downloaded") {
                try mark(.downloaded, "downloaded")
                result.downloaded = try number(p, "downloaded")
            } else if scanner.name(p, is: "left") {
                try mark(.left, "left")
                result.left = try number(p, "left")
            } else if scanner.name(p, is: "event") {
                try mark(.event, "event")
                guard let event = AnnounceEvent(queryValue: try text(p, "event", max: 16)) else {
                    throw TrackerError(.badEvent, "event", "use started, completed, stopped, paused or leave it empty")
                }
                result.event = event
            } else if scanner.name(p, is: "compact") {
                try mark(.compact, "compact")
                result.compact = try number(p, "compact") != 0
            } else if scanner.name(p, is: "no_peer_id") {
                try mark(.noPeerID, "no_peer_id")
                result.noPeerID = try number(p, "no_peer_id") != 0
            } else if scanner.name(p, is: "numwant") {
                try mark(.numwant, "numwant")
                let wanted = try number(p, "numwant")
                result.numwant = Int(min(wanted, UInt64(limits.maxNumwant)))
            } else if scanner.name(p, is: "ip") {
                try mark(.ip, "ip")
                result.ip = try text(p, "ip", max: 64)
            } else if scanner.name(p, is: "swt_key") {
                try mark(.key, "swt_key")
                swtKey = try text(p, "swt_key", max: 128)
            } else if scanner.name(p, is: "swt_ts") {
                try mark(.ts, "swt_ts")
                swtTs = try text(p, "swt_ts", max: 32)
            } else if scanner.name(p, is: "swt_sig") {
                try mark(.sig, "swt_sig")
                swtSig = try text(p, "swt_sig", max: 256)
            }
        }
        guard seen.contains(.infoHash) else {
            throw TrackerError(.missingParameter, "info_hash", "announce needs the torrent's 20-byte info-hash")
        }
        guard seen.contains(.peerID) else {
            throw TrackerError(.missingParameter, "peer_id", "announce needs the client's 20-byte peer id")
        }
        guard seen.contains(.port) else {
            throw TrackerError(.missingParameter, "port", "announce needs the client's listening port")
        }
        guard seen.contains(.left) || result.event == .stopped else {
            throw TrackerError(.missingParameter, "left", "announce needs the bytes left to download")
        }
        let signedCount = [Seen.key, .ts, .sig].filter { seen.contains($0) }.count
        if signedCount == 3 {
            result.signed = SignedAnnounceFields(key: swtKey, timestamp: swtTs, signature: swtSig)
        } else if signedCount != 0 {
            throw TrackerError(.missingParameter, "swt_key/swt_ts/swt_sig", "a signed announce needs all three")
        }
        return result
    }
}
