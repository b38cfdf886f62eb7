import Logging
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A swift-log handler that writes one JSON object a line to standard error, for journald, Loki or any collector that
/// reads JSON lines: `{"time":"2026-12-02T17:50:03.123Z","level":"info","label":"swtorrent.seed",
/// "source":"Engine","message":"…","metadata":{"torrent":"…"}}`. Metadata values are strings (nested lists and
/// dictionaries are rendered as swift-log prints them). Each line is one `write(2)`, so lines from several threads
/// do not interleave.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        StandardErrorLine.write(
            Self.line(
                time: Self.timestamp(), level: event.level, label: label, source: event.source,
                message: "\(event.message)", metadata: merged))
    }

    /// The JSON object for one record, without the newline.
    public static func line(
        time: String, level: Logger.Level, label: String, source: String, message: String, metadata: Logger.Metadata
    ) -> String {
        var out = "{\"time\":\(quoted(time)),\"level\":\(quoted(level.rawValue)),\"label\":\(quoted(label))"
        out += ",\"source\":\(quoted(source)),\"message\":\(quoted(message))"
        if !metadata.isEmpty {
            let fields = metadata.sorted { $0.key < $1.key }.map { "\(quoted($0.key)):\(quoted("\($0.value)"))" }
            out += ",\"metadata\":{" + fields.joined(separator: ",") + "}"
        }
        return out + "}"
    }

    /// A JSON string literal (``JSONString``).
    public static func quoted(_ text: String) -> String {
        JSONString.quoted(text)
    }

    /// UTC, milliseconds: `2026-12-02T17:50:03.123Z`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let millis = Int(now.tv_nsec / 1_000_000)
        let ms = millis < 10 ? "00\(millis)" : (millis < 100 ? "0\(millis)" : "\(millis)")
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}

/// Whole lines to file descriptor 2, each in one `write(2)` call (retried on EINTR and short writes).
enum StandardErrorLine {
    static func write(_ line: String) {
        var text = line + "\n"
        text.withUTF8 { buffer in
            var done = 0
            while done < buffer.count {
                #if canImport(Glibc)
                    let n = Glibc.write(2, buffer.baseAddress! + done, buffer.count - done)
                #elseif canImport(Musl)
                    let n = Musl.write(2, buffer.baseAddress! + done, buffer.count - done)
                #else
                    let n = Darwin.write(2, buffer.baseAddress! + done, buffer.count - done)
                #endif
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return }
                done += n
            }
        }
    }
}
