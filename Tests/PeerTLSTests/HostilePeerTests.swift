import Foundation
import Identity
import NIOCore
import NIOPosix
import NIOSSL
import Operations
import TestSupport
import Testing

/// Hostile and broken TLS peers against a real `swtorrent seed` running a private torrent over TLS (loopback): each
/// is refused within a bounded wait and counted by reason in the seed's `/status` refusals (Docs/peer-tls.md).
@Suite(.serialized)
struct HostilePeerTests {
    /// What a test peer does.
    enum Peer: String, CaseIterable, CustomStringConvertible, Sendable {
        case garbageAfterTheTLSByte, truncatedClientHello, stallsMidHandshake, noCertificate, unlistedKey,
            rsaCertificate, p256Certificate, expiredCertificate, notYetValidCertificate

        var description: String { rawValue }

        /// The refusal the seed counts.
        var refusal: String {
            switch self {
            case .garbageAfterTheTLSByte, .truncatedClientHello, .noCertificate: "TLS handshake failed"
            case .stallsMidHandshake: "TLS handshake incomplete"
            case .unlistedKey: "key not on the allowlist"
            case .rsaCertificate, .p256Certificate: "certificate key not Ed25519"
            case .expiredCertificate, .notYetValidCertificate: "certificate outside its validity"
            }
        }

        /// How long the seed may take to close the connection: the handshake timeout (10 s) for a stall, at once
        /// otherwise.
        var closeWithin: Duration { self == .stallsMidHandshake ? .seconds(12) : .seconds(3) }
    }

    /// A seed with a private torrent, its key and an allowlist that also lists `listed` (a key the test holds).
    final class Seed {
        let dir: URL
        let process: BackgroundProcess
        let port: Int
        let statusPort: Int
        let listed: NodeKey

        init() throws {
            let dir = try TestFiles.makeTemporaryDirectory("hostile-tls")
            self.dir = dir
            func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
            try FileManager.default.createDirectory(atPath: path("data"), withIntermediateDirectories: true)
            try TestFiles.writeRandomFile(URL(fileURLWithPath: path("data/app.bin")), size: 300_000, seed: 0xbad)
            let made = try TestProcess.swtorrent(
                ["make", path("data/app.bin"), "-a", "http://127.0.0.1:1/announce", "--private", "-o", path("app.torrent")],
                timeout: 60)
            guard made.exitCode == 0 else { throw HarnessError("make: \(made.stderr)") }
            let key = try TestProcess.swtorrent(["keygen", "--out", path("seed.key"), "--name", "seed-1"], timeout: 30)
            guard key.exitCode == 0 else { throw HarnessError("keygen: \(key.stderr)") }
            listed = try NodeKey.generate(name: "listed")
            let allow = try String(contentsOfFile: path("seed.key.pub"), encoding: .utf8) + listed.allowlistLine + "\n"
            try Data(allow.utf8).write(to: URL(fileURLWithPath: path("fleet.allow")))
            port = try TestFiles.freePort()
            statusPort = try TestFiles.freePort()
            process = try BackgroundProcess(
                try TestProcess.swtorrentBinary(),
                ["seed", path("app.torrent"), "--data", path("data"), "--port", "\(port)", "--no-tracker", "--key",
                 path("seed.key"), "--allow", path("fleet.allow"), "--status", "\(statusPort)", "--verbose"],
                name: "seed", logDirectory: dir)
            let up = TestFiles.waitUntil(timeout: 20) { Self.listening(statusPort) }
            guard up else { throw HarnessError("the seed did not start: \(process.stderr)") }
        }

        deinit {
            process.stop()
            TestFiles.cleanup(dir)
        }

        static func listening(_ port: Int) -> Bool {
            (try? ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port)
                .flatMap { $0.close() }.wait()) != nil
        }

        /// Waits (bounded) until `/status` shows the peer listener bound: probing the peer port itself would count
        /// as a refusal.
        func ready() async throws {
            let up = await TestFiles.waitUntilAsync(timeout: 20) {
                guard let response = try? await EndpointClient.get(host: "127.0.0.1", port: statusPort, path: "/status"),
                    let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
                else { return false }
                return object["listenPort"] as? Int == port
            }
            guard up else { throw HarnessError("the seed did not listen on \(port): \(process.stderr)") }
        }

