/// The trackers of a torrent as BEP 12 tiers: each tier shuffled once, tiers tried in order, trackers within a
/// tier tried in order, and a tracker that answers moved to the front of its tier.
public struct TrackerTiers: Sendable, Hashable {
    /// The tiers, in the order they are tried.
    public private(set) var tiers: [[String]]

    /// Builds the tiers from a torrent's `announce-list` (used when present and non-empty, per BEP 12) or its
    /// `announce`. Duplicate URLs are dropped; each tier is shuffled with `generator`.
    public init<G: RandomNumberGenerator>(announceList: [[String]], announce: String?, using generator: inout G) {
        var seen: Set<String> = []
        var tiers: [[String]] = []
        let source = announceList.contains(where: { !$0.isEmpty }) ? announceList : [announce.map { [$0] } ?? []]
        for tier in source {
            var kept: [String] = []
            for url in tier where !url.isEmpty && seen.insert(url).inserted { kept.append(url) }
            kept.shuffle(using: &generator)
            if !kept.isEmpty { tiers.append(kept) }
        }
        self.tiers = tiers
    }

    /// As above, with the system's random number generator.
    public init(announceList: [[String]], announce: String?) {
        var generator = SystemRandomNumberGenerator()
        self.init(announceList: announceList, announce: announce, using: &generator)
    }

    /// Every tracker in the order an announce tries them.
    public var ordered: [String] { tiers.flatMap { $0 } }

    public var isEmpty: Bool { tiers.isEmpty }

    /// Records that `url` answered: it moves to the front of its tier (BEP 12).
    public mutating func promote(_ url: String) {
        for t in tiers.indices {
            if let i = tiers[t].firstIndex(of: url) {
                tiers[t].remove(at: i)
                tiers[t].insert(url, at: 0)
                return
            }
        }
    }
}

/// When to announce next: the tracker's interval after success, exponential backoff after failures.
public struct AnnounceSchedule: Sendable, Hashable {
    /// Delay after the first failure.
    public var initialBackoff: Duration
    /// Backoff never grows beyond this.
    public var maximumBackoff: Duration
    /// Consecutive failed announce rounds.
    public private(set) var failures = 0
    /// The interval from the last successful response.
    public private(set) var interval: Duration = .seconds(AnnounceResponse.defaultInterval)
    public private(set) var minInterval: Duration?

    public init(initialBackoff: Duration = .seconds(15), maximumBackoff: Duration = .seconds(1800)) {
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
    }

    /// Records a successful announce and returns the delay until the next one: the tracker's interval, or, when
    /// `starving` (the download is incomplete and there is no peer to get it from), the earliest re-announce the
    /// tracker allows, as libtorrent and Transmission do. A leech that started a moment before its seed announced
    /// then finds it within `min interval`, not a whole interval later.
    public mutating func succeeded(_ response: AnnounceResponse, starving: Bool = false) -> Duration {
        failures = 0
        interval = .seconds(response.interval)
        minInterval = response.minInterval.map { .seconds($0) }
        return starving ? earliestReannounce : interval
    }

    /// Records a failed announce round (every tracker failed) and returns the delay before retrying:
    /// `initialBackoff × 2^(failures-1)`, capped at `maximumBackoff`.
    public mutating func failed() -> Duration {
        failures += 1
        var delay = initialBackoff
        for _ in 1..<min(failures, 32) {
            delay = delay * 2
            if delay >= maximumBackoff { return maximumBackoff }
        }
        return min(delay, maximumBackoff)
    }

    /// The earliest an extra announce (asking for more peers) may go out after the last one.
    public var earliestReannounce: Duration { minInterval ?? min(interval, .seconds(60)) }
}
