import Engine
import Foundation
import Logging
import Metainfo
@testable import Node
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The HTTP mirror's bounds on one client, over real loopback sockets against a real ``MirrorServer`` in this
/// process (so its limits can be small): a client over its connection cap is closed at once while a client at
/// another address is served, and a client that stops reading a body is closed by the idle timer.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct MirrorServerLimitsTests {
    static let logger = Logger(label: "mirror-limits-test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A mirror listening on 127.0.0.1 that serves `app.bin` (`content`) of one checked torrent.
    struct Served {
        let server: MirrorServer
        let run: Task<Void, any Error>
        let target: String
        let content: Data

        func request(_ method: String = "GET") -> String {
            "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        }
    }

    static func serve(_ content: Data, settings: MirrorServer.Settings, in root: URL) async throws -> Served {
        let (torrent, storage, _) = try await MirrorCatalogTests.served(content, dir: "data", private: false, in: root)
        let catalog = MirrorCatalog(logger: logger)
        catalog.add(torrent: torrent, storage: storage)
        let server = try await MirrorServer.bind(
            host: "127.0.0.1", port: 0, catalog: catalog, settings: settings, logger: logger)
        let run = Task { try await server.run() }
        return Served(server: server, run: run, target: "/t/\(torrent.infoHash.hex)/app.bin", content: content)
    }

    /// `http.per-client.connections` (here 3): a fourth connection from the same address is closed before anything
    /// is read and counted as `client connection limit`; 127.0.0.2 is served meanwhile; once one of the three
    /// closes, the first address is served again.
    @Test func aClientOverItsConnectionCapIsRefusedWhileAnotherAddressIsServed() async throws {
        let root = try TestFiles.makeTemporaryDirectory("mirror-per-client")
        defer { TestFiles.cleanup(root) }
        var settings = MirrorServer.Settings()
        settings.connectionsPerClient = 3
        // The three held connections send nothing; neither the request deadline nor the idle timer may close them
        // during the test, however slowly a loaded machine runs it.
        settings.requestTimeout = .seconds(600)
        settings.idleTimeout = .seconds(600)
        let mirror = try await Self.serve(MirrorCatalogTests.content(100_000, 5), settings: settings, in: root)
        defer { mirror.run.cancel() }
        let statistics = mirror.server.statistics
        let port = mirror.server.port

        var held: [Int32] = []
        defer { held.forEach { close($0) } }
        for _ in 0..<3 { held.append(try await TestSocket.connect(port: port, from: "127.0.0.1")) }
        #expect(await TestFiles.waitUntilAsync(timeout: 10) { statistics.snapshot.connections == 3 })

        let fourth = try await TestSocket.connect(port: port, from: "127.0.0.1")
        defer { close(fourth) }
        let refused = try await TestSocket.exchange(fourth, send: mirror.request(), timeout: 10)
        #expect(refused.closed && refused.bytes.isEmpty, "the fourth connection got \(refused.bytes.count) bytes")
        #expect(statistics.snapshot.refusals["client connection limit"] == 1, "\(statistics.snapshot.refusals)")
        #expect(statistics.snapshot.connections == 3)

        let other = try await TestSocket.connect(port: port, from: "127.0.0.2")
        defer { close(other) }
        let served = try await TestSocket.exchange(other, send: mirror.request(), timeout: 10)
        #expect(served.closed && served.status == 200, "127.0.0.2 got: \(served.head)")
        #expect(served.body == mirror.content)

        close(held.removeFirst())
        #expect(await TestFiles.waitUntilAsync(timeout: 10) { statistics.snapshot.connections == 2 })
        let again = try await TestSocket.connect(port: port, from: "127.0.0.1")
        defer { close(again) }
        let readmitted = try await TestSocket.exchange(again, send: mirror.request("HEAD"), timeout: 10)
        #expect(readmitted.status == 200, "127.0.0.1 after a close got: \(readmitted.head)")
        #expect(statistics.snapshot.refusals["client connection limit"] == 1, "\(statistics.snapshot.refusals)")
    }

    /// How a client holds a body up.
    enum SlowReader: String, CaseIterable, Sendable {
        /// Reads nothing at all.
        case readsNothing
        /// Reads nothing, and sends a byte every 500 ms (the start of a next request, never finished) to look busy.
        case sendsButReadsNothing
        /// Reads 1 KiB every 250 ms (4 KiB/s), below one chunk (64 KiB here) per idle timeout (2 s).
        case readsSlowly
    }

    /// A client that asks for a large body and then holds it up: the server's writes stop completing once the
    /// socket's buffers are full, and the idle timer (here 2 s) closes the connection with the body unfinished,
    /// counted as `idle connection` (the request deadline ended with the request). Bytes it sends are not activity:
    /// NIO's pipelining handler reads nothing more while a response is pending. A client that reads, but less than
    /// a chunk per idle timeout, is closed the same way: a chunk's write completes only once all of it is written.
    @Test(arguments: SlowReader.allCases)
    func aClientThatHoldsUpABodyIsClosedByTheIdleTimer(_ behaviour: SlowReader) async throws {
        let root = try TestFiles.makeTemporaryDirectory("mirror-slow-reader")
        defer { TestFiles.cleanup(root) }
        var settings = MirrorServer.Settings()
        settings.idleTimeout = .seconds(2)
        settings.chunkLength = 64 * 1024
        let mirror = try await Self.serve(Data(repeating: 0x5a, count: 32 << 20), settings: settings, in: root)
        defer { mirror.run.cancel() }
        let statistics = mirror.server.statistics

        let reader = try await TestSocket.connect(port: mirror.server.port, from: "127.0.0.1", receiveBuffer: 4096)
        defer { close(reader) }
        try TestSocket.sendAll(reader, Array(mirror.request().utf8))
        #expect(await TestFiles.waitUntilAsync(timeout: 10) { statistics.snapshot.bytesServed > 0 })
        // What the client sent or read while the connection was open (bounded: 60 steps).
        let moved = try await TestSocket.onThread { () -> Int in
            var moved = 0
            var buffer = [UInt8](repeating: 0, count: 1024)
            let dribble = Array("GET / HTTP/1.1\r\nX-Keep: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 60)
            for step in 0..<60 where statistics.snapshot.connections > 0 {
                switch behaviour {
                case .readsNothing:
                    usleep(500_000)
                case .sendsButReadsNothing:
                    guard (try? TestSocket.sendAll(reader, [dribble[step]])) != nil else { return moved }
                    moved += 1
                    usleep(500_000)
                case .readsSlowly:
                    let count = buffer.withUnsafeMutableBytes {
                        recv(reader, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
                    }
                    if count > 0 { moved += count }
                    usleep(250_000)
                }
            }
            return moved
        }
        #expect(await TestFiles.waitUntilAsync(timeout: 30) { statistics.snapshot.connections == 0 })
        let snapshot = statistics.snapshot
        #expect(snapshot.refusals == ["idle connection": 1], "\(snapshot.refusals), \(moved) bytes moved")
        #expect(snapshot.bytesServed < Int64(mirror.content.count), "the whole body went out: the reader never stalled")
        #expect(behaviour == .readsNothing || moved > 0)
        // The client sees the connection end before the promised length.
        let rest = try await TestSocket.exchange(reader, send: nil, timeout: 10)
        #expect(rest.closed && rest.body.count < mirror.content.count)
    }
}
