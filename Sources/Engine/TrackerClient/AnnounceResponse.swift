import Bencode
import SwarmPrimitives

/// A tracker's answer to an announce.
public struct AnnounceResponse: Sendable, Hashable {
    /// Seconds until the next regular announce.
    public var interval: Int
    /// Seconds the tracker wants at least between announces.
    public var minInterval: Int?
    /// Peers from `peers` (compact or dictionary form) and `peers6`.
    public var peers: [PeerAddress]
    /// `warning message`: the announce worked, but the tracker has something to say.
    public var warning: String?
    /// `tracker id`, to be sent back on later announces.
    public var trackerID: String?
    /// Seeders and leechers, when the tracker reports them.
    public var complete: Int?
    public var incomplete: Int?

    public init(
        interval: Int, minInterval: Int? = nil, peers: [PeerAddress], warning: String? = nil,
        trackerID: String? = nil, complete: Int? = nil, incomplete: Int? = nil
    ) {
        self.interval = interval
        self.minInterval = minInterval
        self.peers = peers
        self.warning = warning
        self.trackerID = trackerID
        self.complete = complete
        self.incomplete = incomplete
    }

    /// The interval used when a tracker gives none or an absurd one.
    public static let defaultInterval = 1800
    /// Intervals are clamped into this range (seconds) so a hostile tracker can neither hammer nor starve us.
    public static let intervalRange = 15...(6 * 3600)
    /// At most this many peers are taken from one response.
    public static let maximumPeers = 2000

    /// Parses a bencoded announce response.
    ///
    /// - Parameters:
    ///   - body: the HTTP body.
    ///   - tracker: the tracker's URL, for error messages.
    /// - Throws: ``EngineError`` `.trackerFailure` with the tracker's `failure reason`, or
    ///   `.malformedTrackerResponse` when the body is not a valid response.
    public static func parse(_ body: [UInt8], from tracker: String) throws(EngineError) -> AnnounceResponse {
        var options = BencodeDecoder.Options.lenient
        options.maxInputSize = 4 << 20
        options.maxElements = 100_000
        options.maxDepth = 8
        options.allowTrailingBytes = true
        let value: BencodeValue
        do {
            value = try BencodeDecoder(options: options).decode(body)
        } catch {
            let preview = String(decoding: body.prefix(60), as: UTF8.self)
            throw EngineError(.malformedTrackerResponse, "tracker \(tracker): not bencode (\(error)): '\(preview)'")
        }
        guard value.entries != nil else {
            throw EngineError(.malformedTrackerResponse, "tracker \(tracker): response is not a dictionary")
        }
        if let failure = value["failure reason"] {
            let reason = failure.utf8String ?? "(unreadable failure reason)"
            throw EngineError(.trackerFailure, "tracker \(tracker): \(reason)")
        }
        func int(_ key: String) -> Int? {
            guard let v = value[key]?.integer, v >= 0, v <= Int64(Int32.max) else { return nil }
            return Int(v)
        }
        var peers: [PeerAddress] = []
        switch value["peers"] {
        case .bytes(let compact)?:
            guard compact.count % 6 == 0 else {
                throw EngineError(
                    .malformedTrackerResponse,
                    "tracker \(tracker): compact peers length \(compact.count) is not a multiple of 6")
            }
            var i = 0
            while i < compact.count && peers.count < maximumPeers {
                let port = Int(compact[i + 4]) << 8 | Int(compact[i + 5])
                if port != 0 { peers.append(PeerAddress(host: IPAddressText.ipv4(compact[i..<i + 4]), port: port)) }
                i += 6
            }
        case .list(let list)?:
            for entry in list where peers.count < maximumPeers {
                guard let ip = entry["ip"]?.utf8String, let port = entry["port"]?.integer, port > 0, port < 65536
                else {
                    throw EngineError(
                        .malformedTrackerResponse, "tracker \(tracker): a peer entry lacks a valid 'ip' or 'port'")
                }
                peers.append(PeerAddress(host: ip, port: Int(port)))
            }
        case nil:
            break
        default:
            throw EngineError(.malformedTrackerResponse, "tracker \(tracker): 'peers' is neither a string nor a list")
        }
        if let peers6 = value["peers6"] {
            guard let compact = peers6.bytes, compact.count % 18 == 0 else {
                throw EngineError(
                    .malformedTrackerResponse, "tracker \(tracker): 'peers6' is not a multiple of 18 bytes")
            }
            var i = 0
            while i < compact.count && peers.count < maximumPeers {
                let port = Int(compact[i + 16]) << 8 | Int(compact[i + 17])
                if port != 0 {
                    peers.append(PeerAddress(host: IPAddressText.ipv6(compact[i..<i + 16]), port: port))
                }
                i += 18
            }
        }
        let rawInterval = int("interval") ?? defaultInterval
        let interval = min(max(rawInterval, intervalRange.lowerBound), intervalRange.upperBound)
        let minInterval = int("min interval").map { min(max($0, intervalRange.lowerBound), intervalRange.upperBound) }
        return AnnounceResponse(
            interval: interval,
            minInterval: minInterval,
            peers: peers,
            warning: value["warning message"]?.utf8String,
            trackerID: value["tracker id"]?.utf8String,
            complete: int("complete"),
            incomplete: int("incomplete"))
    }
}
