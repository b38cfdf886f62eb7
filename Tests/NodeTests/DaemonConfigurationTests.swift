import Foundation
@testable import Node
import TestSupport
import Testing

/// The seed daemon's config file: the documented example loads, every key reaches its setting, and every mistake
/// is refused with a message that names the file, the line, the key and the fix.
struct DaemonConfigurationTests {
    static let minimal = """
        data: [content]
        watch:
          directory: torrents
        state: state
        """

    @Test func documentedExampleLoadsWithTheValuesItShows() throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Docs/examples/seed.yaml").standardized.path
        let configuration = try DaemonConfiguration.load(path: example)
        #expect(configuration.listen.description == "0.0.0.0:6881")
        #expect(configuration.nodeKey == "/etc/swtorrent/node.key")
        #expect(configuration.allowlist == "/etc/swtorrent/fleet.allow")
        #expect(!configuration.allowPlainPeers)
        #expect(configuration.trackersEnabled)
        #expect(configuration.localDiscovery.enabled && configuration.localDiscovery.interfaces.isEmpty)
        #expect(configuration.connections == 400)
        #expect(configuration.halfOpen == 32)
        #expect(configuration.uploadRate == nil)
        #expect(configuration.checksAtOnce == 2)
        #expect(configuration.perTorrent.connections == 80)
        #expect(configuration.perTorrent.uploadSlots == 8)
        #expect(configuration.dataDirectories == ["/srv/releases", "/srv/releases-archive"])
        #expect(configuration.watchDirectory == "/srv/swtorrent/torrents")
        #expect(configuration.scanInterval == .seconds(1))
        #expect(configuration.parseTimeout == .seconds(60))
        #expect(configuration.stateDirectory == "/var/lib/swtorrent")
        #expect(configuration.shutdownTimeout == .seconds(10))
        #expect(configuration.statusListen?.description == "127.0.0.1:9470")
        #expect(configuration.httpListen?.description == "127.0.0.1:8080")
        #expect(configuration.httpConnectionsPerClient == 16)
        #expect(configuration.logFormat == .auto)
        #expect(configuration.logLevel == .info)
        #expect(configuration.lanFirst && configuration.lanNetworks.isEmpty && configuration.wanNetworks.isEmpty)
    }

    /// The node key and the peers' allowlist are read at start (the TLS certificate is made from the key): a reload
    /// that changes them names each one as taking effect at the next start and keeps the running values, so
    /// announces never sign with a key the certificate does not carry.
    @Test func nodeIdentityChangesWaitForTheNextStart() throws {
        let running = try DaemonConfiguration.parse(
            Self.minimal + "\nnode: {key: a.key, allow: a.allow}\n", path: "/etc/sw/seed.yaml")
        let edited = try DaemonConfiguration.parse(
            Self.minimal + "\nnode: {key: b.key, allow: b.allow, allow-plain-peers: true}\n",
            path: "/etc/sw/seed.yaml")
        let changed = edited.restartOnlySettings.filter { running.restartOnlySettings[$0.key] != $0.value }.keys
        #expect(Set(changed) == ["node.key", "node.allow", "node.allow-plain-peers"])
        let applied = edited.keepingRestartOnlySettings(of: running)
        #expect(applied.nodeKey == "/etc/sw/a.key")
        #expect(applied.allowlist == "/etc/sw/a.allow")
        #expect(!applied.allowPlainPeers)
        #expect(applied.sessionSettings == running.sessionSettings)
    }

    @Test func localityNetworksAreRead() throws {
        let text = Self.minimal + """

            locality:
              lan-first: false
              lan: [10.20.0.0/16, "fd00:1::/48"]
              wan: 10.20.255.1
            """
        let configuration = try DaemonConfiguration.parse(text, path: "/etc/sw/seed.yaml")
        #expect(!configuration.lanFirst)
        #expect(configuration.lanNetworks.map(\.description) == ["10.20.0.0/16", "fd00:1::/48"])
        #expect(configuration.wanNetworks.map(\.description) == ["10.20.255.1/32"])
    }

    @Test func relativePathsAreTakenFromTheFilesDirectoryAndUnitsAreRead() throws {
        let text = Self.minimal + """

            limits:
              upload-rate: 10MiB/s
              per-torrent: {upload-rate: 500KB, connections: 5}
            """
        let configuration = try DaemonConfiguration.parse(text, path: "/etc/sw/seed.yaml")
        #expect(configuration.dataDirectories == ["/etc/sw/content"])
        #expect(configuration.watchDirectory == "/etc/sw/torrents")
        #expect(configuration.stateDirectory == "/etc/sw/state")
        #expect(configuration.uploadRate == 10 << 20)
        #expect(configuration.perTorrent.uploadRate == 500_000)
        #expect(configuration.perTorrent.connections == 5)
    }

    /// `http.per-client.connections` reaches the mirror's settings, defaults to the server's own 16, and takes
    /// effect at the next start.
    @Test func theMirrorsPerClientLimitIsReadAndWaitsForTheNextStart() throws {
        let defaults = try DaemonConfiguration.parse(
            Self.minimal + "\nhttp: {listen: 127.0.0.1:8080}\n", path: "/etc/sw/seed.yaml")
        #expect(defaults.mirrorServerSettings.connectionsPerClient == 16)
        let edited = try DaemonConfiguration.parse(
            Self.minimal + "\nhttp:\n  listen: 127.0.0.1:8080\n  per-client: {connections: 4}\n",
            path: "/etc/sw/seed.yaml")
        #expect(edited.mirrorServerSettings.connectionsPerClient == 4)
        let changed = edited.restartOnlySettings.filter { defaults.restartOnlySettings[$0.key] != $0.value }.keys
        #expect(Set(changed) == ["http.per-client.connections"])
        #expect(edited.keepingRestartOnlySettings(of: defaults).httpConnectionsPerClient == 16)
    }

    /// (file text, what the message must say: the location, the key and the fix).
    static let mistakes: [(String, [String])] = [
        ("listne: 0.0.0.0:1\n" + minimal, ["seed.yaml:1:", "listne is not a known key", "did you mean listen?"]),
        (minimal + "\nlimits:\n  connections: lots\n", ["seed.yaml:6:", "limits.connections: 'lots' is not a whole number"]),
        (minimal + "\nlimits:\n  connections: 0\n", ["limits.connections: 0 is out of range; use 1 to 100000"]),
        (minimal + "\nlimits:\n  upload-rate: fast\n", ["limits.upload-rate: 'fast' is not a rate", "such as 10MiB"]),
        (minimal + "\nlimits:\n  upload-rate: 100\n", ["limits.upload-rate: 100 is below 16 KiB/s"]),
        (minimal + "\nlimits:\n  per-torrent:\n    upload-slot: 3\n",
         ["limits.per-torrent.upload-slot is not a known key", "did you mean limits.per-torrent.upload-slots?"]),
        ("watch:\n  directory: t\nstate: s\n", ["data is missing from the file", "list the directories"]),
        ("data: [d]\nwatch: t\nstate: s\n", ["seed.yaml:2:", "'watch' must be a mapping"]),
        ("data: [d]\nwatch: {interval: 1s}\nstate: s\n", ["watch.directory is missing", "name the directory"]),
        ("data: [d]\nwatch: {directory: t}\n", ["state is missing", "state: /var/lib/swtorrent"]),
        (minimal + "\nlisten: nowhere\n", ["listen: 'nowhere' is not HOST:PORT", "0.0.0.0:6881"]),
        (minimal + "\nwatch:\n  directory: u\n", ["watch is given twice in this mapping; keep one of them"]),
        (minimal + "\nlog: {format: xml}\n", ["log.format: 'xml' is not one of auto, text, json"]),
        (minimal + "\nstatus: {listen: 9470}\n", ["status.listen: '9470' is not HOST:PORT", "0.0.0.0:6881"]),
        (minimal + "\nstatus: {address: 127.0.0.1:9470}\n", ["status.address is not a known key", "known keys here: listen"]),
        (minimal + "\nshutdown-timeout: 0s\n", ["shutdown-timeout: 0s is out of range"]),
        (minimal + "\nshutdown-timeout: soon\n", ["shutdown-timeout: 'soon' is not a duration", "10s"]),
        (minimal + "\ntrackers: {enabled: maybe}\n", ["trackers.enabled: 'maybe' is not true or false"]),
        (minimal + "\nnode: {key: }\n", ["node.key: has no value", "remove the key"]),
        (minimal + "\nnode: {allow: fleet.allow}\n", ["node.allow: needs node.key"]),
        (minimal + "\nnode: {key: k, allow-plain-peers: true}\n", ["node.allow-plain-peers: applies to private swarms", "give node.allow"]),
        (minimal + "\nnode: {key: k, allow: a, allow-plain-peers: sometimes}\n", ["node.allow-plain-peers: 'sometimes' is not true or false"]),
        (minimal + "\nlimits: [1, 2]\n", ["'limits' must be a mapping"]),
        (minimal + "\nlocality:\n  lan: [10.0.0/8]\n", ["seed.yaml:6:", "locality.lan: network '10.0.0/8'", "10.0.0.0/8"]),
        (minimal + "\nlocality: {lan-first: maybe}\n", ["locality.lan-first: 'maybe' is not true or false"]),
        (minimal + "\nlsd: {enabled: false, interfaces: [eth0]}\n", ["lsd.interfaces: names interfaces while lsd.enabled is false"]),
        (minimal + "\nhttp:\n  per-client: {connections: 0}\n",
         ["http.per-client.connections: 0 is out of range; use 1 to 10000"]),
        (minimal + "\nhttp:\n  per-client: {connection: 4}\n",
         ["http.per-client.connection is not a known key", "did you mean http.per-client.connections?"]),
        ("data: [d\nwatch: x\n", ["not valid YAML: line", "fix the syntax"]),
        ("", ["the file is empty", "data, watch and state"]),
    ]

    @Test(arguments: mistakes)
    func mistakeNamesTheKeyAndTheFix(text: String, expected: [String]) {
        do {
            _ = try DaemonConfiguration.parse(text, path: "/etc/sw/seed.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.code == .configuration)
            for fragment in expected {
                #expect(error.message.contains(fragment), "\(error.message) lacks \(fragment)")
            }
        }
    }

    @Test func directoriesThatDoNotExistAreNamedAtStart() throws {
        let root = try TestFiles.makeTemporaryDirectory("swt-daemon-config")
        defer { TestFiles.cleanup(root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("torrents"), withIntermediateDirectories: true)
        let path = root.appendingPathComponent("seed.yaml").path
        let configuration = try DaemonConfiguration.parse(Self.minimal, path: path)
        do {
            _ = try SeedDaemon(configuration: configuration, logger: .init(label: "test"))
            Issue.record("a missing data directory was accepted")
        } catch {
            #expect(error.message.contains("data: \(root.path)/content is not a directory; create it or correct the path"))
        }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("content"), withIntermediateDirectories: true)
        var keyed = configuration
        keyed.nodeKey = root.appendingPathComponent("absent.key").path
        do {
            _ = try SeedDaemon(configuration: keyed, logger: .init(label: "test"))
            Issue.record("a missing node key was accepted")
        } catch {
            #expect(error.message.contains("node.key:"))
            #expect(error.message.contains("absent.key"))
        }
        _ = try SeedDaemon(configuration: configuration, logger: .init(label: "test"))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("state/resume").path))
    }
}
