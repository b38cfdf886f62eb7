import Metrics

/// The tracker's metrics (swift-metrics; exported for Prometheus by `TrackerServer`'s `/metrics`).
///
/// Names: `tracker_announces_total{kind=passkey|signed}`, `tracker_scrapes_total`,
/// `tracker_refusals_total{cause=…}`, `tracker_swarms`, `tracker_peers`, `tracker_reloads_total{result=ok|failed}`,
/// `tracker_revoked_peers_purged_total`, `tracker_connections`, `tracker_connections_refused_total`.
struct TrackerMetrics: Sendable {
    let passkeyAnnounces: Counter
    let signedAnnounces: Counter
    let scrapes: Counter
    let refusals: [RefusalCause: Counter]
    let swarms: Gauge
    let peers: Gauge
    let reloadsOK: Counter
    let reloadsFailed: Counter
    let purgedPeers: Counter
    let connections: Gauge
    let connectionsRefused: Counter

    init(factory: any MetricsFactory) {
        passkeyAnnounces = Counter(
            label: "tracker_announces_total", dimensions: [("kind", "passkey")], factory: factory)
        signedAnnounces = Counter(label: "tracker_announces_total", dimensions: [("kind", "signed")], factory: factory)
        scrapes = Counter(label: "tracker_scrapes_total", factory: factory)
        var refusals: [RefusalCause: Counter] = [:]
        for cause in RefusalCause.allCases {
            refusals[cause] = Counter(
                label: "tracker_refusals_total", dimensions: [("cause", cause.rawValue)], factory: factory)
        }
        self.refusals = refusals
        swarms = Gauge(label: "tracker_swarms", factory: factory)
        peers = Gauge(label: "tracker_peers", factory: factory)
        reloadsOK = Counter(label: "tracker_reloads_total", dimensions: [("result", "ok")], factory: factory)
        reloadsFailed = Counter(label: "tracker_reloads_total", dimensions: [("result", "failed")], factory: factory)
        purgedPeers = Counter(label: "tracker_revoked_peers_purged_total", factory: factory)
        connections = Gauge(label: "tracker_connections", factory: factory)
        connectionsRefused = Counter(label: "tracker_connections_refused_total", factory: factory)
    }

    func refused(_ cause: RefusalCause) {
        refusals[cause]?.increment()
    }
}
