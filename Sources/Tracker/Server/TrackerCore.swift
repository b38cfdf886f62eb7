import NIOCore

/// The state that lives on the tracker's store event loop: the swarms and the set of active owners.
///
/// Reached only on that loop (through `NIOLoopBound`); request handlers on other loops hop there and back.
final class TrackerCore {
    let store: SwarmStore
    private var activeOwners: Set<UInt32>
    private let metrics: TrackerMetrics
    private var scratch: [UInt8] = []
    private var reportedPeers = -1
    private var reportedSwarms = -1

    init(timing: SwarmStore.Timing, activeOwners: Set<UInt32>, metrics: TrackerMetrics) {
        store = SwarmStore(timing: timing)
        self.activeOwners = activeOwners
        self.metrics = metrics
        scratch.reserveCapacity(4096)
    }

    /// Monotonic seconds for peer expiry.
    static var monotonicSeconds: UInt32 {
        UInt32(truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds / 1_000_000_000)
    }

    /// Records an announce; returns the bencoded response body, or a refusal if the owner lost access between the
    /// admission check and now (a reload raced the request).
    func announce(_ request: AnnounceRequest, address: PeerAddress, owner: UInt32) -> Result<[UInt8], Refusal> {
        guard activeOwners.contains(owner) else { return .failure(.revokedWhileAnnouncing) }
        store.announce(request, address: address, owner: owner, now: Self.monotonicSeconds, into: &scratch)
        updateGauges()
        return .success(scratch)
    }

    /// The bencoded scrape response for `hashes`.
    func scrape(_ hashes: [InfoHash]) -> [UInt8] {
        let entries = hashes.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }.map { hash in
            (hash, store.counts(for: hash) ?? SwarmCounts(complete: 0, incomplete: 0, downloaded: 0))
        }
        var out: [UInt8] = []
        BencodeWriter.scrape(entries, into: &out)
        return out
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

/// Per-event-loop state: the current access snapshot (replaced on every reload), a scratch buffer, and the loop's
/// open announce connections for the idle sweep.
final class LoopContext {
    var snapshot: AccessSnapshot
    var scratch: [UInt8] = []
    /// Advanced by every sweep; connections remember the tick of their last activity.
    private(set) var tick = 0
    private var connections: [AnnounceConnectionHandler] = []

    init(snapshot: AccessSnapshot) {
        self.snapshot = snapshot
    }

    /// The number of connections registered on this loop.
    var connectionCount: Int { connections.count }

    func register(_ connection: AnnounceConnectionHandler) {
        connection.slot = connections.count
        connections.append(connection)
    }

    func unregister(_ connection: AnnounceConnectionHandler) {
        let slot = connection.slot
        guard slot >= 0, slot < connections.count, connections[slot] === connection else { return }
        let last = connections.removeLast()
        if last !== connection {
            connections[slot] = last
            last.slot = slot
        }
        connection.slot = -1
    }

    /// Advances the tick and closes every connection that has been idle (no response, no request at the store)
    /// for `idleTicks` ticks or more. One walk over the loop's connections, instead of a timer per connection.
    func sweep(idleTicks: Int) {
        tick += 1
        var expired: [AnnounceConnectionHandler] = []
        for connection in connections where connection.isIdle && tick - connection.lastActivity >= idleTicks {
            expired.append(connection)
        }
        for connection in expired { connection.timedOut() }
    }
}

@available(*, unavailable)
extension TrackerCore: Sendable {}

@available(*, unavailable)
extension LoopContext: Sendable {}
