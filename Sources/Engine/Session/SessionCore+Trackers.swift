import NIOCore

/// What the session announces and what it does with the answer; ``TrackerAnnouncer`` talks to the trackers.
extension SessionCore {
    /// Announces `event` now, then again at the tracker's interval while the session runs.
    func announce(_ event: AnnounceRequest.Event) {
        announcer.cancel()
        sendAnnounce(event, timeout: .seconds(30)).assumeIsolated().whenSuccess { delay in
            guard self.isRunning, let delay else { return }
            self.announcer.scheduleNext(in: delay) { self.announce(.none) }
        }
    }

    /// Announces our state; peers in the answer go into the directory and are dialled. The future gives the delay
    /// until the next announce (nil after `stopped`).
    func sendAnnounce(_ event: AnnounceRequest.Event, timeout: Duration) -> EventLoopFuture<Duration?> {
        let request = AnnounceRequest(
            infoHash: infoHash, peerID: peerID, port: listenPort, uploaded: uploaded, downloaded: downloaded,
            left: torrent.totalLength - picker.verifiedBytes, event: event, numWant: event == .stopped ? 0 : 80)
        return announcer.send(request, timeout: timeout).assumeIsolated().map { response -> Duration? in
            guard event != .stopped else { return nil }
            let peers = response?.peers ?? []
            for address in peers { self.addPeer(self.classifier.record(address, source: .tracker)) }
            self.connectMore()
            let starving = !self.picker.isComplete && peers.isEmpty && self.connections.isEmpty
            return self.announcer.nextDelay(after: response, starving: starving)
        }.nonisolated()
    }
}
