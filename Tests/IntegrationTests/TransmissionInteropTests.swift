import Foundation
import Testing
import TestSupport

/// `swtorrent seed` → transmission-cli (3.00, Debian's transmission-cli) leecher, the bytes checked with SHA-256.
///
/// transmission-cli 3.00 ignores tracker-supplied peers at 127.x addresses, so the tracker test puts it in a
/// network namespace of its own (``NetworkNamespace``: a veth pair with a /30 from 10.213.0.0/16) where it finds
/// the seed through `swtorrent tracker` at the host end's address. The second test needs no namespace: the seed
/// dials transmission-cli on loopback (`swtorrent seed --peer`). transmission-cli has no "exit when done": its
/// `-f` script writes a marker when the torrent completes, and the test stops it by its pid.
@Suite(.serialized) struct TransmissionInteropTests {
    static let passkey = "transmissionPasskey0123456789abcdef"

    /// A content file, a torrent for it (made by `swtorrent make`) and transmission-cli's config and marker.
    final class Bench {
        let dir: URL
        let name = "release.bin"
        let size: Int
        let content: String
        let torrent: String

        init(size: Int, announce: String) throws {
            try TestProcess.requireTool("transmission-cli")
            self.size = size
            dir = try TestFiles.makeTemporaryDirectory("swt-transmission")
            try FileManager.default.createDirectory(atPath: dir.path + "/seed", withIntermediateDirectories: true)
            content = dir.path + "/seed/\(name)"
            try TestFiles.writeRandomFile(URL(fileURLWithPath: content), size: size, seed: 0x7a11)
            torrent = dir.path + "/t.torrent"
            let made = try TestProcess.swtorrent(
                ["make", content, "-a", announce, "--piece-length", "64K", "--no-date", "-o", torrent], timeout: 60)
            guard made.exitCode == 0 else { throw HarnessError("swtorrent make failed: \(made.stderr)") }
            // No DHT, LPD, PEX, µTP or port mapping: the seed is its only source. Encryption tolerated (we speak
            // plain BitTorrent). The finish script marks completion.
            let config = dir.path + "/transmission"
            try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
            let settings = """
                {"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
                 "port-forwarding-enabled": false, "blocklist-enabled": false, "encryption": 0,
                 "rename-partial-files": true, "speed-limit-up-enabled": false, "speed-limit-down-enabled": false}
                """
            try Data(settings.utf8).write(to: URL(fileURLWithPath: config + "/settings.json"))
            let script = dir.path + "/finished.sh"
            try Data("#!/bin/sh\necho \"$TR_TORRENT_NAME\" > '\(dir.path)/finished'\n".utf8)
                .write(to: URL(fileURLWithPath: script))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        }

        deinit { TestFiles.cleanup(dir) }

        func path(_ relative: String) -> String { dir.path + "/" + relative }

        /// transmission-cli's arguments: download into `out`, listen on `port`.
        func transmissionArguments(out: String, port: Int) -> [String] {
            ["-w", out, "-g", path("transmission"), "-p", "\(port)", "-et", "-M", "-B", "-f", path("finished.sh"),
             torrent]
        }

        /// Waits (bounded) for the finish script's marker, then stops transmission-cli by its pid and checks the
        /// downloaded file's SHA-256.
        func expectTransmissionFinished(_ transmission: BackgroundProcess, into out: String, timeout: TimeInterval)
            throws
        {
            let started = Date()
            let finished = TestFiles.waitUntil(timeout: timeout) {
                FileManager.default.fileExists(atPath: path("finished")) || !transmission.isRunning
            }
            print("TransmissionInteropTests: transmission-cli finished in "
                + String(format: "%.1f s", -started.timeIntervalSinceNow))
            transmission.stop()
            let log = "\(transmission.stdout.suffix(1500)) \(transmission.stderr.suffix(1500))"
            #expect(
                finished && FileManager.default.fileExists(atPath: path("finished")),
                "transmission-cli did not finish within \(Int(timeout)) s: \(log)")
            let got = out + "/" + name
            #expect(FileManager.default.fileExists(atPath: got), "no \(got)")
            #expect(try sha256(got) == sha256(content))
        }

