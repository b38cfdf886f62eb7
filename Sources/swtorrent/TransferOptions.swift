import ArgumentParser
import Engine
import Identity
import Logging
import Node
import Operations
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Options shared by `seed` and `leech`.
struct TransferOptions: ParsableArguments {
    @Option(name: .long, help: "TCP port to accept peers on (default: any free port, announced to trackers).")
    var port: Int = 0

    @Option(name: .long, help: "A peer to dial directly, HOST:PORT or [IPV6]:PORT (repeatable).")
    var peer: [String] = []

    @Flag(name: .long, help: "Do not announce to the torrent's trackers (use --peer and local discovery only).")
    var noTracker = false

    @Option(name: .long, help: "Upload limit in bytes per second.")
    var uploadLimit: Int?

    @Option(name: .long, help: "Download limit in bytes per second.")
    var downloadLimit: Int?

    @Option(name: .long, help: "Most connections at once.")
    var maxConnections: Int = 80

    @Flag(
        inversion: .prefixedNo,
        help: ArgumentHelp(
            "Find peers on the local network by BEP 14 multicast (on by default; private torrents only with --key "
                + "and --allow, without --allow-plain-peers)."))
    var lsd = true

    @Option(
        name: .customLong("lsd-interface"), help: ArgumentHelp(
            "Run local discovery on this interface (repeatable; default: every interface that is up, "
                + "multicast-capable and not loopback).", valueName: "name"))
    var lsdInterface: [String] = []

    @Option(
        name: .customLong("lan"), help: ArgumentHelp(
            "A network whose peers count as LAN besides this host's subnets, e.g. 10.20.0.0/16 (repeatable: a "
                + "site's address plan).", valueName: "cidr"))
    var lan: [String] = []

    @Option(
        name: .customLong("wan"), help: ArgumentHelp(
            "A network whose peers count as WAN even if they look local, e.g. a router's subnet (repeatable; wins "
                + "over --lan, local subnets and local discovery).", valueName: "cidr"))
    var wan: [String] = []

