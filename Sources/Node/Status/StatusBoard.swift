import Engine
import NIOCore
import Synchronization

/// The node's live status, written by its transfers and read by the status endpoints: each torrent's state and
/// latest ``SessionProgress`` (sessions report it every ``SessionConfiguration/progressInterval``), the node-wide
/// byte totals, and the host's connections and refusals (asked when a snapshot is taken).
///
/// Each torrent has an id chosen by its writer: ``TransferRunner`` uses the info-hash and reports on its own; a
/// daemon keys its watch-directory files by file name and calls ``set(_:file:name:infoHash:state:message:)``,
/// ``update(_:_:)``, ``stopped(_:)`` and ``remove(_:)``.
public final class StatusBoard: Sendable {
    private struct Entry {
        var file: String?
        var name: String?
        var infoHash: String?
        var state: TorrentState
        var message: String?
        var progress: SessionProgress?
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var downloaded: Int64 = 0
        var uploaded: Int64 = 0
    }

    /// The node's shared host, asked for connections and refusals; nil when each torrent has a host of its own.
    public let host: SessionHost?
    private let state = Mutex(State())
    private let mirror = Mutex<MirrorServerStatistics?>(nil)
    private let started = ContinuousClock.now

    public init(host: SessionHost?) {
        self.host = host
    }

    /// Sets a torrent's state (its progress so far is kept; a state that does not serve shows no peers or rates).
    public func set(
        _ id: String, file: String? = nil, name: String? = nil, infoHash: String? = nil, state newState: TorrentState,
        message: String? = nil
    ) {
        state.withLock { state in
            var entry = state.entries[id] ?? Entry(state: newState)
            entry.file = file ?? entry.file
            entry.name = name ?? entry.name
            entry.infoHash = infoHash ?? entry.infoHash
            entry.state = newState
            entry.message = message
            if newState != .seeding && newState != .downloading { entry.progress?.idle() }
            state.entries[id] = entry
        }
    }

    /// The torrent's session reported progress: it is downloading or seeding, by whether it is complete.
    public func update(_ id: String, _ progress: SessionProgress) {
        state.withLock { state in
            var entry = state.entries[id] ?? Entry(state: .downloading)
            // A session's counts start at 0; a new session for the same id starts a new count.
            let old = entry.progress
            let restarted = old.map { progress.downloaded < $0.downloaded || progress.uploaded < $0.uploaded } ?? true
            state.downloaded += progress.downloaded - (restarted ? 0 : old?.downloaded ?? 0)
            state.uploaded += progress.uploaded - (restarted ? 0 : old?.uploaded ?? 0)
            entry.state = progress.complete ? .seeding : .downloading
            entry.message = nil
            entry.progress = progress
            state.entries[id] = entry
        }
    }

    /// Shows the node's HTTP mirror (its requests, bytes and refusals) in the status from now on.
    public func show(_ statistics: MirrorServerStatistics) {
        mirror.withLock { $0 = statistics }
    }

    /// The torrent's session ended; it stays listed as stopped until ``remove(_:)``.
    public func stopped(_ id: String) {
        set(id, state: .stopped)
    }

    /// The node no longer runs the torrent (its bytes stay in the node's totals).
    public func remove(_ id: String) {
        _ = state.withLock { $0.entries.removeValue(forKey: id) }
    }

    /// The status now.
    public func snapshot() async -> NodeStatus {
        let statistics = try? await host?.statistics()
        return status(host: statistics)
    }

    /// The status now, as a future on `loop` (the status endpoints answer from their event loop, without a task).
    public func snapshot(on loop: any EventLoop) -> EventLoopFuture<NodeStatus> {
        guard let host else { return loop.makeSucceededFuture(status(host: nil)) }
        return host.statisticsFuture().hop(to: loop).map { Optional($0) }.recover { _ in nil }.map {
            self.status(host: $0)
        }
    }

    private func status(host: HostStatistics?) -> NodeStatus {
        let (entries, downloaded, uploaded) = state.withLock { ($0.entries, $0.downloaded, $0.uploaded) }
        let torrents = entries.values.map { entry in
            NodeStatus.Torrent(
                file: entry.file, name: entry.name, infoHash: entry.infoHash, state: entry.state,
                message: entry.message, progress: entry.progress)
        }.sorted { ($0.name ?? "", $0.file ?? "") < ($1.name ?? "", $1.file ?? "") }
        var refusals: [String: Int] = [:]
        for (reason, count) in host?.refusals ?? [:] { refusals[reason.rawValue] = count }
        var status = NodeStatus(
            uptimeSeconds: Double((ContinuousClock.now - started) / .milliseconds(1)) / 1000,
            listenPort: host.map(\.port),
            connections: host?.connections ?? torrents.reduce(0) { $0 + $1.peers }, downloaded: downloaded,
            uploaded: uploaded, refusals: refusals, torrents: torrents)
        status.httpMirror = mirror.withLock { $0 }?.snapshot
        status.localDiscovery = host.flatMap { host in
            host.localDiscovery.map {
                NodeStatus.LocalDiscoveryStatus(
                    $0, dialsDeferred: host.localDialsDeferred, addressesReplaced: host.localAddressesReplaced)
            }
        }
        return status
    }
}

extension SessionProgress {
    /// No peers and no rates: what a torrent that is not running shows.
    fileprivate mutating func idle() {
        peers = 0
        peerSources = [:]
        peerLocalities = [:]
        downloadRate = 0
        uploadRate = 0
    }
}
