import SwarmPrimitives

/// Every peer a session knows of, from every source (tracker responses, `manualPeers`, incoming connections, and
/// later local discovery and magnet peers), in one table: it dedups by address, merges what each source knows,
/// bounds its size, and decides whom to dial next.
///
/// - **Dedup and merge.** One entry per address (IPv6 addresses compared in their canonical form). A second
///   report of an address keeps the stronger source (manual > lsd > tracker > incoming), the more specific
///   locality (lan > wan > unknown), and a peer id once one is known.
/// - **Dial order.** Due, idle entries, LAN before unknown before WAN, then manual peers first, then the order they
///   were learned. Never our own address, never a banned peer, never an incoming entry (its port is the peer's
///   ephemeral port, not one it listens on). A seed dials manual and local-discovery peers only.
/// - **A seed's local-discovery dials.** A seed dials at most ``localDialsPerSecond`` local-discovery addresses a
///   second that have never completed a handshake with it (any LAN host may announce any port for any info-hash it
///   heard, and would otherwise have appliances dial whatever `host:port` it names as fast as their half-open limit
///   allows), and at most one of them per host in one call (a host announcing many ports does not take the budget
///   from the rest of its rack). The others stay in the table and are dialled at later calls, oldest first; each
///   address held back is counted once in ``localDialsDeferred``. Nor does a seed dial a local-discovery address
///   whose host already has a live connection with it: one node per host is the fleet's normal case, so that node
///   is connected already (it dialled us, from an ephemeral port the directory cannot tie to its listening port),
///   and the dial would be refused as a duplicate peer id.
/// - **Already connected.** A dial refused because its peer is connected already (the same peer id, reached at
///   another address), and the listening port an incoming peer names in its extended handshake, are marked
///   connected as that connection (``sameConnection(_:as:)``): not a failure, not dialled again until it closes.
/// - **Backoff.** After the n-th failure in a row an address waits ``backoffBase`` × 2ⁿ⁻¹, at most
///   ``backoffCeiling``; after a disconnect it waits ``reconnectDelay`` (and a seed never redials a peer that was a
///   seed). A connection resets the count. A dial
///   that neither connected nor failed within ``dialDeadline`` (its connection ended without a word to the session)
///   counts as failed.
/// - **Pruning.** An entry that failed ``failureLimit`` times in a row is forgotten (manual peers are kept: the user
///   named them). At ``capacity``, a new address replaces the idle, non-manual entry with the most failures
///   (then the one learned longest ago); when every entry is connected, dialling or manual, it is refused. One host
///   keeps at most ``localWaitingPerHost`` local-discovery addresses that never connected: a further one replaces
///   that host's oldest idle one (counted in ``localAddressesReplaced``), so a host announcing many ports churns its
///   own entries, not the rack's.
///
/// Not thread-safe: owned by one session, on its loop. Times are seconds on the session's monotonic clock.
public struct PeerDirectory {
    /// What the directory holds for one address.
    public struct Entry: Sendable, Hashable {
        public var record: PeerRecord
        public var state: State
        /// Failed dials in a row.
        public var failures = 0
        /// Not dialled before this time.
        public var nextAttempt: Double = 0
        /// The peer had every piece when its last connection closed: a seed does not dial it again (two seeds have
        /// nothing to exchange; a peer that loses data becomes a leech and dials us itself).
        public var wasSeed = false
        /// A connection to the address completed its handshake at least once: a seed's redials of it are not held
        /// to ``localDialsPerSecond``.
        public var hasConnected = false
        /// A seed held the address back at least once (``localDialsPerSecond``).
        public var wasDeferred = false
        /// The live connection this address is reached by, when it is another address's (``sameConnection(_:as:)``).
        public var connectedAs: PeerAddress?
        /// Learn order, for a stable dial order.
        var sequence: Int
    }

    public enum State: Sendable, Hashable {
        case idle
        /// Being dialled since this time.
        case dialling(since: Double)
        case connected
    }

    /// What ``add(_:)`` did.
    public enum AddResult: Sendable, Hashable {
        case added
        case merged
        /// Our own address, a banned peer, a port of 0, or the table is full of entries it may not replace.
        case refused
    }

