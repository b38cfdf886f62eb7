import Engine

extension NodeStatus {
    /// The status for people, as `swtorrent status` prints it: one line for the node, then one row per torrent.
    ///
    /// ```
    /// node: 2 torrents, 5 connections (LAN 3, WAN 2), up 1.2 GB, down 0 B, refused 4, uptime 1:02:03
    /// NAME          STATE     PROGRESS  SIZE      DOWN/s    UP/s      PEERS  SOURCES
    /// app.tar       seeding   100.0%    1.1 GB    0 B       12.3 MB   3      incoming 3
    /// ```
    public func table() -> String {
        let lan = peerLocalities[.lan] ?? 0
        let wan = peerLocalities[.wan] ?? 0
        let refused = refusals.values.reduce(0, +)
        var lines = [
            "node: \(torrents.count) torrent\(torrents.count == 1 ? "" : "s"), \(connections) connection"
                + "\(connections == 1 ? "" : "s") (LAN \(lan), WAN \(wan)), up \(ProgressFormat.bytes(Double(uploaded)))"
                + ", down \(ProgressFormat.bytes(Double(downloaded))), refused \(refused)"
                + ", uptime \(ProgressFormat.clock(uptimeSeconds))"
                + (listenPort.map { ", peers on port \($0)" } ?? "")
        ]
        if let http = httpMirror {
            let refused = http.refusals.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            lines.append(
                "http mirror \(http.address): \(http.requests) requests, \(ProgressFormat.bytes(Double(http.bytesServed)))"
                    + " served, \(http.connections) open" + (refused.isEmpty ? "" : ", refused: " + refused.joined(separator: ", ")))
        }
        if let lsd = localDiscovery {
            let dropped = lsd.dropped.values.reduce(0, +)
            lines.append(
                "local discovery: \(lsd.torrents) announced, \(lsd.sent) sent, \(lsd.accepted) accepted, "
                    + "\(dropped) dropped, \(lsd.peersReported) peers found"
                    + (lsd.dialsDeferred > 0 ? ", \(lsd.dialsDeferred) dials deferred" : "")
                    + (lsd.addressesReplaced > 0 ? ", \(lsd.addressesReplaced) addresses replaced" : ""))
        }
        var rows = [["NAME", "STATE", "PROGRESS", "SIZE", "DOWN/s", "UP/s", "PEERS", "SOURCES"]]
        for t in torrents {
            let sources = t.peerSources.filter { $0.value > 0 }.sorted { $0.key.rawValue < $1.key.rawValue }
                .map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ")
            rows.append([
                t.name ?? t.file ?? "?", t.state.rawValue, ProgressFormat.format1(t.percent) + "%",
                ProgressFormat.bytes(Double(t.totalBytes)),
                ProgressFormat.bytes(t.downloadRate), ProgressFormat.bytes(t.uploadRate), "\(t.peers)",
                sources.isEmpty ? "-" : sources,
            ])
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            let cells = row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column] + 2)
            }
            lines.append(cells.joined())
        }
        for t in torrents where t.message != nil {
            lines.append("\(t.name ?? t.file ?? "?"): \(t.state.rawValue): \(t.message ?? "")")
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    fileprivate func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}