        func sha256(_ path: String) throws -> String {
            String(try TestProcess.run("sha256sum", [path], timeout: 30).stdout.prefix(64))
        }
    }

    /// The seed's last `--json` line.
    static func lastJSON(_ stdout: String) -> [String: Any]? {
        stdout.split(separator: "\n").last.flatMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    /// transmission-cli in a network namespace learns of the seed from `swtorrent tracker` (passkey URL), both on
    /// the host end of the veth pair; the namespace and veth are deleted afterwards, pass or fail.
    @Test func swtorrentSeedToTransmissionInANamespaceThroughOurTracker() throws {
        let namespace: NetworkNamespace
        do {
            namespace = try NetworkNamespace()
        } catch let unavailable as NetworkNamespace.Unavailable {
            let why = "\(unavailable) (swtorrentSeedDialsTransmission still runs on loopback)"
            try Conformance.labMissing("swtorrentSeedToTransmissionInANamespaceThroughOurTracker", why)
            try Test.cancel("DID NOT RUN: \(why)")
        }
        defer { namespace.remove() }
        let host = namespace.hostAddress
        let trackerPort = try TestFiles.freePort()
        let bench = try Bench(size: 5 << 20, announce: "http://\(host):\(trackerPort)/\(Self.passkey)/announce")

        try Data("passkey \(Self.passkey) transmission\n".utf8).write(to: URL(fileURLWithPath: bench.path("allow")))
        let tracker = try BackgroundProcess(
            try TestProcess.swtorrentBinary(),
            ["tracker", "--listen", "\(host):\(trackerPort)", "--allow", bench.path("allow"), "--interval", "5"],
            name: "swtorrent-tracker", logDirectory: bench.dir)
        defer { tracker.stop() }
        #expect(TestFiles.waitUntil(timeout: 15) { canConnect(trackerPort, host: host) }, "tracker: \(tracker.stderr)")

        let seedPort = try TestFiles.freePort()
        let seed = try BackgroundProcess(
            try TestProcess.swtorrentBinary(),
            ["seed", bench.torrent, "--data", bench.path("seed"), "--port", "\(seedPort)", "--json"],
            name: "swtorrent-seed", logDirectory: bench.dir)
        defer { seed.stop() }
        #expect(waitForPort(seedPort), "seed did not listen: \(seed.stderr)")

        let transmission = try BackgroundProcess(
            "ip",
            try namespace.command(
                "transmission-cli",
                bench.transmissionArguments(out: bench.path("out"), port: try TestFiles.freePort())),
            name: "transmission-cli", logDirectory: bench.dir)
        defer { transmission.stop() }
        try bench.expectTransmissionFinished(transmission, into: bench.path("out"), timeout: 45)

        // The seed's own count: it uploaded (at least) the whole file, to the namespace's address.
        seed.stop()
        let uploaded = Self.lastJSON(seed.stdout)?["uploaded"] as? Int ?? 0
        #expect(uploaded >= bench.size, "seed: \(seed.stdout.suffix(600))")

        // Cleanup leaves nothing behind.
        tracker.stop()
        let name = namespace.name
        namespace.remove()
        #expect(!NetworkNamespace.exists(name), "namespace \(name) is still there")
        let links = try TestProcess.run("ip", ["-o", "link", "show"], timeout: 10).stdout
        #expect(!links.contains(namespace.hostInterface), "veth \(namespace.hostInterface) is still there")
    }

    /// No namespace needed: the seed is told transmission-cli's loopback address and dials it.
    @Test func swtorrentSeedDialsTransmission() throws {
        let bench = try Bench(size: 3 << 20, announce: "http://127.0.0.1:1/announce")
        let transmissionPort = try TestFiles.freePort()
        let transmission = try BackgroundProcess(
            "transmission-cli", bench.transmissionArguments(out: bench.path("out"), port: transmissionPort),
            name: "transmission-cli", logDirectory: bench.dir)
        defer { transmission.stop() }
        #expect(waitForPort(transmissionPort), "transmission-cli did not listen: \(transmission.stderr)")

        let seed = try BackgroundProcess(
            try TestProcess.swtorrentBinary(),
            ["seed", bench.torrent, "--data", bench.path("seed"), "--port", "\(try TestFiles.freePort())",
             "--no-tracker", "--peer", "127.0.0.1:\(transmissionPort)"],
            name: "swtorrent-seed", logDirectory: bench.dir)
        defer { seed.stop() }
        try bench.expectTransmissionFinished(transmission, into: bench.path("out"), timeout: 40)
    }
}