    /// At most this many entries.
    public var capacity: Int
    /// Failed dials in a row after which a non-manual entry is forgotten.
    public var failureLimit: Int
    /// The wait after the first failed dial, in seconds; it doubles with each further failure.
    public var backoffBase: Double
    /// The longest wait between dials of one address, in seconds.
    public var backoffCeiling: Double
    /// The wait before redialling a peer that disconnected, in seconds.
    public var reconnectDelay: Double
    /// A dial not reported connected or failed after this many seconds counts as failed.
    public var dialDeadline: Double
    /// A seed's dials of local-discovery addresses that never completed a handshake, at most this many a second (a
    /// budget of as many that refills at this rate). 10: the first second's dials already fill a seed's upload
    /// slots (8 and 1 optimistic), so a rack starting at once starts at full speed; a 200-node rack is all dialled
    /// after 19 s (a torrent's 80 connections, the daemon's default, after 7 s), while a host announcing addresses
    /// that do not answer gets 10 connection attempts a second per torrent out of each seed (Docs/local-discovery.md).
    public let localDialsPerSecond: Int
    /// Local-discovery addresses a seed held back, each counted once: because ``localDialsPerSecond`` was used up,
    /// or because another address of the same host had the one dial allowed per host in that call.
    public private(set) var localDialsDeferred = 0
    /// Local-discovery addresses of one host that never connected, kept at once (a host runs one or two nodes; 8
    /// leaves room for more on one machine).
    public let localWaitingPerHost = 8
    /// Local-discovery addresses forgotten for a newer one of the same host (``localWaitingPerHost``).
    public private(set) var localAddressesReplaced = 0

    private var entries: [PeerAddress: Entry] = [:]
    private var ownAddresses: Set<PeerAddress> = []
    private var bannedKeys: Set<String> = []
    private var nextSequence = 0
    private var localDialBudget: TokenBucket
    /// Addresses marked connected as another address's live connection, by that address (``sameConnection(_:as:)``).
    private var aliases: [PeerAddress: Set<PeerAddress>] = [:]
    /// The local-discovery addresses of each host that never connected (``localWaitingPerHost``), kept in step with
    /// `entries` by ``store(_:at:)`` so that a report does not look through the whole table.
    private var waitingByHost: [String: Set<PeerAddress>] = [:]

    public init(
        capacity: Int = 1000, failureLimit: Int = 8, backoffBase: Double = 1, backoffCeiling: Double = 300,
        reconnectDelay: Double = 5, dialDeadline: Double = 60, localDialsPerSecond: Int = 10
    ) {
        precondition(capacity > 0 && failureLimit > 0 && backoffBase > 0 && backoffCeiling >= backoffBase)
        precondition(localDialsPerSecond > 0)
        self.localDialsPerSecond = localDialsPerSecond
        localDialBudget = TokenBucket(bytesPerSecond: localDialsPerSecond, burst: localDialsPerSecond)
        self.capacity = capacity
        self.failureLimit = failureLimit
        self.backoffBase = backoffBase
        self.backoffCeiling = backoffCeiling
        self.reconnectDelay = reconnectDelay
        self.dialDeadline = dialDeadline
    }

    /// How many addresses are known.
    public var count: Int { entries.count }

    /// The entry for `address`, if known.
    public func entry(_ address: PeerAddress) -> Entry? { entries[Self.canonical(address)] }

    // MARK: - Learning

    /// Learns of a peer, or merges what `record` adds to what is known of its address.
    @discardableResult
    public mutating func add(_ record: PeerRecord) -> AddResult {
        var record = record
        record.address = Self.canonical(record.address)
        let address = record.address
        guard address.port > 0, !ownAddresses.contains(address), !isBanned(address) else { return .refused }
        if var entry = entries[address] {
            entry.record = Self.merged(entry.record, record)
            store(entry, at: address)
            return .merged
        }
        if record.source == .lsd, let waiting = waitingByHost[address.host], waiting.count >= localWaitingPerHost {
            let idle = waiting.compactMap { entries[$0] }.filter { $0.state == .idle }
            guard let oldest = idle.min(by: { $0.sequence < $1.sequence }) else { return .refused }
            store(nil, at: oldest.record.address)
            localAddressesReplaced += 1
        }
        if entries.count >= capacity {
            guard let victim = evictionCandidate() else { return .refused }
            store(nil, at: victim)
        }
        store(Entry(record: record, state: .idle, sequence: nextSequence), at: address)
        nextSequence += 1
        return .added
    }

    /// An address that reaches us (the listening address on every interface): never dialled, and forgotten if
    /// known.
    public mutating func addOwnAddress(_ address: PeerAddress) {
        let address = Self.canonical(address)
        ownAddresses.insert(address)
        store(nil, at: address)
    }

    /// Never dial the peer again and forget it. Peers are banned by host, or by host and port on loopback (where
    /// test peers share an address).
    public mutating func ban(_ address: PeerAddress) {
        let address = Self.canonical(address)
        bannedKeys.insert(Self.banKey(address))
        for address in Array(entries.keys) where isBanned(address) { store(nil, at: address) }
    }

