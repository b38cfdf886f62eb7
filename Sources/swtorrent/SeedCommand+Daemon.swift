import ArgumentParser
import Logging
import Node
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

extension SeedCommand {
    /// `seed --config FILE`: loads the config (errors name the key and the fix, exit 2), then runs the daemon as a
    /// Service in a ServiceGroup that shuts down gracefully on SIGTERM/SIGINT (exit 0).
    func runDaemon(configPath: String) async throws {
        let configuration: DaemonConfiguration
        do {
            configuration = try DaemonConfiguration.load(path: configPath)
        } catch {
            StandardError.report("seed", error.message)
            throw ExitCode(ExitCodes.of(error))
        }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "swtorrent.seed")
        if configuration.logFormat == .json {
            logger.warning("log.format json is not available in this build yet; logging text lines")
        }
        if let status = configuration.statusListen {
            logger.warning("status.listen is set but this build has no status server yet", metadata: ["address": "\(status)"])
        }
        let daemon: SeedDaemon
        do {
            daemon = try SeedDaemon(
                configuration: configuration,
                overrides: DaemonConfiguration.Overrides(localDiscoveryOff: !common.lsd), logger: logger)
        } catch {
            StandardError.report("seed", error.message)
            throw ExitCode(ExitCodes.of(error))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: daemon)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as NodeError {
            StandardError.report("seed", error.message)
            throw ExitCode(ExitCodes.of(error))
        } catch {
            StandardError.report("seed", "\(error)")
            throw ExitCode(ExitCodes.failure)
        }
    }
}
