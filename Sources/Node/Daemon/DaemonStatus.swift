/// What the seed daemon is doing, for the status endpoint and the logs: one entry per `.torrent` file in the watch
/// directory.
public struct DaemonStatus: Sendable, Hashable, Codable {
    /// Where a torrent file is in its life.
    public enum State: String, Sendable, Hashable, Codable {
        /// Not parsed yet (a file still being written is retried until `watch.parse-timeout`).
        case parsing
        /// Did not parse within `watch.parse-timeout`; left alone until the file changes.
        case unparseable
        /// No data directory holds the torrent's content; looked for again at every scan.
        case noData = "no-data"
        /// Another file in the watch directory has the same info-hash.
        case duplicate
        /// Waiting for a check slot (`limits.checks`) or for its previous session to stop.
        case queued
        /// Its data is being checked.
        case checking
        /// Checked and served.
        case seeding
        /// The data did not pass its check (or could not be opened): not served.
        case failed
    }

    public struct Torrent: Sendable, Hashable, Codable {
        /// The `.torrent` file's name in the watch directory.
        public var file: String
        public var name: String?
        /// Info-hash, hex.
        public var infoHash: String?
        public var state: State
        /// Why a torrent is unparseable, failed, a duplicate or without data.
        public var detail: String?
        /// Payload bytes uploaded by its current session.
        public var uploaded: Int64
        /// Connected peers.
        public var peers: Int
    }

    /// The peer listener's port (0 before it is bound).
    public var port: Int
    public var torrents: [Torrent]
}
