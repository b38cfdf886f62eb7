import ArgumentParser
import Engine
import LocalDiscovery

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

    /// The host the transfer runs on: with local discovery unless `--no-lsd`; nil (the transfer makes its own host,
    /// with the same listener and limits) when it is off.
    func discoveryHost(_ session: SessionConfiguration, command: String) throws -> SessionHost? {
        let hostLogger = logger(command)
        guard let discovery = try localDiscoverySettings().makeDiscovery(logger: hostLogger) else { return nil }
        var configuration = HostConfiguration(session: session)
        configuration.localDiscovery = discovery
        return SessionHost(configuration: configuration, logger: hostLogger)
    }
}
