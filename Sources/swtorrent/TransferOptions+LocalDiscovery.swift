import ArgumentParser
import Engine
import LocalDiscovery
import ServiceLifecycle

/// BEP 14 local discovery for `seed` and `leech`: on by default (`--lsd`), `--no-lsd` turns it off,
/// `--lsd-interface NAME` (repeatable) chooses the interfaces (Docs/local-discovery.md).
extension TransferOptions {
    /// The local-discovery settings these options describe.
    func localDiscoverySettings() throws -> LocalDiscoverySettings {
        if !lsd && !lsdInterface.isEmpty {
            throw ValidationError("--no-lsd and --lsd-interface contradict each other: give one of them")
        }
        return LocalDiscoverySettings(enabled: lsd, interfaces: lsdInterface)
    }

    /// The host the transfer runs on: with local discovery unless `--no-lsd`, with the TLS transport of private
    /// swarms with `--allow`; nil (the transfer makes its own host, with the same listener and limits) when it
    /// needs neither.
    ///
    /// - Returns: the host, and the services it needs beside the transfer (the allowlist's live reload).
    func nodeHost(_ session: SessionConfiguration, command: String) throws -> (SessionHost?, [any Service]) {
        let hostLogger = logger(command)
        let discovery = try localDiscoverySettings().makeDiscovery(logger: hostLogger)
        let swarm = try privateSwarm(logger: hostLogger)
        guard discovery != nil || swarm != nil else { return (nil, []) }
        var configuration = HostConfiguration(session: session)
        configuration.localDiscovery = discovery
        swarm?.configure(&configuration)
        return (SessionHost(configuration: configuration, logger: hostLogger), swarm.map { [$0.reloadService()] } ?? [])
    }
}
