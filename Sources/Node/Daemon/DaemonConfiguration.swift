import Engine
import LocalDiscovery
import Logging
import Operations

/// What `swtorrent seed --config FILE` runs: the seed daemon's settings, read from a YAML file the operator owns
/// (``load(path:)``; format and every key in `Docs/operations.md`). The daemon never writes the file.
///
/// Paths in the file are taken relative to the file's own directory. Settings marked "restart" below are read at
/// start; a reload that changes them logs that they take effect at the next start and keeps the running value.
public struct DaemonConfiguration: Sendable, Hashable {
    /// Limits for each torrent on its own (under the node-wide ones).
    public struct TorrentLimits: Sendable, Hashable {
        /// Open peer connections of one torrent.
        public var connections = 80
        /// Upload rate of one torrent in bytes per second (nil: only the node-wide limit).
        public var uploadRate: Int?
        /// Regular upload slots of one torrent (plus one optimistic).
        public var uploadSlots = 8

        public init() {}
    }

    /// The file this was read from.
    public var path: String
    /// The one peer listener (restart).
    public var listen = PeerAddress(host: "0.0.0.0", port: 6881)
    /// Node key file that signs announces (`swtorrent keygen`); nil announces unsigned.
    public var nodeKey: String?
    /// The allowlist of private swarms (`node.allow`, needs `node.key`): private torrents talk TLS 1.3 to listed
    /// keys only (Docs/peer-tls.md); the file itself is re-read on SIGHUP and when it changes (restart to name
    /// another file).
    public var allowlist: String?
    /// `node.allow-plain-peers`: plain BitTorrent clients may join private torrents too (restart).
    public var allowPlainPeers = false
    /// Announce to each torrent's trackers.
    public var trackersEnabled = true
    /// BEP 14 local discovery: on by default on every suitable interface, as in `seed` and `leech`; private
    /// torrents use it only with ``nodeKey`` and ``allowlist`` and without ``allowPlainPeers`` (restart).
    public var localDiscovery = LocalDiscoverySettings()
    /// LAN-first ([lan-first.md](Docs/lan-first.md)): for a seed, LAN peers get upload slots first.
    public var lanFirst = true
    /// Networks whose peers count as LAN besides this host's subnets (`--lan`).
    public var lanNetworks: [CIDR] = []
    /// Networks whose peers count as WAN whatever else says (`--wan`).
    public var wanNetworks: [CIDR] = []
    /// Open peer connections over all torrents (restart).
    public var connections = 200
    /// Outgoing connection attempts at once over all torrents (restart).
    public var halfOpen = 32
    /// Upload rate over all torrents in bytes per second; nil: unlimited (restart).
    public var uploadRate: Int?
    /// Limits per torrent.
    public var perTorrent = TorrentLimits()
    /// Where the torrents' data is: a torrent named N is served from the first directory that holds N.
    public var dataDirectories: [String] = []
    /// The directory of `.torrent` files to seed (never modified by the daemon).
    public var watchDirectory = ""
    /// Where the daemon keeps resume data (restart).
    public var stateDirectory = ""
    /// How often the watch directory (and this file) are looked at.
    public var scanInterval: Duration = .seconds(1)
    /// A `.torrent` that does not parse is retried at each scan for this long after it last changed (a file still
    /// being written), then reported and left alone until it changes again.
    public var parseTimeout: Duration = .seconds(60)
    /// Torrents whose data is checked (hashed, or matched against resume data) at once.
    public var checksAtOnce = 2
    /// SIGTERM: the longest the daemon waits for its `stopped` announces before it exits anyway (resume data is
    /// written before that wait).
    public var shutdownTimeout: Duration = .seconds(10)
    /// Address of the status and metrics HTTP server; nil: none.
    public var statusListen: PeerAddress?
    /// Address of the HTTP mirror (`http.listen`): the seeded files over HTTP for curl, caches and web-seed clients
    /// (``MirrorServer``); nil: none (restart).
    public var httpListen: PeerAddress?
    /// `http.per-client.connections`: the HTTP mirror's connections open at once from one client (an IPv4 or
    /// IPv6 address); more are closed at once (``MirrorServer/Settings/connectionsPerClient``; restart).
    public var httpConnectionsPerClient = MirrorServer.Settings().connectionsPerClient
    /// Log format (`auto`: JSON lines when stderr is not a terminal, text on one) and level (restart).
    public var logFormat = LogFormatChoice.auto
    public var logLevel = Logger.Level.info