    public func isBanned(_ address: PeerAddress) -> Bool { bannedKeys.contains(Self.banKey(Self.canonical(address))) }

    // MARK: - Dialling

    /// Up to `count` peers to dial now, best first; they are marked as being dialled.
    ///
    /// - Parameters:
    ///   - now: the current time.
    ///   - seeding: we have every piece: dial only the peers given by hand (`--peer`, a magnet link's `x.pe`) and
    ///     those local discovery found, which announce on our link that they want the torrent (a leech that starts
    ///     after a seed's startup announcements would otherwise hear it only at its next one, up to 5 minutes
    ///     later), those never connected at most ``localDialsPerSecond`` a second; tracker peers dial a seed
    ///     themselves.
    public mutating func nextToDial(now: Double, count: Int, seeding: Bool = false) -> [PeerRecord] {
        guard count > 0 else { return [] }
        for entry in entries.values {
            if case .dialling(let since) = entry.state, now - since >= dialDeadline {
                dialFailed(entry.record.address, now: now)
            }
        }
        let due = entries.values.filter { entry in
            entry.state == .idle && entry.nextAttempt <= now && entry.record.source != .incoming
                && (!seeding || ((entry.record.source == .manual || entry.record.source == .lsd) && !entry.wasSeed))
        }
        var chosen: [PeerRecord] = []
        // Hosts with a live connection (by ban key: on loopback, where test peers share a host, host and port).
        let connectedHosts: Set<String> =
            seeding ? Set(entries.values.filter { $0.state == .connected }.map { Self.banKey($0.record.address) }) : []
        // Hosts given a budgeted dial in this call: one each, so a host announcing many ports cannot take the whole
        // budget from the rest of the rack.
        var budgetedHosts: Set<String> = []
        for entry in due.sorted(by: { Self.dialKey($0) < Self.dialKey($1) }) {
            guard chosen.count < count else { break }
            let address = entry.record.address
            // A seed's local-discovery entry whose host is connected already: one node per host is the fleet's
            // normal case, so it is that node (which dialled us from an ephemeral port), and the dial would be
            // refused as a duplicate peer id.
            if seeding && entry.record.source == .lsd && connectedHosts.contains(Self.banKey(address)) { continue }
            if seeding && entry.record.source == .lsd && !entry.hasConnected {
                guard !budgetedHosts.contains(address.host), localDialBudget.takeIfAvailable(1, at: now) else {
                    if !entry.wasDeferred {
                        entries[address]?.wasDeferred = true
                        localDialsDeferred += 1
                    }
                    continue
                }
                budgetedHosts.insert(address.host)
            }
            entries[address]?.state = .dialling(since: now)
            chosen.append(entry.record)
        }
        return chosen
    }

    /// A dial (or its handshake) failed: back off, or forget an entry that failed too often.
    public mutating func dialFailed(_ address: PeerAddress, now: Double) {
        let address = Self.canonical(address)
        // An address marked connected as another connection's meanwhile stays so (``sameConnection(_:as:)``).
        guard var entry = entries[address], entry.connectedAs == nil else { return }
        entry.failures += 1
        if entry.failures >= failureLimit && entry.record.source != .manual {
            store(nil, at: address)
            return
        }
        entry.state = .idle
        entry.nextAttempt = now + backoff(afterFailures: entry.failures)
        store(entry, at: address)
    }

    /// The wait after `failures` failed dials in a row: ``backoffBase`` doubled per failure after the first, at most
    /// ``backoffCeiling``.
    public func backoff(afterFailures failures: Int) -> Double {
        guard failures > 0 else { return 0 }
        // The exponent is capped so the shift cannot overflow; the ceiling is reached long before.
        return min(backoffCeiling, backoffBase * Double(1 << min(failures - 1, 40)))
    }

    /// A connection to the peer completed its handshake (dialled, or incoming: then the record is learned too).
    public mutating func connected(_ record: PeerRecord) {
        let address = Self.canonical(record.address)
        if entries[address] == nil { add(record) }
        guard var entry = entries[address] else { return }
        entry.record = Self.merged(entry.record, record)
        entry.state = .connected
        entry.failures = 0
        entry.hasConnected = true
        entry.connectedAs = nil
        store(entry, at: address)
    }