        func refusals() async throws -> [String: Int] {
            let response = try await EndpointClient.get(host: "127.0.0.1", port: statusPort, path: "/status")
            let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            return object?["refusals"] as? [String: Int] ?? [:]
        }
    }

    /// The first bytes of a TLS record that announces a 512-byte ClientHello.
    static let helloStart: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03] + Array(repeating: 0x2a, count: 32)

    @Test(arguments: Peer.allCases)
    func aHostilePeerIsRefusedInBoundedTimeAndCountedByReason(_ peer: Peer) async throws {
        let seed = try Seed()
        try await seed.ready()
        let channel: any Channel
        switch peer {
        case .garbageAfterTheTLSByte:
            channel = try await Self.raw(port: seed.port, [0x16, 0x03, 0x01, 0x00, 0x08] + Array("garbage!".utf8))
        case .truncatedClientHello:
            channel = try await Self.raw(port: seed.port, Self.helloStart)
            try await channel.close(mode: .output)
        case .stallsMidHandshake:
            channel = try await Self.raw(port: seed.port, Self.helloStart)
        case .noCertificate:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv13
            configuration.certificateVerification = .none
            configuration.verifySignatureAlgorithms = [.ed25519]
            channel = try await Self.tls(port: seed.port, configuration)
        case .unlistedKey:
            channel = try await Self.tls(port: seed.port, try TestCertificate.node(NodeKey.generate(name: "x")).clientConfiguration())
        case .rsaCertificate:
            channel = try await Self.tls(port: seed.port, try TestCertificate.rsa().clientConfiguration())
        case .p256Certificate:
            channel = try await Self.tls(port: seed.port, try TestCertificate.p256().clientConfiguration())
        case .expiredCertificate:
            let certificate = try TestCertificate.node(
                seed.listed, notBefore: TestCertificate.now - 10 * 86400, notAfter: TestCertificate.now - 60)
            channel = try await Self.tls(port: seed.port, try certificate.clientConfiguration())
        case .notYetValidCertificate:
            let certificate = try TestCertificate.node(
                seed.listed, notBefore: TestCertificate.now + 3600, notAfter: TestCertificate.now + 86400)
            channel = try await Self.tls(port: seed.port, try certificate.clientConfiguration())
        }
        let closed = await Self.closes(channel, within: peer.closeWithin)
        #expect(closed, "\(peer): the seed kept the connection open longer than \(peer.closeWithin)")
        var refusals: [String: Int] = [:]
        let counted = try await TestFiles.waitUntilAsync(timeout: 5) {
            refusals = try await seed.refusals()
            return refusals[peer.refusal] == 1
        }
        #expect(counted, "\(peer): \(refusals)\n\(seed.process.stderr)")
        #expect(seed.process.isRunning)
    }

    @Test func aListedPeerCompletesTheTLSHandshake() async throws {
        let seed = try Seed()
        try await seed.ready()
        let channel = try await Self.tls(port: seed.port, try TestCertificate.node(seed.listed).clientConfiguration())
        #expect(await !Self.closes(channel, within: .seconds(2)), "a listed key was refused: \(seed.process.stderr)")
        // Closed by us after the TLS handshake, before any BitTorrent handshake: counted as that, not as TLS.
        var refusals: [String: Int] = [:]
        let counted = try await TestFiles.waitUntilAsync(timeout: 5) {
            refusals = try await seed.refusals()
            return !refusals.isEmpty
        }
        #expect(counted && refusals == ["handshake failed": 1], "\(refusals)\n\(seed.process.stderr)")
    }

    // MARK: Clients

    /// A TCP connection that sends `bytes` and nothing else.
    static func raw(port: Int, _ bytes: [UInt8]) async throws -> any Channel {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
        return channel
    }

    /// A TLS 1.3 client connection with `configuration`.
    static func tls(port: Int, _ configuration: TLSConfiguration) async throws -> any Channel {
        let context = try NIOSSLContext(configuration: configuration)
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        NIOSSLClientHandler(context: context, serverHostname: nil))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    /// Whether the peer closes `channel` within `limit` (the channel is closed by us otherwise).
    static func closes(_ channel: any Channel, within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if !channel.isActive { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        let closed = !channel.isActive
        try? await channel.close()
        return closed
    }

}
