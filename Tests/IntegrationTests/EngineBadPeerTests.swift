import Foundation
import Synchronization
import Metainfo
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Misbehaving peers (raw sockets in the test) next to a good swtorrent seed: the leech drops or bans them and
/// still completes with the right bytes.
@Suite(.serialized) struct EngineBadPeerTests {
    /// 97 pieces of 64 KiB (the last one short): the bitfield has 3 spare bits.
    static let size = 96 * 65536 + 1000

    @Test(arguments: [RawPeer.Behaviour.garbageData, .oversizedFrame, .spareBitsInBitfield, .silent, .neverHandshakes])
    func leechCompletesDespiteABadPeer(behaviour: RawPeer.Behaviour) throws {
        let swarm = try EngineInteropTests.Swarm(size: Self.size)
        let infoHash = try Torrent(contentsOfFile: swarm.torrent.path).infoHash.bytes
        let bad = try RawPeer(behaviour: behaviour, infoHash: infoHash, pieceCount: 97)
        defer { bad.stop() }
        let port = try TestFiles.freePort()
        // The good seed uploads at 1 MB/s (about 6 s for the whole torrent) while the bad peer answers at once, so
        // the bad peer is surely asked for (and fails) several pieces before the good seed has delivered everything,
        // however loaded the machine. (A download limit on the leech would throttle the bad peer as well.)
        let seed = try swarm.seed(port: port, extra: ["--upload-limit", "1000000"])
        defer { seed.stop() }
        let result = try TestProcess.swtorrent(
            ["leech", swarm.torrent.path, "--out", swarm.path("out"), "--json", "--no-tracker", "--allow-unsigned",
             "--stall-timeout", "30s", "--peer", "127.0.0.1:\(bad.port)", "--peer", "127.0.0.1:\(port)"],
            timeout: 50)
        #expect(result.exitCode == 0, "\(behaviour): \(result.stderr)")
        try swarm.expectDownloaded(into: swarm.path("out"), "\(behaviour)")
        let last = EngineInteropTests.lastJSON(result.stdout)
        #expect(bad.connections > 0, "the bad peer was dialled")
        if behaviour == .garbageData {
            #expect((last?["hashFailures"] as? Int ?? 0) >= 1, "garbage was caught by the hash check")
            #expect(last?["bannedPeers"] as? Int == 1, "the peer that sent garbage was banned")
        }
    }

    /// A client that asks our seed for a block outside the torrent is disconnected; the seed goes on serving.
    @Test func seedDropsARequestOutsideTheTorrent() throws {
        let swarm = try EngineInteropTests.Swarm(size: Self.size)
        let infoHash = try Torrent(contentsOfFile: swarm.torrent.path).infoHash.bytes
        let port = try TestFiles.freePort()
        let seed = try swarm.seed(port: port)
        defer { seed.stop() }
        let fd = try RawPeer.connect(port: port)
        defer { close(fd) }
        try RawPeer.sendAll(fd, RawPeer.handshake(infoHash: infoHash))
        try RawPeer.sendAll(fd, [0, 0, 0, 1, 2])  // interested
        try RawPeer.sendAll(fd, RawPeer.request(piece: 5000, begin: 0, length: 16384))
        #expect(RawPeer.readsUntilClosed(fd, timeout: 10), "the seed closed the connection")
        let result = try swarm.leech(into: swarm.path("out"), peers: [port])
        #expect(result.exitCode == 0, "\(result.stderr)")
        try swarm.expectDownloaded(into: swarm.path("out"))
    }

    /// Hundreds of idle connections do not keep a real leech out for long.
    @Test func hundredsOfIdleConnections() throws {
        let swarm = try EngineInteropTests.Swarm(size: Self.size)
        let port = try TestFiles.freePort()
        let seed = try swarm.seed(port: port)
        defer { seed.stop() }
        var idle: [Int32] = []
        defer { idle.forEach { close($0) } }
        for _ in 0..<200 {
            if let fd = try? RawPeer.connect(port: port) { idle.append(fd) }
        }
        #expect(idle.count > 100)
        let result = try swarm.leech(into: swarm.path("out"), peers: [port], timeout: 50)
        #expect(result.exitCode == 0, "\(result.stderr)")
        try swarm.expectDownloaded(into: swarm.path("out"))
    }
}

