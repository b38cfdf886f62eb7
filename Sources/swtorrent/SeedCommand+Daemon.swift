import ArgumentParser
import Logging
import Node
import Operations
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
        configuration.logFormat.format.bootstrap(level: configuration.logLevel)
        let logger = Logger(label: "swtorrent.seed")
        let daemon: SeedDaemon
        do {
            daemon = try SeedDaemon(
                configuration: configuration,
                overrides: DaemonConfiguration.Overrides(localDiscoveryOff: !common.lsd), logger: logger)
        } catch {
            StandardError.report("seed", error.message)
            throw ExitCode(ExitCodes.of(error))
        }
        // The status endpoints first: the group stops services in reverse order, so they answer until the
        // daemon has stopped its torrents.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let address = configuration.statusListen {
            do {
                let status = try await StatusService.bind(
                    host: address.host, port: address.port, board: daemon.board, logger: logger)
                services.append(.init(service: status))
                StandardError.report(
                    "seed", "status on http://\(Self.bracketed(address.host)):\(status.port)/status")
            } catch {
                StandardError.report("seed", "\(configPath): status.listen: \(error.message)")
                throw ExitCode(ExitCodes.of(error))
            }
        }
        if let address = configuration.httpListen, let catalog = daemon.mirrors {
            do {
                let server = try await MirrorServer.bind(
                    host: address.host, port: address.port, catalog: catalog,
                    settings: configuration.mirrorServerSettings, transportSecurity: daemon.transportSecurity,
                    logger: logger)
                services.append(.init(service: server))
                daemon.board.show(server.statistics)
                StandardError.report("seed", "HTTP mirror on http://\(Self.bracketed(address.host)):\(server.port)/t/")
            } catch {
                StandardError.report("seed", "\(configPath): http.listen: \(error.message)")
                throw ExitCode(ExitCodes.of(error))
            }
        }
        services.append(.init(service: daemon))
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
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
