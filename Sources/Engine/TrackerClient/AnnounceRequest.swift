import SwarmPrimitives

/// One announce to an HTTP tracker (BEP 3, BEP 23 compact peers, BEP 7 IPv6).
public struct AnnounceRequest: Sendable, Hashable {
    /// The `event` parameter.
    public enum Event: String, Sendable, Hashable {
        /// A regular re-announce: no `event` parameter is sent.
        case none = ""
        case started
        case completed
        case stopped
    }

    /// The torrent's v1 info-hash.
    public var infoHash: InfoHash
    /// Our peer id.
    public var peerID: PeerID
    /// The port we accept peer connections on.
    public var port: Int
    public var uploaded: Int64
    public var downloaded: Int64
    public var left: Int64
    public var event: Event
    /// How many peers we ask for (`numwant`).
    public var numWant: Int
    /// A random per-session key that lets the tracker recognise us across address changes.
    public var key: String?
    /// The `tracker id` a previous response asked us to send back.
    public var trackerID: String?
    /// Extra query parameters appended verbatim after percent-encoding (signed-announce fields and the like).
    public var extraParameters: [(name: String, value: String)]

    public init(
        infoHash: InfoHash, peerID: PeerID, port: Int, uploaded: Int64 = 0, downloaded: Int64 = 0, left: Int64,
        event: Event = .none, numWant: Int = 80, key: String? = nil, trackerID: String? = nil,
        extraParameters: [(name: String, value: String)] = []
    ) {
        self.infoHash = infoHash
        self.peerID = peerID
        self.port = port
        self.uploaded = uploaded
        self.downloaded = downloaded
        self.left = left
        self.event = event
        self.numWant = numWant
        self.key = key
        self.trackerID = trackerID
        self.extraParameters = extraParameters
    }

    public static func == (a: AnnounceRequest, b: AnnounceRequest) -> Bool {
        a.infoHash == b.infoHash && a.peerID == b.peerID && a.port == b.port && a.uploaded == b.uploaded
            && a.downloaded == b.downloaded && a.left == b.left && a.event == b.event && a.numWant == b.numWant
            && a.key == b.key && a.trackerID == b.trackerID
            && a.extraParameters.map(\.name) == b.extraParameters.map(\.name)
            && a.extraParameters.map(\.value) == b.extraParameters.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(infoHash)
        hasher.combine(peerID)
        hasher.combine(event)
        hasher.combine(left)
    }

    /// The query string (without `?`), parameters in a fixed order; binary values are percent-encoded byte by
    /// byte.
    public var query: String {
        var parts: [String] = [
            "info_hash=" + Self.percentEncode(infoHash.bytes),
            "peer_id=" + Self.percentEncode(peerID.bytes),
            "port=\(port)",
            "uploaded=\(uploaded)",
            "downloaded=\(downloaded)",
            "left=\(left)",
            "compact=1",
            "numwant=\(numWant)",
        ]
        if event != .none { parts.append("event=\(event.rawValue)") }
        if let key { parts.append("key=" + Self.percentEncode(Array(key.utf8))) }
        if let trackerID { parts.append("trackerid=" + Self.percentEncode(Array(trackerID.utf8))) }
        for parameter in extraParameters {
            parts.append(Self.percentEncode(Array(parameter.name.utf8)) + "=" + Self.percentEncode(Array(parameter.value.utf8)))
        }
        return parts.joined(separator: "&")
    }

    /// The request target for an announce URL: its path and query with ours appended (`&` when the URL already
    /// has a query, as passkey URLs do).
    public func requestTarget(for url: AnnounceURL) -> String {
        let base = url.pathAndQuery
        if base.contains("?") {
            return base.hasSuffix("?") || base.hasSuffix("&") ? base + query : base + "&" + query
        }
        return base + "?" + query
    }

    /// RFC 3986 percent-encoding: unreserved characters stay, every other byte becomes `%XX` (upper-case hex).
    public static func percentEncode(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3)
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