/// A peer on raw sockets that misbehaves in one chosen way. Serves connections on a background thread until
/// stopped.
final class RawPeer: Sendable {
    enum Behaviour: String, Sendable, CustomTestStringConvertible {
        /// Handshakes, has everything, unchokes, and answers every request with random bytes.
        case garbageData
        /// Handshakes, then announces a 16 MiB frame.
        case oversizedFrame
        /// Handshakes, then sends a bitfield with the spare bits set.
        case spareBitsInBitfield
        /// Handshakes, has everything, unchokes, never sends a block.
        case silent
        /// Accepts the TCP connection and never says anything.
        case neverHandshakes

        var testDescription: String { rawValue }
    }

    let port: Int
    private let listener: Int32
    private let count = Mutex(0)
    private let isOpen = Mutex(true)

    var connections: Int { count.withLock { $0 } }

    init(behaviour: Behaviour, infoHash: [UInt8], pieceCount: Int) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, Glibc.listen(listener, 16) == 0 else { throw HarnessError("raw peer: bind/listen failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) }
        }
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread.detachNewThread { [self] in
            while true {
                let fd = accept(listener, nil, nil)
                if fd < 0 { return }
                count.withLock { $0 += 1 }
                Thread.detachNewThread {
                    Self.serve(fd, behaviour: behaviour, infoHash: infoHash, pieceCount: pieceCount)
                    close(fd)
                }
            }
        }
    }

    func stop() {
        let wasOpen = isOpen.withLock { open in
            defer { open = false }
            return open
        }
        guard wasOpen else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }

    private static func serve(_ fd: Int32, behaviour: Behaviour, infoHash: [UInt8], pieceCount: Int) {
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if behaviour == .neverHandshakes {
            _ = readExactly(fd, 1 << 20)
            return
        }
        guard readExactly(fd, 68) != nil, (try? sendAll(fd, handshake(infoHash: infoHash))) != nil else { return }
        let bitfieldLength = (pieceCount + 7) / 8
        var bits = [UInt8](repeating: 0xff, count: bitfieldLength)
        if behaviour != .spareBitsInBitfield {
            let spare = bitfieldLength * 8 - pieceCount
            bits[bitfieldLength - 1] = 0xff << UInt8(spare)
        }
        switch behaviour {
        case .oversizedFrame:
            try? sendAll(fd, [0x01, 0x00, 0x00, 0x00, 7] + [UInt8](repeating: 0, count: 64))
            _ = readExactly(fd, 1 << 20)
            return
        case .spareBitsInBitfield:
            try? sendAll(fd, frame(5, bits))
            _ = readExactly(fd, 1 << 20)
            return
        default:
            break
        }
        guard (try? sendAll(fd, frame(5, bits) + frame(1, []))) != nil else { return }
        // Garbage made cheaply (a counter through a multiplicative hash, not a system call per byte), so the bad
        // peer answers fast even on a loaded machine.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        while let lengthBytes = readExactly(fd, 4) {
            let length = Int(lengthBytes[0]) << 24 | Int(lengthBytes[1]) << 16 | Int(lengthBytes[2]) << 8
                | Int(lengthBytes[3])
            guard length < 1 << 20, let body = length == 0 ? [] : readExactly(fd, length) else { return }
            guard body.first == 6, body.count == 13, behaviour == .garbageData else { continue }
            let blockLength = Int(body[9]) << 24 | Int(body[10]) << 16 | Int(body[11]) << 8 | Int(body[12])
            let garbage = (0..<blockLength).map { _ in
                state &+= 0x9E37_79B9_7F4A_7C15
                return UInt8(truncatingIfNeeded: (state ^ (state >> 29)) &* 0xBF58_476D_1CE4_E5B9 >> 56)
            }
            guard (try? sendAll(fd, frame(7, Array(body[1..<9]) + garbage))) != nil else { return }
        }
    }

    static func handshake(infoHash: [UInt8]) -> [UInt8] {
        [19] + Array("BitTorrent protocol".utf8) + [UInt8](repeating: 0, count: 8) + infoHash
            + Array("-XX0000-badbadbadbad".utf8)
    }

    static func frame(_ id: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let length = UInt32(payload.count + 1)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), id]
            + payload
    }

    static func request(piece: UInt32, begin: UInt32, length: UInt32) -> [UInt8] {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        return frame(6, be(piece) + be(begin) + be(length))
    }

    static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard ok else {
            close(fd)
            throw HarnessError("connect to 127.0.0.1:\(port) failed")
        }
        return fd
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        try TestSocket.sendAll(fd, bytes)
    }

    static func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buffer[got...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            got += n
        }
        return buffer
    }

    /// Reads and discards until the peer closes (true) or `timeout` seconds pass (false).
    static func readsUntilClosed(_ fd: Int32, timeout: Int) -> Bool {
        var t = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }
}
