import NIOCore
import PeerWire

/// Choking rounds, the 250 ms tick (rates, snubs, idle peers, stalls, dialling), and progress.
extension SessionCore {
    func chokeRound() {
        guard isRunning else { return }
        let t = now()
        let candidates = connections.values.map { c in
            Choker.Candidate(
                id: c.id, interested: c.peerInterested, downloadRate: c.downloadRate, snubbed: c.snubbed,
                isNew: t - c.connectedAt < 30, isSeed: picker.peerIsSeed(c.id), locality: c.record.locality)
        }
        let unchoke = choker.runRound(candidates, seeding: picker.isComplete)
        for c in connections.values {
            let should = unchoke.contains(c.id)
            if should && c.amChoking {
                c.amChoking = false
                c.send(.unchoke)
            } else if !should && !c.amChoking && c.peerInterested {
                c.amChoking = true
                c.send(.choke)
                for request in c.clearUploads() where c.fast { c.send(.rejectRequest(request)) }
            }
        }
        flushAll()
    }

    // MARK: - Timers

    func tick() {
        guard isRunning else { return }
        let t = now()
        rateSamples.append((t, downloaded, uploaded))
        if rateSamples.count > 20 { rateSamples.removeFirst(rateSamples.count - 20) }
        for c in connections.values {
            c.downloadRate = c.downloadRate * 0.75 + Double(c.rateWindowBytes) * 4 * 0.25
            c.rateWindowBytes = 0
            if !picker.outstanding(c.id).isEmpty && t - c.lastBlockAt > configuration.requestTimeout.seconds {
                // Snubbed: free its blocks for the others, keep asking it for a few.
                logger.debug("peer snubbed", metadata: ["peer": "\(c.record.address)"])
                c.snubbed = true
                picker.cancelRequests(c.id)
                updateServing(c, at: t)
                c.lastBlockAt = t
                for other in connections.values where other !== c { requestMore(other) }
            }
            if t - c.lastReceivedAt > configuration.idleTimeout.seconds {
                drop(c, "silent for \(configuration.idleTimeout)")
            } else if t - c.lastSentAt > 60 {
                c.send(.keepAlive)
            }
            // A LAN peer choking us past the tolerance stops keeping its pieces from the WAN peers.
            updateServing(c, at: t)
            requestMore(c)
        }
        AlignedAllocator.releaseIdle()
        updateMirrorRates()
        updateMirrorsServing()
        requestFromMirrors()
        updateStalledMembers(at: t)
        flushAll()
        switch state {
        case .seeding(let until?) where t >= until:
            shutdown(.complete)
            return
        case .downloading:
            if let stall = configuration.stallTimeout, t - lastVerifiedAt > stall.seconds {
                logger.error("no piece verified for \(stall); giving up")
                shutdown(.stalled)
                return
            }
        default:
            break
        }
        ticks += 1
        if ticks % 4 == 0 { connectMore() }
    }

    /// The node's bytes in flight to the disk fell below the budget, or a session left: top requests up again.
    func resumeRequests() {
        guard case .downloading = state else { return }
        requestMoreEverywhere()
    }

    /// This session's share of the node-wide rate limits (nil: unlimited), from the host.
    func setHostRateShares(upload: Int?, download: Int?) {
        hostUploadBucket = TokenBucket(bytesPerSecond: upload)
        hostDownloadBucket = TokenBucket(bytesPerSecond: download)
    }

    func flushAll() {
        for c in connections.values { c.flush() }
    }

    func progress() -> SessionProgress {
        let t = now()
        var downRate = 0.0
        var upRate = 0.0
        if let first = rateSamples.first(where: { t - $0.time <= 5 }), t - first.time > 0.2 {
            downRate = Double(downloaded - first.down) / (t - first.time)
            upRate = Double(uploaded - first.up) / (t - first.time)
        } else if t > 0 {
            downRate = Double(downloaded) / t
            upRate = Double(uploaded) / t
        }
        let verified = picker.verifiedBytes
        let remaining = torrent.totalLength - verified
        var sources: [PeerSource: Int] = [:]
        var localities: [PeerLocality: Int] = [:]
        for connection in connections.values {
            sources[connection.record.source, default: 0] += 1
            localities[connection.record.locality, default: 0] += 1
        }
        return SessionProgress(
            verifiedBytes: verified, totalBytes: torrent.totalLength, piecesVerified: picker.have.setCount,
            pieceCount: torrent.pieceCount, downloadRate: downRate, uploadRate: upRate, downloaded: downloaded,
            uploaded: uploaded, peers: connections.count, peerSources: sources, peerLocalities: localities,
            etaSeconds: remaining == 0 ? 0 : (downRate > 0 ? Double(remaining) / downRate : nil),
            complete: picker.isComplete, hashFailures: hashFailures, bannedPeers: reputation.banned.count,
            mirrors: mirrorProgress)
    }
}
