import Engine
import Foundation
import LocalDiscovery

/// BEP 14 local discovery for `seed` and `leech`, test-only until the network lab exists (Docs/local-discovery.md).
///
/// There is no flag: local discovery multicasts, and nothing may multicast on this machine's real interfaces
/// before the lab does. `SWTORRENT_LSD_INTERFACE=NAME` (one interface name; the tests set it only for processes
/// they run inside a network namespace they created) runs the transfer on a host with local discovery on that
/// interface. Unset, nothing changes.
extension TransferOptions {
    static let localDiscoveryVariable = "SWTORRENT_LSD_INTERFACE"

    /// The host for the transfer when the test-only variable asks for local discovery; nil otherwise (the transfer
    /// makes its own host, as always).
    func experimentalDiscoveryHost(_ session: SessionConfiguration, command: String) -> SessionHost? {
        guard let name = ProcessInfo.processInfo.environment[Self.localDiscoveryVariable], !name.isEmpty else {
            return nil
        }
        let hostLogger = logger(command)
        var configuration = HostConfiguration(session: session)
        configuration.localDiscovery = LocalDiscovery(
            configuration: LocalDiscoveryConfiguration(interfaces: [name]), logger: hostLogger)
        return SessionHost(configuration: configuration, logger: hostLogger)
    }
}
