import SwarmPrimitives

/// When each torrent is announced: at once when it is added (the announcer's next tick, within its tick interval),
/// again at +2 s and +6 s (a lost datagram is common on a busy LAN), then every ``interval`` seconds; apart from
/// those startup repeats, never sooner than ``minimumGap`` after its previous announcement.
///
/// Pure and not thread-safe: owned by the announcer, on its loop. Times are seconds on a monotonic clock.
public struct AnnounceSchedule: Sendable {
    /// Offsets after the torrent was added at which it is announced before the regular interval takes over.
    public var startupOffsets: [Double]
    /// Seconds between regular announcements (BEP 14 and libtorrent: 5 minutes).
    public var interval: Double
    /// No torrent is announced more often than this outside its startup repeats (Transmission: once a minute).
    public var minimumGap: Double

    private struct Entry: Sendable {
        var added: Double
        /// Startup announcements made.
        var startupSent = 0
        var lastSent: Double?
    }

    private var entries: [InfoHash: Entry] = [:]
    /// Add order, so a datagram lists the torrents in a stable order.
    private var order: [InfoHash] = []

    public init(startupOffsets: [Double] = [0, 2, 6], interval: Double = 300, minimumGap: Double = 60) {
        precondition(interval > 0 && minimumGap > 0)
        self.startupOffsets = startupOffsets
        self.interval = interval
        self.minimumGap = minimumGap
    }

    /// The torrents being announced, in the order they were added.
    public var infoHashes: [InfoHash] { order }

    /// Whether a torrent is being announced.
    public func contains(_ infoHash: InfoHash) -> Bool { entries[infoHash] != nil }

    /// Starts announcing a torrent (a torrent already scheduled keeps its schedule).
    public mutating func add(_ infoHash: InfoHash, now: Double) {
        guard entries[infoHash] == nil else { return }
        entries[infoHash] = Entry(added: now)
        order.append(infoHash)
    }

    /// Stops announcing a torrent.
    public mutating func remove(_ infoHash: InfoHash) {
        guard entries.removeValue(forKey: infoHash) != nil else { return }
        order.removeAll { $0 == infoHash }
    }

    /// The torrents due at `now`, in add order; they count as announced at `now`.
    public mutating func takeDue(now: Double) -> [InfoHash] {
        var due: [InfoHash] = []
        for hash in order {
            guard var entry = entries[hash] else { continue }
            if entry.startupSent < startupOffsets.count {
                // Startup repeats: each offset once; offsets already passed collapse into one announcement.
                guard now >= entry.added + startupOffsets[entry.startupSent] else { continue }
                while entry.startupSent < startupOffsets.count && now >= entry.added + startupOffsets[entry.startupSent] {
                    entry.startupSent += 1
                }
            } else {
                let last = entry.lastSent ?? entry.added
                guard now - last >= max(interval, minimumGap) else { continue }
            }
            entry.lastSent = now
            entries[hash] = entry
            due.append(hash)
        }
        return due
    }
}
