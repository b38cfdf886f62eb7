import Logging
import Metainfo
import NIOCore

/// A session's tracker side: the BEP 12 tiers, the announce schedule (interval, backoff), the tracker id and key,
/// and the timer of the next announce. The session decides what to announce and what to do with the peers; this
/// sends it. Lives on the session's loop.
final class TrackerAnnouncer {
    private let loop: any EventLoop
    private let logger: Logger
    private let parameters: (@Sendable (AnnounceURL, AnnounceRequest) -> [(name: String, value: String)])?
    private var tiers: TrackerTiers
    private var schedule = AnnounceSchedule()
    private var trackerID: String?
    private var timer: Scheduled<Void>?
    /// Our `key` for these trackers.
    let key = String(UInt32.random(in: .min ... .max), radix: 16)

    /// - Parameters:
    ///   - torrent: its `announce-list` (or `announce`).
    ///   - parameters: extra query parameters per announce URL (signed announces).
    init(
        loop: any EventLoop, torrent: Torrent,
        parameters: (@Sendable (AnnounceURL, AnnounceRequest) -> [(name: String, value: String)])?, logger: Logger
    ) {
        self.loop = loop
        self.logger = logger
        self.parameters = parameters
        self.tiers = TrackerTiers(announceList: torrent.announceList, announce: torrent.announce)
    }

    /// The torrent names at least one tracker.
    var hasTrackers: Bool { !tiers.isEmpty }

    /// Announces to the first tracker that answers, tier by tier (`key` and the tracker id are filled in). The
    /// future gives the answer, nil when every tracker failed.
    func send(_ request: AnnounceRequest, timeout: Duration) -> EventLoopFuture<AnnounceResponse?> {
        var request = request
        request.key = key
        request.trackerID = trackerID
        let urls = tiers.ordered
        let parameters = self.parameters
        let client = HTTPTrackerClient(group: loop, timeout: timeout.timeAmount)
        let logger = self.logger
        let sent = request
        return loop.makeFutureWithTask { () -> (String, AnnounceResponse)? in
            for text in urls {
                do {
                    let url = try AnnounceURL(text)
                    var request = sent
                    request.extraParameters = parameters?(url, request) ?? []
                    let response = try await client.announce(request, to: url)
                    return (text, response)
                } catch {
                    logger.warning("announce failed", metadata: ["tracker": "\(text)", "error": "\(error)"])
                }
            }
            return nil
        }.assumeIsolated().map { answer -> AnnounceResponse? in
            guard let (url, response) = answer else { return nil }
            self.tiers.promote(url)
            if let warning = response.warning { self.logger.warning("tracker warning: \(warning)") }
            if let id = response.trackerID { self.trackerID = id }
            return response
        }.nonisolated()
    }

    /// The wait until the next announce: the tracker's interval after an answer (shorter while `starving`),
    /// exponential backoff after a round where every tracker failed.
    func nextDelay(after response: AnnounceResponse?, starving: Bool) -> Duration {
        guard let response else { return schedule.failed() }
        return schedule.succeeded(response, starving: starving)
    }

    /// Runs `body` after `delay`, replacing the announce scheduled before.
    func scheduleNext(in delay: Duration, _ body: @escaping () -> Void) {
        timer?.cancel()
        timer = loop.assumeIsolated().scheduleTask(in: delay.timeAmount, body)
    }

    /// Cancels the next announce.
    func cancel() {
        timer?.cancel()
        timer = nil
    }
}

@available(*, unavailable)
extension TrackerAnnouncer: Sendable {}
