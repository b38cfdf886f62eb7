import Engine
import Foundation
import Logging
import Operations
import Yams

extension DaemonConfiguration {
    /// The largest config file read (a config file is a few kilobytes; this bounds memory and parse time).
    public static let maximumFileSize = 1 << 20

    /// Reads and checks the config file.
    ///
    /// Every key is known (a misspelt key is an error that suggests the right one), every value has its type and
    /// range, and each message names the file, the line, the key and the fix.
    ///
    /// - Parameter path: the YAML file.
    /// - Throws: ``NodeError`` `.configuration`.
    public static func load(path: String) throws(NodeError) -> DaemonConfiguration {
        let data: Data
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            if let size = attributes[.size] as? Int, size > maximumFileSize {
                throw NodeError(
                    .configuration,
                    "\(path): \(size) bytes is over the \(maximumFileSize)-byte limit for a config file; "
                        + "is this the right file?")
            }
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as NodeError {
            throw error
        } catch {
            throw NodeError(
                .configuration, "\(path): cannot be read (\(error.localizedDescription)); check the path given to --config")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw NodeError(.configuration, "\(path): not UTF-8 text; save the config file as UTF-8")
        }
        return try parse(text, path: path)
    }

    /// Parses config file text (``load(path:)`` without the file).
    public static func parse(_ text: String, path: String) throws(NodeError) -> DaemonConfiguration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch YamlError.duplicatedKeysInMapping(let duplicates, let context) {
            throw NodeError(
                .configuration,
                "\(path):\(context.mark.line): \(duplicates.sorted().joined(separator: ", ")) is given twice in this "
                    + "mapping; keep one of them")
        } catch {
            throw NodeError(.configuration, "\(path): not valid YAML: \(Self.describe(error)); fix the syntax there")
        }
        guard let root else {
            throw NodeError(
                .configuration, "\(path): the file is empty; it needs at least data, watch and state (Docs/operations.md)")
        }
        let base = (path as NSString).deletingLastPathComponent
        var configuration = DaemonConfiguration(path: path)
        let top = try ConfigSection(root, name: nil, file: path, base: base)
        try top.allow([
            "listen", "node", "trackers", "lsd", "locality", "limits", "data", "watch", "state", "status", "http",
            "log", "shutdown-timeout",
        ])
        if let listen = try top.address("listen") { configuration.listen = listen }
        if let node = try top.section("node") {
            try node.allow(["key", "allow", "allow-plain-peers"])
            configuration.nodeKey = try node.path("key")
            configuration.allowlist = try node.path("allow")
            if let plain = try node.bool("allow-plain-peers") { configuration.allowPlainPeers = plain }
            if configuration.allowlist != nil && configuration.nodeKey == nil {
                throw node.error(
                    "allow", line: node.line,
                    "needs node.key: the key this node authenticates with to the peers of private torrents")
            }
            if configuration.allowPlainPeers && configuration.allowlist == nil {
                throw node.error(
                    "allow-plain-peers", line: node.line, "applies to private swarms: give node.allow too")
            }
        }
        if let trackers = try top.section("trackers") {
            try trackers.allow(["enabled"])
            if let enabled = try trackers.bool("enabled") { configuration.trackersEnabled = enabled }
        }
        if let lsd = try top.section("lsd") {
            try lsd.allow(["enabled", "interfaces"])
            if let enabled = try lsd.bool("enabled") { configuration.localDiscovery.enabled = enabled }
            configuration.localDiscovery.interfaces = try lsd.strings("interfaces") ?? []
            if !configuration.localDiscovery.enabled && !configuration.localDiscovery.interfaces.isEmpty {
                throw lsd.error(
                    "interfaces", line: lsd.line, "names interfaces while lsd.enabled is false; remove one of the two")
            }
        }
        if let locality = try top.section("locality") {
            try locality.allow(["lan-first", "lan", "wan"])
            if let lanFirst = try locality.bool("lan-first") { configuration.lanFirst = lanFirst }
            configuration.lanNetworks = try locality.networks("lan")
            configuration.wanNetworks = try locality.networks("wan")
        }
        if let limits = try top.section("limits") {
            try limits.allow(["connections", "half-open", "upload-rate", "checks", "per-torrent"])
            if let value = try limits.integer("connections", in: 1...100_000) { configuration.connections = value }
            if let value = try limits.integer("half-open", in: 1...10_000) { configuration.halfOpen = value }
            if let value = try limits.rate("upload-rate") { configuration.uploadRate = value }
            if let value = try limits.integer("checks", in: 1...64) { configuration.checksAtOnce = value }
            if let perTorrent = try limits.section("per-torrent") {
                try perTorrent.allow(["connections", "upload-rate", "upload-slots"])
                if let value = try perTorrent.integer("connections", in: 1...100_000) {
                    configuration.perTorrent.connections = value
                }
                if let value = try perTorrent.rate("upload-rate") { configuration.perTorrent.uploadRate = value }
                if let value = try perTorrent.integer("upload-slots", in: 1...1000) {
                    configuration.perTorrent.uploadSlots = value
                }
            }
        }
        guard let data = try top.paths("data"), !data.isEmpty else {
            throw top.missing("data", fix: "list the directories that hold the torrents' data, e.g. data: [/srv/releases]")
        }
        configuration.dataDirectories = data
        guard let watch = try top.section("watch") else {
            throw top.missing("watch", fix: "add watch: {directory: /srv/swtorrent/torrents}")
        }
        try watch.allow(["directory", "interval", "parse-timeout"])
        guard let directory = try watch.path("directory") else {
            throw watch.missing("directory", fix: "name the directory of .torrent files to seed")
        }
        configuration.watchDirectory = directory
        if let value = try watch.duration("interval", in: .milliseconds(100) ... .seconds(3600)) {
            configuration.scanInterval = value
        }
        if let value = try watch.duration("parse-timeout", in: .seconds(1) ... .seconds(86_400)) {
            configuration.parseTimeout = value
        }
        guard let state = try top.path("state") else {
            throw top.missing("state", fix: "name a directory the daemon may write, e.g. state: /var/lib/swtorrent")
        }
        configuration.stateDirectory = state
        if let value = try top.duration("shutdown-timeout", in: .seconds(1) ... .seconds(300)) {
            configuration.shutdownTimeout = value
        }
        if let status = try top.section("status") {
            try status.allow(["listen"])
            configuration.statusListen = try status.address("listen")
        }
        if let http = try top.section("http") {
            try http.allow(["listen", "per-client"])
            configuration.httpListen = try http.address("listen")
            if let perClient = try http.section("per-client") {
                try perClient.allow(["connections"])
                if let value = try perClient.integer("connections", in: 1...10_000) {
                    configuration.httpConnectionsPerClient = value
                }
            }
        }
        if let log = try top.section("log") {
            try log.allow(["format", "level"])
            if let format = try log.choice("format", LogFormatChoice.allCases.map(\.rawValue)) {
                configuration.logFormat = LogFormatChoice(rawValue: format)!
            }
            if let level = try log.choice("level", Logger.Level.allCases.map(\.rawValue)) {
                configuration.logLevel = Logger.Level(rawValue: level)!
            }
        }
        return configuration
    }

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? YamlError else { return "\(error)" }
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return "line \(mark.line), column \(mark.column): \(problem)"
        default:
            return "\(error)"
        }
    }
}