    @Flag(
        inversion: .prefixedNo,
        help: ArgumentHelp(
            "LAN-first selection (on by default): pieces a LAN peer has come from LAN peers, WAN peers are asked "
                + "only for the rest, LAN peers get upload slots first. --no-lan-first: rarest first from every peer."))
    var lanFirst = true

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The node key file (from `swtorrent keygen`): signs announces, and with --allow authenticates this node "
                + "to the peers of private torrents.", valueName: "path"))
    var key: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Private torrents talk only TLS 1.3 to peers whose node key is on this allowlist (the tracker's format; "
                + "re-read on SIGHUP and when it changes). Needs --key.", valueName: "file"))
    var allow: String?

    @Flag(
        name: .long,
        help: "With --allow: let plain BitTorrent clients (no node key) into private torrents too, for mixed fleets.")
    var allowPlainPeers = false

    @Flag(name: .long, help: "Print progress as JSON lines on stdout.")
    var json = false

    @Flag(name: .long, help: "Log what the engine does (stderr).")
    var verbose = false

    /// No option was given but `--no-lsd` (`seed --config` takes its settings from the file; `--no-lsd` overrides
    /// it).
    var isDefaultButLocalDiscovery: Bool {
        port == 0 && peer.isEmpty && !noTracker && uploadLimit == nil && downloadLimit == nil && maxConnections == 80
            && lsdInterface.isEmpty && lan.isEmpty && wan.isEmpty && lanFirst && key == nil && allow == nil
            && !allowPlainPeers && !json && !verbose
    }

    /// The session settings these options describe.
    func sessionConfiguration() throws -> SessionConfiguration {
        var configuration = SessionConfiguration()
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port) is not a TCP port (0-65535)") }
        configuration.port = port
        do {
            configuration.manualPeers = try peer.map { try PeerAddress(parsing: $0) }
        } catch {
            throw ValidationError("\(error)")
        }
        configuration.useTrackers = !noTracker
        configuration.uploadRateLimit = uploadLimit
        configuration.downloadRateLimit = downloadLimit
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        configuration.maxConnections = maxConnections
        configuration.lanFirst = lanFirst
        configuration.lanNetworks = try Self.networks(lan, option: "--lan")
        configuration.wanNetworks = try Self.networks(wan, option: "--wan")
        if let key {
            do {
                configuration.announceParameters = SessionConfiguration.signedAnnounces(key: try NodeKey.load(path: key))
            } catch {
                throw ValidationError("--key: \(error)")
            }
        }
        return configuration
    }

    /// The node's private swarms from `--key` and `--allow` (nil without `--allow`).
    func privateSwarm(logger: Logger) throws -> PrivateSwarm? {
        guard let allow else {
            if allowPlainPeers { throw ValidationError("--allow-plain-peers applies to private swarms: give --allow FILE") }
            return nil
        }
        guard let key else {
            throw ValidationError(
                "--allow needs --key PATH: the node key this node authenticates with to the peers of private torrents "
                    + "(`swtorrent keygen` makes one)")
        }
        do throws(NodeError) {
            return try PrivateSwarm(keyPath: key, allowlistPath: allow, allowPlainPeers: allowPlainPeers, logger: logger)
        } catch {
            throw ValidationError("--allow: \(error.message)")
        }
    }

    /// The networks given to `option`, each `ADDRESS/LENGTH` or one address.
    private static func networks(_ texts: [String], option: String) throws -> [CIDR] {
        do {
            return try texts.map { try CIDR(parsing: $0) }
        } catch {
            throw ValidationError("\(option): \(error)")
        }
    }

    /// Sends every library's log lines to stderr (stdout carries the --json lines), as text unless `format` says
    /// JSON. Once per process: `seed` and `leech` call it first thing (`tracker` bootstraps its own).
    func bootstrapLogging(format: LogFormat = .text) {
        format.bootstrap()
    }

    /// The logger the transfer's libraries log to (the engine at warning, or debug with --verbose).
    func logger(_ command: String) -> Logger {
        var logger = Logger(label: "swtorrent.\(command)")
        logger.logLevel = verbose ? .debug : .warning
        return logger
    }

    /// Runs `body` as a service of a ``ServiceGroup`` that shuts down gracefully on SIGTERM/SIGINT (the transfer
    /// stops its session, which announces `stopped`), beside `services` (the status endpoints, a deadline); the
    /// group shuts down gracefully when `body` or any of them returns. Returns what `body` returned.
    func runAsService<Result: Sendable>(
        _ command: String, services: [any Service] = [], _ body: @escaping @Sendable () async -> Result
    ) async -> Result? {
        let service = TransferService(body)
        let logger = self.logger(command)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)]
                    + services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            StandardError.report(command, "\(error)")
        }
        return service.result
    }

    /// The end of a transfer: the final progress line (JSON on stdout, or a line on stderr) and, for a stall, why.
    func reportEnd(_ command: String, _ outcome: SessionOutcome, mode: Transfer.Mode) {
        let final: SessionProgress
        let event: String
        switch outcome {
        case .complete(let p): (final, event) = (p, "complete")
        case .stopped(let p): (final, event) = (p, "stopped")
        case .stalled(let p): (final, event) = (p, "stalled")
        }
        if json {
            Output.line(ProgressFormat.json(final, event: event))
        } else {
            if isatty(STDERR_FILENO) == 1 { StandardError.write("\r\u{1b}[K") }
            StandardError.report(command, "\(event): \(ProgressFormat.line(final))")
        }
        if case .incomplete(let message) = Transfer.status(of: outcome, mode: mode) {
            StandardError.report(command, message)
        }
    }

    var progressPrinter: ProgressPrinter {
        ProgressPrinter(json: json, terminal: isatty(STDERR_FILENO) == 1)
    }
}
