/// LAN-first selection (``SessionConfiguration/lanFirst``): what ``LANFirstPolicy`` needs from the session, the site's
/// other leechers (``SiteShare``), which of them stalled on their share, and which LAN peers can serve us now.
extension SessionCore {
    /// A LAN peer connected or left: the WAN shares are recomputed when the set of connected LAN peers differs from
    /// the one they were made for.
    func siteChanged() {
        guard !picker.isComplete, var policy = picker.policy as? LANFirstPolicy else { return }
        let others = connections.values.filter { $0.record.locality == .lan }.map { SiteShare.key($0.peerID) }
        let ours = SiteShare.key(peerID)
        if policy.site.members == Set(others + [ours]).sorted() { return }
        policy.site = SiteShare(pieceCount: picker.pieceCount, ours: ours, others: others)
        picker.policy = policy
        // What was asked of WAN peers before is no longer ours to fetch: withdrawn, so the owner fetches it once.
        withdrawFromWANPeers()
    }

    /// Withdraws (`cancel`) what WAN peers were asked for that the policy now excludes for them (for `piece` only, if
    /// given): the site's shares changed, or a LAN peer announced it has the piece.
    func withdrawFromWANPeers(piece: Int? = nil) {
        guard picker.policy is LANFirstPolicy else { return }
        for c in connections.values where c.record.locality != .lan {
            let withdrawn = picker.withdrawExcluded(from: c.id, piece: piece)
            for request in withdrawn { c.cancelBlock(request) }
            if !withdrawn.isEmpty { c.flush() }
        }
    }

    /// Tells the picker whether `c` can serve us now: not snubbed, and not choking us for longer than
    /// ``SessionConfiguration/lanChokeTolerance``.
    func updateServing(_ c: PeerConnection, at t: Double) {
        let serving = !c.snubbed && (!c.peerChoking || t - c.chokedSince < configuration.lanChokeTolerance.seconds)
        picker.setServing(c.id, serving)
    }

    /// A mirror can serve while it is active (not backing off, not dropped): a LAN mirror that fails stops keeping
    /// its pieces from the WAN peers within a tick.
    func updateMirrorsServing() {
        for mirror in mirrors.values { picker.setServing(mirror.sourceID, mirror.isActive) }
    }

    /// A LAN peer announced `piece` (already counted by the picker): the WAN peers' requests for it are withdrawn;
    /// progress on the peer's WAN share if the piece is in it and nobody on the LAN had it before (not a copy it
    /// took from us or a neighbour).
    func lanPeerHas(_ piece: Int, _ c: PeerConnection) {
        withdrawFromWANPeers(piece: piece)
        guard !picker.have[piece], picker.lanAvailability(ofPiece: piece) == 1,
            let site = (picker.policy as? LANFirstPolicy)?.site, site.owner(ofPiece: piece) == SiteShare.key(c.peerID)
        else { return }
        c.lastShareProgress = now()
    }

    /// The site's leechers that announced no piece of their share for ``SessionConfiguration/siteShareGrace``: their
    /// shares may be fetched from the WAN by this leecher too (checked every tick).
    func updateStalledMembers(at t: Double) {
        guard case .downloading = state, var policy = picker.policy as? LANFirstPolicy else { return }
        let grace = configuration.siteShareGrace.seconds
        var stalled: Set<UInt64> = []
        for c in connections.values where c.record.locality == .lan && t - c.lastShareProgress > grace {
            stalled.insert(SiteShare.key(c.peerID))
        }
        guard stalled != policy.stalledMembers else { return }
        policy.stalledMembers = stalled
        picker.policy = policy
    }
}
