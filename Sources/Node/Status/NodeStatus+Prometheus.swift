import Engine
import LocalDiscovery
import Prometheus

extension NodeStatus {
    /// The status in the Prometheus text format, as `/metrics` serves it (Docs/operations.md lists the names).
    /// Rendered by swift-prometheus from a registry filled from this snapshot, so a torrent that left is gone from
    /// the next scrape.
    public func prometheus() -> [UInt8] {
        let metrics = Registry()
        metrics.gauge("swtorrent_up", "1 while the node runs", 1)
        metrics.gauge("swtorrent_uptime_seconds", "Seconds since the node started", uptimeSeconds)
        metrics.gauge("swtorrent_torrents", "Torrents the node lists", Double(torrents.count))
        metrics.gauge("swtorrent_connections", "Open peer connections", Double(connections))
        metrics.counter("swtorrent_downloaded_bytes_total", "Payload bytes downloaded", downloaded)
        metrics.counter("swtorrent_uploaded_bytes_total", "Payload bytes uploaded", uploaded)
        for locality in PeerLocality.allCases {
            metrics.gauge(
                "swtorrent_peers", "Connected peers by locality", Double(peerLocalities[locality] ?? 0),
                [("locality", locality.rawValue)])
        }
        for reason in PeerRefusal.allCases {
            metrics.counter(
                "swtorrent_refusals_total", "Connections closed before they reached a torrent, by reason",
                Int64(refusals[reason.rawValue] ?? 0), [("reason", Self.label(reason.rawValue))])
        }
        for state in TorrentState.allCases {
            metrics.gauge(
                "swtorrent_torrents_by_state", "Torrents by state",
                Double(torrents.filter { $0.state == state }.count), [("state", state.rawValue)])
        }
        for torrent in torrents {
            let labels = [("torrent", torrent.name ?? torrent.file ?? "?"), ("infohash", torrent.infoHash ?? "")]
            metrics.counter(
                "swtorrent_torrent_downloaded_bytes_total", "Payload bytes downloaded for the torrent",
                torrent.downloaded, labels)
            metrics.counter(
                "swtorrent_torrent_uploaded_bytes_total", "Payload bytes uploaded for the torrent", torrent.uploaded,
                labels)
            metrics.gauge(
                "swtorrent_torrent_verified_bytes", "Verified bytes of the torrent's data",
                Double(torrent.verifiedBytes), labels)
            metrics.gauge("swtorrent_torrent_size_bytes", "The torrent's size", Double(torrent.totalBytes), labels)
            for locality in PeerLocality.allCases {
                metrics.gauge(
                    "swtorrent_torrent_peers", "Connected peers of the torrent by locality",
                    Double(torrent.peerLocalities[locality] ?? 0), labels + [("locality", locality.rawValue)])
            }
        }
        if let http = httpMirror {
            metrics.counter("swtorrent_http_requests_total", "HTTP mirror responses sent", Int64(http.requests))
            metrics.counter("swtorrent_http_served_bytes_total", "HTTP mirror body bytes sent", http.bytesServed)
            metrics.gauge("swtorrent_http_connections", "HTTP mirror connections open", Double(http.connections))
            for (reason, count) in http.refusals.sorted(by: { $0.key < $1.key }) {
                metrics.counter(
                    "swtorrent_http_refusals_total", "HTTP mirror requests and connections refused, by reason",
                    Int64(count), [("reason", Self.label(reason))])
            }
        }
        if let lsd = localDiscovery {
            metrics.gauge("swtorrent_lsd_torrents", "Info-hashes local discovery announces", Double(lsd.torrents))
            metrics.counter("swtorrent_lsd_sent_total", "Local discovery datagrams sent", Int64(lsd.sent))
            metrics.counter(
                "swtorrent_lsd_accepted_total", "Local discovery datagrams accepted from other hosts", Int64(lsd.accepted))
            for drop in InboundFilter.Drop.allCases {
                metrics.counter(
                    "swtorrent_lsd_dropped_total", "Local discovery datagrams dropped, by reason",
                    Int64(lsd.dropped[drop.rawValue] ?? 0), [("reason", Self.label(drop.rawValue))])
            }
            metrics.counter(
                "swtorrent_lsd_peers_total", "Peers local discovery reported for the node's torrents",
                Int64(lsd.peersReported))
            metrics.counter(
                "swtorrent_lsd_dials_deferred_total",
                "Reported addresses seeds held back to a later dialling round (10 new a second, one per host a round)",
                Int64(lsd.dialsDeferred))
            metrics.counter(
                "swtorrent_lsd_addresses_replaced_total",
                "Reported addresses forgotten for a newer one of the same host (a host keeps 8 waiting)",
                Int64(lsd.addressesReplaced))
        }
        return metrics.registry.emitToBuffer()
    }

    /// `unknown info-hash` → `unknown_info_hash`: a label value without spaces, for PromQL by hand.
    static func label(_ text: String) -> String {
        String(text.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
}

/// A swift-prometheus registry filled with values, one call a sample.
private struct Registry {
    let registry = PrometheusCollectorRegistry()

    func gauge(_ name: String, _ help: String, _ value: Double, _ labels: [(String, String)] = []) {
        registry.makeGauge(descriptor: Self.descriptor(name, help), labels: labels).set(to: value)
    }

    func counter(_ name: String, _ help: String, _ value: Int64, _ labels: [(String, String)] = []) {
        registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels).increment(by: max(0, value))
    }

    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
