import Identity
import SwarmPrimitives

/// One immutable view of who may announce and what is tracked: the allowlist, the owner id of each credential,
/// and the registered info-hashes. Each reload builds a new snapshot and hands it to every event loop.
public struct AccessSnapshot: Sendable {
    /// The allowlist, including entries removed by reloads (they answer "revoked").
    public let allowlist: Allowlist
    /// A small stable number per credential, stored with each peer instead of the credential itself.
    let owners: [AllowlistEntry.Credential: UInt32]
    /// Owner ids of the active entries.
    let activeOwners: Set<UInt32>
    /// The tracked info-hashes; nil tracks any.
    public let registered: Set<InfoHash>?
    private let nextOwner: UInt32

    /// The first snapshot of a tracker run.
    public init(allowlist: Allowlist, registered: Set<InfoHash>?) {
        self.init(allowlist: allowlist, registered: registered, previousOwners: [:], nextOwner: 1)
    }

    private init(
        allowlist: Allowlist, registered: Set<InfoHash>?, previousOwners: [AllowlistEntry.Credential: UInt32],
        nextOwner: UInt32
    ) {
        var owners = previousOwners
        var next = nextOwner
        var active = Set<UInt32>()
        for entry in allowlist.entries {
            let id: UInt32
            if let known = owners[entry.credential] {
                id = known
            } else {
                id = next
                owners[entry.credential] = id
                next += 1
            }
            if !entry.isRevoked { active.insert(id) }
        }
        self.allowlist = allowlist
        self.owners = owners
        self.activeOwners = active
        self.registered = registered
        self.nextOwner = next
    }

    /// The snapshot after a reload: `newAllowlist` with the removals since this one carried as revoked, owner ids
    /// kept for credentials both know.
    /// - Returns: The new snapshot, the owner ids that lost access, and their entries (for the log).
    public func reloaded(with newAllowlist: Allowlist, registered: Set<InfoHash>?)
        -> (snapshot: AccessSnapshot, revokedOwners: Set<UInt32>, revokedEntries: [AllowlistEntry])
    {
        let carried = newAllowlist.carryingRevocations(from: allowlist)
        let snapshot = AccessSnapshot(
            allowlist: carried, registered: registered, previousOwners: owners, nextOwner: nextOwner)
        let revoked = activeOwners.subtracting(snapshot.activeOwners)
        return (snapshot, revoked, carried.revokedSince(allowlist))
    }

    /// The owner id for an admitted entry.
    func owner(of entry: AllowlistEntry) -> UInt32 {
        owners[entry.credential] ?? 0
    }

    /// Decides whether an announce (or a signed scrape) may proceed.
    /// - Returns: The owner id to record with the peer.
    func admit(
        passkey: String?, infoHash: InfoHash, peerID: PeerID, port: UInt16, event: AnnounceEvent,
        signed: SignedAnnounceFields?, host: String, path: String, now: Int64, window: Int64
    ) -> Result<UInt32, Refusal> {
        let owner: UInt32
        if let passkey {
            switch allowlist.lookup(passkey: passkey) {
            case .allowed(let entry): owner = self.owner(of: entry)
            case .revoked: return .failure(.revokedPasskey)
            case .unknown: return .failure(.unknownPasskey)
            }
        } else {
            let result = SignedAnnounce.verify(
                key: signed?.key, timestamp: signed?.timestamp, signature: signed?.signature,
                infoHash: infoHash.bytes, peerID: peerID.bytes, port: port, event: event, host: host, path: path,
                allowlist: allowlist, now: now, window: window)
            switch result {
            case .valid(let entry): owner = self.owner(of: entry)
            case .unknownKey: return .failure(Refusal(.unknownKey, result.failureReason ?? "unknown key"))
            case .revokedKey: return .failure(Refusal(.revokedKey, result.failureReason ?? "revoked key"))
            case .badSignature: return .failure(Refusal(.badSignature, result.failureReason ?? "bad signature"))
            case .staleTimestamp: return .failure(Refusal(.staleTimestamp, result.failureReason ?? "stale timestamp"))
            case .malformed: return .failure(Refusal(.malformedRequest, result.failureReason ?? "malformed request"))
            }
        }
        if let registered, !registered.contains(infoHash) { return .failure(.unregistered(infoHash)) }
        return .success(owner)
    }
}
