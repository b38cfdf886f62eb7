import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a daemon's log lines look on standard error.
public enum LogFormat: String, Sendable, Hashable, CaseIterable {
    /// swift-log's `StreamLogHandler` lines, for people at a terminal.
    case text
    /// One JSON object a line (``JSONLogHandler``), for journald and log collectors.
    case json

    /// `text` when standard error is a terminal, `json` otherwise (a pipe, a file, journald).
    public static var automatic: LogFormat { isatty(2) == 1 ? .text : .json }

    /// Sends every logger of the process to standard error in this format. Once per process, first thing.
    ///
    /// - Parameter level: the handlers' level; each `Logger` may set its own too.
    public func bootstrap(level: Logger.Level = .info) {
        switch self {
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        case .json:
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}

/// A log format as an operator chooses it (`seed --log-format`, the daemon's `log.format`): one of the formats, or
/// `auto`, which is ``LogFormat/automatic`` when the process starts.
public enum LogFormatChoice: String, Sendable, Hashable, CaseIterable {
    case auto, text, json

    /// The format this choice means in this process.
    public var format: LogFormat {
        switch self {
        case .auto: .automatic
        case .text: .text
        case .json: .json
        }
    }
}
