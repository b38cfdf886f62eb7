import SystemSupport

/// Renders ``SessionProgress`` for people (one terminal status line) and for programs (one JSON object a line).
public enum ProgressFormat {
    /// `42.0% 812.3 MB/s down 0 B/s up 3 peers 1/2 mirrors ETA 0:07`.
    public static func line(_ p: SessionProgress) -> String {
        var parts = [
            String(format1(p.percent)) + "%",
            bytes(p.downloadRate) + "/s down",
            bytes(p.uploadRate) + "/s up",
            "\(p.peers) peer" + (p.peers == 1 ? "" : "s"),
        ]
        if !p.mirrors.isEmpty {
            let active = p.mirrors.filter { $0.state == .active }.count
            parts.append("\(active)/\(p.mirrors.count) mirror" + (p.mirrors.count == 1 ? "" : "s"))
        }
        if p.complete {
            parts.append("complete")
        } else if let eta = p.etaSeconds {
            parts.append("ETA " + clock(eta))
        } else {
            parts.append("ETA --")
        }
        if p.hashFailures > 0 { parts.append("\(p.hashFailures) bad pieces") }
        return parts.joined(separator: "  ")
    }

    /// One JSON object (no newline): `{"event":"progress","percent":42.0,...}`.
    public static func json(_ p: SessionProgress, event: String = "progress") -> String {
        var fields: [(String, String)] = [
            ("event", "\"\(event)\""),
            ("percent", format1(p.percent)),
            ("verifiedBytes", "\(p.verifiedBytes)"),
            ("totalBytes", "\(p.totalBytes)"),
            ("piecesVerified", "\(p.piecesVerified)"),
            ("pieceCount", "\(p.pieceCount)"),
            ("downloadRate", "\(Int64(p.downloadRate))"),
            ("uploadRate", "\(Int64(p.uploadRate))"),
            ("downloaded", "\(p.downloaded)"),
            ("uploaded", "\(p.uploaded)"),
            ("peers", "\(p.peers)"),
            ("complete", p.complete ? "true" : "false"),
            ("hashFailures", "\(p.hashFailures)"),
            ("bannedPeers", "\(p.bannedPeers)"),
        ]
        fields.append(("etaSeconds", p.etaSeconds.map { format1($0) } ?? "null"))
        fields.append(("sources", counts(p.peerSources)))
        fields.append(("localities", counts(p.peerLocalities)))
        fields.append(("mirrors", "[" + p.mirrors.map(mirror).joined(separator: ",") + "]"))
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// `{"url":"http://10.0.0.5/r/","locality":"lan","state":"backing-off","bytes":1048576,"rate":0,"failures":3,
    /// "reason":"3 failures, backing off 4 s (HTTP 503 Service Unavailable ...)"}` (no `reason` while it has none).
    static func mirror(_ m: MirrorProgress) -> String {
        var out = "{\"url\":" + JSONString.quoted(m.url) + (m.isOrigin ? ",\"origin\":true" : "")
        out += ",\"locality\":\"\(m.locality.rawValue)\""
        out += ",\"state\":\"\(m.state.rawValue)\",\"bytes\":\(m.bytes),\"rate\":\(Int64(m.rate))"
        out += ",\"failures\":\(m.failures)"
        if let reason = m.reason { out += ",\"reason\":" + JSONString.quoted(reason) }
        return out + "}"
    }

    /// `{"lsd":1,"tracker":2}`: the kinds that have at least one peer, sorted.
    static func counts<Kind: RawRepresentable<String>>(_ counts: [Kind: Int]) -> String {
        let fields = counts.filter { $0.value > 0 }.map { ($0.key.rawValue, $0.value) }.sorted { $0.0 < $1.0 }
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// A byte count with a decimal unit: `812.3 MB`.
    public static func bytes(_ value: Double) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var v = max(0, value)
        var unit = 0
        while v >= 1000 && unit < units.count - 1 {
            v /= 1000
            unit += 1
        }
        return unit == 0 ? "\(Int(v)) B" : "\(format1(v)) \(units[unit])"
    }

    /// `h:mm:ss` or `m:ss`.
    public static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds < 100 * 3600 else { return "--" }
        let s = Int(seconds.rounded(.up))
        let (h, m, r) = (s / 3600, s / 60 % 60, s % 60)
        let mm = m < 10 && h > 0 ? "0\(m)" : "\(m)"
        let ss = r < 10 ? "0\(r)" : "\(r)"
        return h > 0 ? "\(h):\(mm):\(ss)" : "\(mm):\(ss)"
    }

    /// One decimal: `42.0`.
    public static func format1(_ value: Double) -> String {
        let tenths = Int64((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }

    /// Parses a duration as given on the command line: `90`, `90s`, `15m`, `2h`, `1d`.
    public static func parseDuration(_ text: String) -> Duration? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var digits = Substring(text)
        var multiplier: Int64 = 1
        if let last = text.last, let m = units[last] {
            multiplier = m
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, let value = Int64(digits), value >= 0, value < Int64.max / 86400 else { return nil }
        return .seconds(value * multiplier)
    }
}
