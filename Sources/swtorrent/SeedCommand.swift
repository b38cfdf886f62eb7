import ArgumentParser
import Engine
import Node
import Operations
import ServiceLifecycle

/// `swtorrent seed TORRENT --data DIR`: serves a torrent's data until stopped (`Node.TransferRunner`).
/// `swtorrent seed --config FILE`: the seed daemon (`Node.SeedDaemon`, see `SeedCommand+Daemon.swift`).
struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Seed a torrent from a directory that holds its data, or run the seed daemon (--config).",
        discussion: """
            With --config FILE, runs the seed daemon: every .torrent file in the config's watch directory is \
            checked against its data and seeded through one listener; SIGHUP or an edit of FILE reloads it; \
            SIGTERM stops it gracefully. FILE's keys: Docs/operations.md. TORRENT, --data and the other options \
            are refused with it (the config file holds them), except --no-lsd, which turns local discovery off \
            whatever the file says (and --lsd, the default, which leaves it to the file).

            DIR holds the content as a BitTorrent save path: a single-file torrent's file is DIR/NAME, a \
            multi-file torrent's files are under DIR/NAME/. Every piece is hash-checked at start. The seed \
            announces to the torrent's HTTP trackers and (unless --no-lsd, or the torrent is private and this node \
            does not authenticate its peers with --key and --allow) to the LAN by \
            BEP 14 local discovery, dials any --peer, accepts connections on --port and runs until SIGINT or SIGTERM.

            --status ADDR serves read-only HTTP endpoints for operators (loopback unless ADDR names another \
            address; a bare PORT means 127.0.0.1:PORT): GET /metrics (Prometheus: bytes up and down per torrent \
            and for the node, peers by locality, refused connections by reason), GET /healthz and GET /status \
            (JSON; `swtorrent status ADDR` prints it as a table). Log lines go to stderr as text on a terminal and \
            as one JSON object a line otherwise (--log-format).

            --serve-http ADDR (off by default) serves the torrent's files over HTTP once every piece checked: \
            http://ADDR/t/<info-hash-hex>/ is a BEP 19 web-seed URL (leech --mirror, aria2c, libtorrent, curl), with \
            Range, ETag and immutable caching headers. Private torrents are served only over HTTPS to clients \
            presenting an allowlisted node key (with --key and --allow), or under /p/<passkey>/ for a passkey that \
            list holds. Details: \
            Docs/operations.md, "HTTP mirror".

            Exit codes: 0 stopped by SIGINT/SIGTERM; 1 I/O or network failure (cannot listen, local discovery cannot \
            start on the config's lsd.interfaces, disk error); 2 bad \
            arguments, a malformed torrent or a config file error (the message names the key and the fix); 3 DIR \
            does not hold the torrent's complete data.
            """
    )

    @Argument(help: "The .torrent file (not with --config).")
    var torrent: String?

    @Option(name: .long, help: "Directory that holds the torrent's content (the save path).")
    var data: String?

    @Option(name: .long, help: "Run the seed daemon with this YAML config file (Docs/operations.md).")
    var config: String?

    @OptionGroup var common: TransferOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Serve /metrics, /healthz and /status at ADDR (HOST:PORT, or PORT on 127.0.0.1).", valueName: "ADDR"))
    var status: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Serve the torrent's files over HTTP at ADDR (HOST:PORT, or PORT on 127.0.0.1) under "
                + "/t/<info-hash>/, a web-seed URL for curl, caches, aria2c and libtorrent.",
            valueName: "ADDR"))
    var serveHttp: String?

    @Option(name: .long, help: "Log lines on stderr: auto (text on a terminal, else JSON), text or json.")
    var logFormat: LogFormatChoice = .auto

    func validate() throws {
        if config != nil {
            guard torrent == nil, data == nil, status == nil, serveHttp == nil, logFormat == .auto,
                common.isDefaultButLocalDiscovery
            else {
                throw ValidationError(
                    "--config runs the daemon from the config file alone (--no-lsd aside); put TORRENT in its watch "
                        + "directory and the other settings (status.listen, http.listen, log.format too) in the file "
                        + "(Docs/operations.md)")
            }
        } else {
            guard torrent != nil else { throw ValidationError("give a TORRENT file, or --config FILE for the daemon") }
            guard data != nil else { throw ValidationError("--data DIR is required with a TORRENT") }
        }
    }

    func run() async throws {
        if let config { return try await runDaemon(configPath: config) }
        guard let torrent, let data else { return }
        common.bootstrapLogging(format: logFormat.format)
        var configuration = try common.sessionConfiguration()
        configuration.seedUntilStopped = true
        let (madeHost, hostServices) = try common.nodeHost(configuration, command: "seed")
        var host = madeHost
        var services: [any Service] = hostServices
        var board: StatusBoard?
        if let status {
            guard let (statusHost, statusPort) = EndpointServer.split(status, defaultHost: "127.0.0.1") else {
                throw ValidationError("--status '\(status)' must be HOST:PORT, [IPV6]:PORT or PORT")
            }
            // The status reads the node's host (connections, refusals), so the seed runs on one it can ask.
            let shared =
                madeHost
                ?? SessionHost(configuration: HostConfiguration(session: configuration), logger: common.logger("seed"))
            host = shared
            let statusBoard = StatusBoard(host: shared)
            board = statusBoard
            do throws(NodeError) {
                let service = try await StatusService.bind(
                    host: statusHost, port: statusPort, board: statusBoard, logger: common.logger("seed"))
                services.append(service)
                StandardError.report("seed", "status on http://\(Self.bracketed(statusHost)):\(service.port)/status")
            } catch {
                StandardError.report("seed", error.message)
                throw ExitCode(ExitCodes.of(error))
            }
        }
        var mirrors: MirrorCatalog?
        if let serveHttp {
            guard let (httpHost, httpPort) = EndpointServer.split(serveHttp, defaultHost: "127.0.0.1") else {
                throw ValidationError("--serve-http '\(serveHttp)' must be HOST:PORT, [IPV6]:PORT or PORT")
            }
            let catalog = MirrorCatalog(logger: common.logger("seed"))
            mirrors = catalog
            do throws(NodeError) {
                let server = try await MirrorServer.bind(
                    host: httpHost, port: httpPort, catalog: catalog,
                    transportSecurity: madeHost?.configuration.transportSecurity, logger: common.logger("seed"))
                services.append(server)
                board?.show(server.statistics)
                StandardError.report(
                    "seed", "HTTP mirror on http://\(Self.bracketed(httpHost)):\(server.port)/t/")
            } catch {
                StandardError.report("seed", "--serve-http: \(error.message)")
                throw ExitCode(ExitCodes.of(error))
            }
        }
        let runner = TransferRunner(
            torrentPath: torrent, directory: data, mode: .seed, configuration: configuration,
            logger: common.logger("seed"), host: host, board: board, mirrors: mirrors)
        let nodeHost = host
        let printer = common.progressPrinter
        let result = await common.runAsService("seed", services: services) {
            () async -> Result<SessionOutcome, NodeError> in
            let result: Result<SessionOutcome, NodeError>
            do throws(NodeError) {
                result = .success(try await runner.run { printer.show($0) })
            } catch {
                result = .failure(error)
            }
            await nodeHost?.shutdown()
            return result
        }
        switch result {
        case .success(let outcome):
            common.reportEnd("seed", outcome, mode: .seed)
            try ExitCodes.exit(ExitCodes.of(outcome, seeding: true))
        case .failure(let error):
            StandardError.report("seed", error.message)
            try ExitCodes.exit(ExitCodes.of(error))
        case nil:
            throw ExitCode(ExitCodes.failure)
        }
    }

    static func bracketed(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }
}

/// `--log-format`: the daemon's `log.format` values, `auto` first.
extension LogFormatChoice: ExpressibleByArgument {}
