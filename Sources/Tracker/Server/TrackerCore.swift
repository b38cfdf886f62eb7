import NIOCore
import SwarmPrimitives

/// The swarms and the set of active owners. Owned by the announce loop's thread (`AnnounceLoop`), which admits,
/// stores and answers each request in one go; reloads and expiry run there too.
final class TrackerCore {
    let store: SwarmStore
    private var activeOwners: Set<UInt32>
    private let metrics: TrackerMetrics
    private var reportedPeers = -1
    private var reportedSwarms = -1

    init(timing: SwarmStore.Timing, activeOwners: Set<UInt32>, metrics: TrackerMetrics) {
        store = SwarmStore(timing: timing)
        self.activeOwners = activeOwners
        self.metrics = metrics
    }

    /// Monotonic seconds for peer expiry.
    static var monotonicSeconds: UInt32 {
        UInt32(truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds / 1_000_000_000)
    }

    /// Records an announce and writes the bencoded response body into `body`; returns a refusal instead if the
    /// owner lost access between the admission check and now (a reload raced the request).
    func announce(_ request: ReceivedAnnounce, address: PackedIPAddress, owner: UInt32, into body: inout [UInt8])
        -> Refusal?
    {
        guard activeOwners.contains(owner) else { return .revokedWhileAnnouncing }
        store.announce(request, address: address, owner: owner, now: Self.monotonicSeconds, into: &body)
        updateGauges()
        return nil
    }

    /// Writes the bencoded scrape response for `hashes` into `body`.
    func scrape(_ hashes: [InfoHash], into body: inout [UInt8]) {
        let entries = hashes.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }.map { hash in
            (hash, store.counts(for: hash) ?? SwarmCounts(complete: 0, incomplete: 0, downloaded: 0))
        }
        body.removeAll(keepingCapacity: true)
        BencodeWriter.scrape(entries, into: &body)
    }

    /// Applies a reload: only `activeOwners` may announce from now on, and the peers of `revoked` are dropped.
    /// - Returns: The number of peers dropped.
    func applyReload(activeOwners: Set<UInt32>, revoked: Set<UInt32>) -> Int {
        self.activeOwners = activeOwners
        let purged = store.purge(owners: revoked)
        if purged > 0 { metrics.purgedPeers.increment(by: purged) }
        updateGauges()
        return purged
    }

    /// Drops expired peers.
    func expire() -> Int {
        let removed = store.expire(now: Self.monotonicSeconds)
        updateGauges()
        return removed
    }

    private func updateGauges() {
        if store.peerCount != reportedPeers {
            reportedPeers = store.peerCount
            metrics.peers.record(reportedPeers)
        }
        if store.swarmCount != reportedSwarms {
            reportedSwarms = store.swarmCount
            metrics.swarms.record(reportedSwarms)
        }
    }
}

@available(*, unavailable)
extension TrackerCore: Sendable {}
