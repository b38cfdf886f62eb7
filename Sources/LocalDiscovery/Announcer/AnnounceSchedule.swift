import SwarmPrimitives

/// When each torrent is announced: at once when it is added (the announcer's next tick, within its tick interval),
/// again at +2 s and +6 s (a lost datagram is common on a busy LAN), then every ``interval`` seconds; apart from
/// those startup repeats, never sooner than ``minimumGap`` after its previous announcement. At most
/// ``torrentsPerTick`` torrents are taken at a tick, those announced longest ago first; the others stay due (a first
/// announcement held back keeps its repeats: they count from when it goes out).
///
/// Pure and not thread-safe: owned by the announcer, on its loop. Times are seconds on a monotonic clock.
public struct AnnounceSchedule: Sendable {
    /// Offsets after the torrent was added at which it is announced before the regular interval takes over.
    public var startupOffsets: [Double]
    /// Seconds between regular announcements (BEP 14 and libtorrent: 5 minutes).
    public var interval: Double
    /// No torrent is announced more often than this outside its startup repeats (Transmission: once a minute).
    public var minimumGap: Double
    /// Torrents taken at one tick at most: each is one datagram per interface and group, and receivers drop a
    /// source's datagrams beyond a rate (ours: 10 a second; Transmission 3.00: 50 a 5 s, from all sources together).
    public var torrentsPerTick: Int

    private struct Entry: Sendable {
        /// When the startup offsets count from: when the torrent was added, moved to its first announcement's
        /// time (less the first offset) when ``torrentsPerTick`` held that back.
        var start: Double
        /// Startup announcements made.
        var startupSent = 0
        var lastSent: Double?
    }

    private var entries: [InfoHash: Entry] = [:]
    /// Add order, so a datagram lists the torrents in a stable order.
    private var order: [InfoHash] = []

    public init(
        startupOffsets: [Double] = [0, 2, 6], interval: Double = 300, minimumGap: Double = 60, torrentsPerTick: Int = 2
    ) {
        precondition(interval > 0 && minimumGap > 0 && torrentsPerTick > 0)
        self.startupOffsets = startupOffsets
        self.interval = interval
        self.minimumGap = minimumGap
        self.torrentsPerTick = torrentsPerTick
    }

    /// The torrents being announced, in the order they were added.
    public var infoHashes: [InfoHash] { order }

    /// Whether a torrent is being announced.
    public func contains(_ infoHash: InfoHash) -> Bool { entries[infoHash] != nil }

    /// Starts announcing a torrent (a torrent already scheduled keeps its schedule).
    public mutating func add(_ infoHash: InfoHash, now: Double) {
        guard entries[infoHash] == nil else { return }
        entries[infoHash] = Entry(start: now)
        order.append(infoHash)
    }

    /// Stops announcing a torrent.
    public mutating func remove(_ infoHash: InfoHash) {
        guard entries.removeValue(forKey: infoHash) != nil else { return }
        order.removeAll { $0 == infoHash }
    }

    /// The torrents due at `now`, at most ``torrentsPerTick``, in add order: when more are due, those announced
    /// longest ago (never announced: before all others), then the first added. They count as announced at `now`.
    public mutating func takeDue(now: Double) -> [InfoHash] {
        var due: [(hash: InfoHash, entry: Entry)] = []
        for hash in order {
            guard var entry = entries[hash] else { continue }
            if entry.startupSent == 0 && !startupOffsets.isEmpty {
                // The first announcement: its repeats count from when it goes out, however long it waited for a
                // tick with room.
                guard now >= entry.start + startupOffsets[0] else { continue }
                entry.start = now - startupOffsets[0]
                entry.startupSent = 1
            } else if entry.startupSent < startupOffsets.count {
                // Startup repeats: each offset once; offsets already passed collapse into one announcement.
                guard now >= entry.start + startupOffsets[entry.startupSent] else { continue }
                while entry.startupSent < startupOffsets.count && now >= entry.start + startupOffsets[entry.startupSent] {
                    entry.startupSent += 1
                }
            } else {
                let last = entry.lastSent ?? entry.start
                guard now - last >= max(interval, minimumGap) else { continue }
            }
            due.append((hash, entry))
        }
        let taken = due.enumerated().sorted {
            ($0.element.entry.lastSent ?? -.infinity, $0.offset) < ($1.element.entry.lastSent ?? -.infinity, $1.offset)
        }.prefix(torrentsPerTick).sorted { $0.offset < $1.offset }
        return taken.map { _, candidate in
            var entry = candidate.entry
            entry.lastSent = now
            entries[candidate.hash] = entry
            return candidate.hash
        }
    }
}
