import Bencode
import Foundation
import SwarmPrimitives
import Testing
import TestSupport

@testable import Engine

/// The real HTTP GET path against a loopback HTTP server (Python's `http.server`, which ignores the query and
/// serves a file).
@Suite(.serialized) struct HTTPTrackerClientTests {
    func withServer(files: [String: [UInt8]], _ body: (Int) async throws -> Void) async throws {
        try TestProcess.requireTool("python3")
        let dir = try TestFiles.makeTemporaryDirectory("swt-http")
        defer { TestFiles.cleanup(dir) }
        for (name, bytes) in files {
            let url = dir.appendingPathComponent(name)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
        }
        let port = try TestFiles.freePort()
        let server = try BackgroundProcess(
            "python3", ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", dir.path],
            name: "http.server", logDirectory: dir)
        defer { server.stop() }
        let up = await TestFiles.waitUntilAsync(timeout: 10) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            return withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
        }
        #expect(up, "http.server did not start: \(server.stderr)")
        try await body(port)
    }

    let request = AnnounceRequest(
        infoHash: InfoHash([UInt8](repeating: 0xab, count: 20))!, peerID: PeerID(Array("-SW0100-000000000000".utf8))!,
        port: 6881,
        left: 100, event: .started)

    @Test func announceOverHTTP() async throws {
        let response = BencodeValue.dict([
            "interval": .integer(120), "peers": .bytes([127, 0, 0, 1, 0x1a, 0xe1]),
        ]).encoded()
        try await withServer(files: ["announce": response]) { port in
            let client = HTTPTrackerClient()
            let answer = try await client.announce(request, to: try AnnounceURL("http://127.0.0.1:\(port)/announce"))
            #expect(answer.interval == 120)
            #expect(answer.peers == [PeerAddress(host: "127.0.0.1", port: 6881)])
        }
    }

    @Test func httpErrorStatusIsReported() async throws {
        try await withServer(files: ["other": [0x65]]) { port in
            do {
                _ = try await HTTPTrackerClient().announce(
                    request, to: try AnnounceURL("http://127.0.0.1:\(port)/announce"))
                Issue.record("a 404 must throw")
            } catch let error as EngineError {
                #expect(error.code == .trackerHTTPStatus)
                #expect(error.context.contains("404"))
            }
        }
    }

    @Test func oversizedResponseIsRefused() async throws {
        try await withServer(files: ["announce": [UInt8](repeating: 0x61, count: 200_000)]) { port in
            do {
                _ = try await HTTPTrackerClient(maximumResponseSize: 64 << 10).announce(
                    request, to: try AnnounceURL("http://127.0.0.1:\(port)/announce"))
                Issue.record("an oversized response must throw")
            } catch let error as EngineError {
                #expect(error.code == .trackerResponseTooLarge)
            }
        }
    }

    @Test func unreachableTrackerFailsFast() async throws {
        let port = try TestFiles.freePort()
        do {
            _ = try await HTTPTrackerClient(timeout: .seconds(5)).announce(
                request, to: try AnnounceURL("http://127.0.0.1:\(port)/announce"))
            Issue.record("nothing listens there")
        } catch {
            #expect(error.code == .trackerUnreachable)
        }
    }
}
