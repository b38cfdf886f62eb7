import Engine
import LocalDiscovery

/// What a running node reports at `/status` (JSON) and what `swtorrent status` prints: the node's totals and each
/// torrent's progress, rates and peers. Read-only; a snapshot taken when asked.
public struct NodeStatus: Sendable, Hashable, Codable {
    /// One torrent the node runs.
    public struct Torrent: Sendable, Hashable, Codable {
        /// The `.torrent` file (the daemon's watch directory name, or the path given to `seed`), when known.
        public var file: String?
        /// The torrent's name; nil before the file parses.
        public var name: String?
        /// The v1 info-hash, 40 hex digits; nil before the file parses.
        public var infoHash: String?
        public var state: TorrentState
        /// Why the torrent is in its state when that needs saying (failed, unparseable, no data, duplicate).
        public var message: String?
        /// Percent verified, 0-100.
        public var percent: Double
        public var verifiedBytes: Int64
        public var totalBytes: Int64
        /// Payload bytes since the torrent started in this process.
        public var downloaded: Int64
        public var uploaded: Int64
        /// Payload bytes per second over the last few seconds.
        public var downloadRate: Double
        public var uploadRate: Double
        /// Connected peers, in all and by how they were found and where they are.
        public var peers: Int
        public var peerSources: [PeerSource: Int]
        public var peerLocalities: [PeerLocality: Int]

        public init(
            file: String?, name: String?, infoHash: String?, state: TorrentState, message: String? = nil,
            progress: SessionProgress?
        ) {
            self.file = file
            self.name = name
            self.infoHash = infoHash
            self.state = state
            self.message = message
            percent = progress?.percent ?? 0
            verifiedBytes = progress?.verifiedBytes ?? 0
            totalBytes = progress?.totalBytes ?? 0
            downloaded = progress?.downloaded ?? 0
            uploaded = progress?.uploaded ?? 0
            downloadRate = progress?.downloadRate ?? 0
            uploadRate = progress?.uploadRate ?? 0
            peers = progress?.peers ?? 0
            peerSources = progress?.peerSources ?? [:]
            peerLocalities = progress?.peerLocalities ?? [:]
        }
    }

    /// Seconds since the node started.
    public var uptimeSeconds: Double
    /// The peer listener's port (nil when the node has no shared host to ask).
    public var listenPort: Int?
    /// Open peer connections over all torrents.
    public var connections: Int
    /// Payload bytes over all torrents since the node started (torrents removed since included).
    public var downloaded: Int64
    public var uploaded: Int64
    /// Connected peers by locality over all torrents.
    public var peerLocalities: [PeerLocality: Int]
    /// Connections the node's host closed before they reached a torrent, by reason (``PeerRefusal`` raw values).
    public var refusals: [String: Int]
    /// The torrents, sorted by name (then file).
    public var torrents: [Torrent]
    /// The HTTP mirror's requests, bytes served and refusals by reason (`seed --serve-http`, `http.listen`); nil
    /// when the node runs none.
    public var httpMirror: MirrorServerStatistics.Snapshot?
    /// BEP 14 local discovery's counts since the node started; nil when it does not run (`--no-lsd`, or no shared
    /// host to ask).
    public var localDiscovery: LocalDiscoveryStatus?

    /// What local discovery has done: datagrams sent, accepted and dropped by reason, peers it reported, the
    /// info-hashes it announces now, and the reported addresses seeds held back to a later dialling round.
    public struct LocalDiscoveryStatus: Sendable, Hashable, Codable {
        public var torrents: Int
        public var sent: Int
        public var accepted: Int
        /// Dropped datagrams by reason (`InboundFilter.Drop` raw values: `own cookie`, `rate limited` ...).
        public var dropped: [String: Int]
        public var peersReported: Int
        /// Reported addresses a seeding torrent held back to a later dialling round, each counted once: it dials at
        /// most `PeerDirectory.localDialsPerSecond` new ones a second, and one of them per host a round.
        public var dialsDeferred: Int
        /// Reported addresses forgotten for a newer one of the same host, which keeps at most
        /// `PeerDirectory.localWaitingPerHost` that never connected.
        public var addressesReplaced: Int

        public init(_ statistics: LocalDiscoveryStatistics, dialsDeferred: Int = 0, addressesReplaced: Int = 0) {
            torrents = statistics.torrents
            sent = statistics.sent
            accepted = statistics.accepted
            dropped = Dictionary(uniqueKeysWithValues: statistics.dropped.map { ($0.key.rawValue, $0.value) })
            peersReported = statistics.peersReported
            self.dialsDeferred = dialsDeferred
            self.addressesReplaced = addressesReplaced
        }
    }

    public init(
        uptimeSeconds: Double, listenPort: Int?, connections: Int, downloaded: Int64, uploaded: Int64,
        refusals: [String: Int], torrents: [Torrent]
    ) {
        self.uptimeSeconds = uptimeSeconds
        self.listenPort = listenPort
        self.connections = connections
        self.downloaded = downloaded
        self.uploaded = uploaded
        self.refusals = refusals
        self.torrents = torrents
        var localities: [PeerLocality: Int] = [:]
        for torrent in torrents {
            for (locality, count) in torrent.peerLocalities { localities[locality, default: 0] += count }
        }
        peerLocalities = localities
    }
}

/// Where a torrent is in its life in the node (the daemon's watch directory adds the states before `checking`).
public enum TorrentState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Its file does not parse yet (a file still being written is retried for a bounded time).
    case parsing
    /// Its file did not parse within the retry time; left alone until it changes.
    case unparseable
    /// No data directory holds its content.
    case noData = "no-data"
    /// Another torrent file has the same info-hash.
    case duplicate
    /// Waiting for a check slot or for its previous session to stop.
    case queued
    /// Its data is being opened and hash-checked; not served yet.
    case checking
    /// Fetching pieces.
    case downloading
    /// Complete and serving.
    case seeding
    /// Its session ended (stopped, stalled); kept until the node forgets it.
    case stopped
    /// Not served: its data did not pass the check, or it could not be opened (``NodeStatus/Torrent/message``).
    case failed
}

extension NodeStatus.LocalDiscoveryStatus {
    private enum CodingKeys: String, CodingKey {
        case torrents, sent, accepted, dropped, peersReported, dialsDeferred, addressesReplaced
    }

    /// Decodes a `/status` object; the seeds' dial counts default to 0 when absent, so `swtorrent status` reads a
    /// node that predates them (a daemon not yet restarted after an upgrade) instead of failing.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        torrents = try container.decode(Int.self, forKey: .torrents)
        sent = try container.decode(Int.self, forKey: .sent)
        accepted = try container.decode(Int.self, forKey: .accepted)
        dropped = try container.decode([String: Int].self, forKey: .dropped)
        peersReported = try container.decode(Int.self, forKey: .peersReported)
        dialsDeferred = try container.decodeIfPresent(Int.self, forKey: .dialsDeferred) ?? 0
        addressesReplaced = try container.decodeIfPresent(Int.self, forKey: .addressesReplaced) ?? 0
    }
}
