import Engine
import Foundation
import Logging
import Metainfo
import SwarmPrimitives
import TestSupport
import Testing

/// ``MetadataFetch`` against real peers on loopback: small Python BitTorrent peers that speak the handshake, the
/// extended handshake and `ut_metadata`, honestly, with one flipped byte, or advertising a `metadata_size` over the
/// limit. Each logs what it was asked, so the tests see who was asked for what.
@Suite(.serialized) struct MetadataFetchTests {
    /// A fake peer serving `info` (or a corruption of it) for the info-hash of `info`.
    final class FakePeer {
        let port: Int
        let process: BackgroundProcess
        let log: URL

        init(mode: String, info: URL, dir: URL) throws {
            port = try TestFiles.freePort()
            log = dir.appendingPathComponent("\(mode)-\(port).log")
            let script = dir.appendingPathComponent("metadata-peer.py")
            try Data(MetadataFetchTests.script.utf8).write(to: script)
            process = try BackgroundProcess(
                "/usr/bin/python3", [script.path, mode, info.path, "\(port)", log.path], name: "metadata-\(mode)",
                logDirectory: dir)
            let listening = TestFiles.waitUntil(timeout: 10) { FileManager.default.fileExists(atPath: log.path) }
            guard listening else { throw HarnessError("fake peer \(mode) did not start: \(process.stderr)") }
        }

        var address: PeerAddress { PeerAddress(host: "127.0.0.1", port: port) }
        var lines: [String] {
            ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
    }

    let dir: URL
    let infoFile: URL
    let info: [UInt8]

    init() throws {
        dir = try TestFiles.makeTemporaryDirectory("metadata-fetch")
        infoFile = dir.appendingPathComponent("info")
        // Three metadata pieces, the last one short: any bytes do, the fetch checks their SHA-1 only.
        try TestFiles.writeRandomFile(infoFile, size: 2 * 16384 + 1000)
        info = Array(try Data(contentsOf: infoFile))
    }

    func fetch(parallel: Int = 1) -> MetadataFetch {
        var fetch = MetadataFetch(
            infoHash: InfoHash(hashing: info), peerID: PeerID.generate(),
            logger: Logger(label: "metadata-test", factory: { _ in SwiftLogNoOpLogHandler() }))
        fetch.parallelPeers = parallel
        fetch.timeout = .seconds(30)
        return fetch
    }

    @Test func aPeerWhoseCopyDoesNotHashIsClosedAndNotAskedAgainAndAnotherPeersCopyIsUsed() async throws {
        defer { TestFiles.cleanup(dir) }
        let liar = try FakePeer(mode: "bad", info: infoFile, dir: dir)
        let honest = try FakePeer(mode: "good", info: infoFile, dir: dir)
        defer { liar.process.stop(); honest.process.stop() }
        // One peer at a time, the liar first (and named twice): its copy is refused, the honest one's is used.
        let got = try await fetch().run(peers: [liar.address, liar.address, honest.address])
        #expect(got == info)
        #expect(liar.lines.filter { $0 == "connection" }.count == 1, "\(liar.lines)")
        #expect(liar.lines.filter { $0.hasPrefix("request") }.count == 3, "\(liar.lines)")
        #expect(honest.lines.filter { $0.hasPrefix("request") }.count == 3, "\(honest.lines)")
    }

    @Test func onlyALiarIsAFailureThatSaysItsCopyDoesNotHash() async throws {
        defer { TestFiles.cleanup(dir) }
        let liar = try FakePeer(mode: "bad", info: infoFile, dir: dir)
        defer { liar.process.stop() }
        let error = await #expect(throws: EngineError.self) { try await fetch().run(peers: [liar.address]) }
        #expect(error?.code == .metadataUnavailable)
        #expect(error?.context.contains("\(liar.address): its 33768-byte info dictionary does not hash") == true, "\(String(describing: error))")
    }

    @Test func anOversizedMetadataSizeIsRefusedWithoutAskingForAPiece() async throws {
        defer { TestFiles.cleanup(dir) }
        let huge = try FakePeer(mode: "huge", info: infoFile, dir: dir)
        defer { huge.process.stop() }
        let error = await #expect(throws: EngineError.self) { try await fetch().run(peers: [huge.address]) }
        #expect(error?.code == .metadataUnavailable)
        #expect(
            error?.context.contains("metadata_size 16777216 is over the 8388608-byte limit") == true,
            "\(String(describing: error))")
        #expect(huge.lines.contains("connection"))
        #expect(!huge.lines.contains { $0.hasPrefix("request") }, "\(huge.lines)")
    }

    @Test func severalPeersAtOnceTheFirstGoodCopyWins() async throws {
        defer { TestFiles.cleanup(dir) }
        let peers = try (0..<3).map { _ in try FakePeer(mode: "good", info: infoFile, dir: dir) }
        defer { peers.forEach { $0.process.stop() } }
        let got = try await fetch(parallel: 4).run(peers: peers.map(\.address))
        #expect(got == info)
        #expect(peers.allSatisfy { $0.lines.contains("connection") })
    }

    /// The fake peer: `mode` good, bad (one byte flipped) or huge (metadata_size 16 MiB); logs `listening`,
    /// `connection` and `request N` lines.
    static let script = """
        import hashlib, re, socket, struct, sys
        mode, infofile, port, log = sys.argv[1:5]
        info = open(infofile, 'rb').read()
        infohash = hashlib.sha1(info).digest()
        served = info[:-2] + bytes([info[-2] ^ 1]) + info[-1:] if mode == 'bad' else info
        def note(line):
            with open(log, 'a') as f:
                f.write(line + '\\n')
        def recvn(c, n):
            data = b''
            while len(data) < n:
                chunk = c.recv(n - len(data))
                if not chunk:
                    raise EOFError()
                data += chunk
            return data
        def send(c, ext, payload):
            c.sendall(struct.pack('>IBB', len(payload) + 2, 20, ext) + payload)
        def serve(c):
            recvn(c, 68)
            c.sendall(b'\\x13BitTorrent protocol' + bytes([0, 0, 0, 0, 0, 0x10, 0, 0]) + infohash + b'-PY0001-abcdefghijkl')
            size = 16 << 20 if mode == 'huge' else len(served)
            send(c, 0, b'd1:md11:ut_metadatai7ee13:metadata_sizei%dee' % size)
            theirs = None
            while True:
                length = struct.unpack('>I', recvn(c, 4))[0]
                if length == 0:
                    continue
                body = recvn(c, length)
                if body[0] != 20:
                    continue
                if body[1] == 0:
                    theirs = int(re.search(rb'11:ut_metadatai(\\d+)e', body[2:]).group(1))
                elif body[1] == 7:
                    piece = int(re.search(rb'5:piecei(\\d+)e', body[2:]).group(1))
                    note('request %d' % piece)
                    chunk = served[piece * 16384:(piece + 1) * 16384]
                    send(c, theirs, b'd8:msg_typei1e5:piecei%de10:total_sizei%dee' % (piece, len(served)) + chunk)
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(('127.0.0.1', int(port)))
        server.listen(8)
        server.settimeout(60)
        note('listening')
        while True:
            try:
                c, _ = server.accept()
            except socket.timeout:
                break
            note('connection')
            c.settimeout(10)
            try:
                serve(c)
            except Exception:
                pass
            c.close()
        """
}