    /// `address` reaches a peer that is connected already as `live` (a dial refused for a duplicate peer id, or the
    /// listening port an incoming peer named): not a failure; it counts as connected, is not dialled while `live`
    /// stays connected, and is released with it (``disconnected(_:now:wasSeed:)``). An unknown address is not
    /// learned.
    public mutating func sameConnection(_ address: PeerAddress, as live: PeerAddress) {
        let address = Self.canonical(address)
        let live = Self.canonical(live)
        guard address != live, var entry = entries[address], entry.state != .connected || entry.connectedAs != nil
        else { return }
        entry.state = .connected
        entry.failures = 0
        entry.hasConnected = true
        entry.connectedAs = live
        store(entry, at: address)
        aliases[live, default: []].insert(address)
    }

    /// The connection to the peer closed: a dialled peer may be dialled again after ``reconnectDelay`` (by a seed,
    /// not if it was a seed: `wasSeed`); an incoming entry is forgotten (its port was ephemeral). Addresses marked
    /// as reached by this connection (``sameConnection(_:as:)``) are released the same way.
    public mutating func disconnected(_ address: PeerAddress, now: Double, wasSeed: Bool = false) {
        let address = Self.canonical(address)
        for alias in aliases.removeValue(forKey: address) ?? [] {
            guard var entry = entries[alias], entry.connectedAs == address else { continue }
            entry.state = .idle
            entry.connectedAs = nil
            entry.nextAttempt = now + reconnectDelay
            entry.wasSeed = entry.wasSeed || wasSeed
            store(entry, at: alias)
        }
        guard var entry = entries[address] else { return }
        if entry.record.source == .incoming {
            store(nil, at: address)
            return
        }
        entry.state = .idle
        entry.nextAttempt = now + reconnectDelay
        entry.wasSeed = entry.wasSeed || wasSeed
        store(entry, at: address)
    }

    // MARK: - Rules

    /// A local-discovery address that never connected: counted against its host's ``localWaitingPerHost``.
    private static func isWaiting(_ entry: Entry) -> Bool { entry.record.source == .lsd && !entry.hasConnected }

    /// Puts (or, with nil, removes) the entry for `address`, keeping `waitingByHost` in step. Every insertion,
    /// removal and change of an entry's source or `hasConnected` goes through here; in-place changes of its state,
    /// failures or flags do not change whether it is waiting.
    private mutating func store(_ entry: Entry?, at address: PeerAddress) {
        if let old = entries[address], Self.isWaiting(old) {
            waitingByHost[address.host]?.remove(address)
            if waitingByHost[address.host]?.isEmpty == true { waitingByHost[address.host] = nil }
        }
        if let entry, Self.isWaiting(entry) { waitingByHost[address.host, default: []].insert(address) }
        entries[address] = entry
    }

    private static func dialKey(_ entry: Entry) -> (Int, Int, Int) {
        let locality =
            switch entry.record.locality {
            case .lan: 0
            case .unknown: 1
            case .wan: 2
            }
        return (locality, entry.record.source == .manual ? 0 : 1, entry.sequence)
    }

    private static func sourceStrength(_ source: PeerSource) -> Int {
        switch source {
        case .manual: 3
        case .lsd: 2
        case .tracker: 1
        case .incoming, .mirror: 0
        }
    }

    private static func localityStrength(_ locality: PeerLocality) -> Int {
        switch locality {
        case .lan: 2
        case .wan: 1
        case .unknown: 0
        }
    }

    private static func merged(_ old: PeerRecord, _ new: PeerRecord) -> PeerRecord {
        var result = old
        if sourceStrength(new.source) > sourceStrength(old.source) { result.source = new.source }
        if localityStrength(new.locality) > localityStrength(old.locality) { result.locality = new.locality }
        if let id = new.peerID { result.peerID = id }
        return result
    }

    /// The idle, non-manual entry to forget for a new one: most failures, then learned longest ago.
    private func evictionCandidate() -> PeerAddress? {
        entries.values.filter { $0.state == .idle && $0.record.source != .manual }
            .min { ($0.failures, -$0.sequence) > ($1.failures, -$1.sequence) }?.record.address
    }

    /// One spelling per address: IPv6 in RFC 5952 form, an IPv4-mapped IPv6 address as IPv4.
    static func canonical(_ address: PeerAddress) -> PeerAddress {
        guard address.host.contains(":"), let bytes = CIDR.addressBytes(address.host) else { return address }
        if let v4 = CIDR.unmappedIPv4(bytes) { return PeerAddress(host: IPAddressText.ipv4(v4), port: address.port) }
        return PeerAddress(host: IPAddressText.ipv6(bytes), port: address.port)
    }

    private static func banKey(_ address: PeerAddress) -> String {
        let loopback = address.host.hasPrefix("127.") || address.host == "::1" || address.host == "localhost"
        return loopback ? address.description : address.host
    }
}