    public init(path: String) {
        self.path = path
    }

    /// What the command line changes in every configuration loaded from the file.
    public struct Overrides: Sendable, Hashable {
        /// `--no-lsd`: local discovery off whatever the file says.
        public var localDiscoveryOff = false

        public init(localDiscoveryOff: Bool = false) {
            self.localDiscoveryOff = localDiscoveryOff
        }

        func apply(to configuration: inout DaemonConfiguration) {
            if localDiscoveryOff { configuration.localDiscovery.enabled = false }
        }
    }

    /// The host (listener and node-wide limits) these settings describe.
    public var hostConfiguration: HostConfiguration {
        var host = HostConfiguration()
        host.listenHost = listen.host
        host.port = listen.port
        host.maxConnections = connections
        host.maxHalfOpen = halfOpen
        host.uploadRateLimit = uploadRate
        return host
    }

    /// The HTTP mirror's limits these settings describe.
    public var mirrorServerSettings: MirrorServer.Settings {
        var settings = MirrorServer.Settings()
        settings.connectionsPerClient = httpConnectionsPerClient
        return settings
    }

    /// What each torrent's session is made with: a reload that changes any of it restarts the running torrents
    /// (from their resume data, without reading the data again).
    var sessionSettings: [String] {
        [
            nodeKey ?? "", "\(trackersEnabled)", "\(perTorrent.connections)", "\(perTorrent.uploadRate ?? 0)",
            "\(perTorrent.uploadSlots)", "\(lanFirst)", "\(lanNetworks)", "\(wanNetworks)",
        ] + dataDirectories
    }

    /// These settings with the restart-only ones (``restartOnlySettings``) taken from `running`.
    func keepingRestartOnlySettings(of running: DaemonConfiguration) -> DaemonConfiguration {
        var kept = self
        kept.listen = running.listen
        kept.nodeKey = running.nodeKey
        kept.localDiscovery = running.localDiscovery
        kept.allowlist = running.allowlist
        kept.allowPlainPeers = running.allowPlainPeers
        kept.connections = running.connections
        kept.halfOpen = running.halfOpen
        kept.uploadRate = running.uploadRate
        kept.stateDirectory = running.stateDirectory
        kept.statusListen = running.statusListen
        kept.httpListen = running.httpListen
        kept.httpConnectionsPerClient = running.httpConnectionsPerClient
        kept.logFormat = running.logFormat
        kept.logLevel = running.logLevel
        return kept
    }

    /// The settings that need a restart to change, as `key: value` pairs (compared on reload).
    public var restartOnlySettings: [String: String] {
        [
            "listen": "\(listen)",
            "node.key": nodeKey ?? "none",
            "node.allow": allowlist ?? "none",
            "node.allow-plain-peers": "\(allowPlainPeers)",
            "lsd.enabled": "\(localDiscovery.enabled)",
            "lsd.interfaces": localDiscovery.interfaces.joined(separator: ","),
            "limits.connections": "\(connections)",
            "limits.half-open": "\(halfOpen)",
            "limits.upload-rate": uploadRate.map { "\($0)" } ?? "unlimited",
            "state": stateDirectory,
            "status.listen": statusListen.map { "\($0)" } ?? "none",
            "http.listen": httpListen.map { "\($0)" } ?? "none",
            "http.per-client.connections": "\(httpConnectionsPerClient)",
            "log.format": logFormat.rawValue,
            "log.level": logLevel.rawValue,
        ]
    }
}
