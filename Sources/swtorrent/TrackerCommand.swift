import ArgumentParser
import Logging
import Operations
import ServiceLifecycle
import Tracker

/// `swtorrent tracker`: runs the private HTTP tracker until SIGTERM or SIGINT.
struct TrackerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tracker",
        abstract: "Run the private HTTP tracker (signed and passkey announces, scrape, metrics, live allowlist).",
        discussion: """
            Endpoints: GET /announce (signed announces from swtorrent nodes), GET /<passkey>/announce (third-party
            clients), GET /scrape and /<passkey>/scrape (BEP 48); GET /metrics on --metrics (Prometheus).
            The allowlist is re-read on SIGHUP and whenever the file changes; a file that does not parse is logged
            and the previous list kept. A key removed from the file is refused ("revoked") and its peers dropped
            within a second. SIGHUP also re-reads --torrents. SIGTERM/SIGINT shut down gracefully.
            Logs go to stderr.

            Exit codes: 0 after a graceful shutdown; 1 the tracker could not listen or failed while running;
            2 bad arguments, or an allowlist / torrents directory that cannot be read or parsed.
            """
    )

    @Option(name: .long, help: "Address to serve announces on, ADDR:PORT (e.g. 0.0.0.0:6969 or [::]:6969).")
    var listen: String

    @Option(name: .long, help: "Allowlist file: `ed25519 <key> <name>` and `passkey <token> <name>` lines.")
    var allow: String

    @Option(name: .long, help: "Track only the info-hashes of the .torrent files in this directory.")
    var torrents: String?

    @Option(name: .long, help: "Serve Prometheus metrics at http://ADDR:PORT/metrics.")
    var metrics: String?

    @Option(name: .long, help: "Announce interval in seconds (min interval is min(60, S); peers expire after 2×S).")
    var interval: UInt32 = 900

    @Flag(name: .long, help: "Take the client address from the right-most X-Forwarded-For entry (behind a proxy).")
    var trustForwardedFor = false

    @Flag(name: .long, help: "Take the client address from the announce's ip parameter when it is an IP literal.")
    var trustIpParameter = false

    @Option(name: .long, help: "Host[:port] signed announces must be signed for (default: the request's Host).")
    var publicHost: String?

    @Option(name: .long, help: "Most concurrent client connections.")
    var maxConnections: Int = 16384

    @Option(name: .long, help: "Seconds a connection may take to send each request (idle and slow clients).")
    var requestTimeout: Int64 = 10

    @Option(name: .long, help: "Threads serving /metrics (0: one); announces have their own thread.")
    var threads: Int = 0

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw fail(
                "--log-level \(logLevel) is not one of trace, debug, info, notice, warning, error, critical",
                ExitCodes.badInput)
        }
        guard let (host, port) = EndpointServer.split(listen) else {
            throw fail("--listen \(listen) must be ADDR:PORT, e.g. 127.0.0.1:6969 or [::1]:6969", ExitCodes.badInput)
        }
        var configuration = TrackerConfiguration(listenHost: host, listenPort: port, allowlistPath: allow)
        if let metrics {
            guard let (metricsHost, metricsPort) = EndpointServer.split(metrics) else {
                throw fail("--metrics \(metrics) must be ADDR:PORT, e.g. 127.0.0.1:9090", ExitCodes.badInput)
            }
            configuration.metricsHost = metricsHost
            configuration.metricsPort = metricsPort
        }
        guard interval >= 1 else { throw fail("--interval must be at least 1 second", ExitCodes.badInput) }
        guard maxConnections >= 1, requestTimeout >= 1, threads >= 0 else {
            throw fail(
                "--max-connections and --request-timeout must be positive, --threads not negative", ExitCodes.badInput)
        }
        configuration.torrentsDirectory = torrents
        configuration.interval = interval
        configuration.trustForwardedFor = trustForwardedFor
        configuration.trustIPParameter = trustIpParameter
        configuration.publicHost = publicHost
        configuration.maxConnections = maxConnections
        configuration.requestTimeoutSeconds = requestTimeout
        configuration.threads = threads

        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "swtorrent.tracker")
        TrackerServer.raiseFileDescriptorLimit()
        let server: TrackerServer
        do {
            server = try TrackerServer(configuration: configuration, logger: logger)
        } catch {
            throw fail("\(error)", ExitCodes.badInput)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: server)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            throw fail("\(error)", ExitCodes.failure)
        }
    }

    private func fail(_ message: String, _ code: Int32) -> ExitCode {
        StandardError.report("tracker", message)
        return ExitCode(code)
    }

}
