import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Blocking IPv4 loopback sockets for async tests: each blocking call runs on a thread of its own (not one of the
/// cooperative pool's) and is bounded by a timeout.
public enum TestSocket {
    /// What came back on a connection: its bytes, whether the peer closed, and the HTTP head and body if any.
    public struct Answer: Sendable {
        public let bytes: [UInt8]
        public let closed: Bool

        public var head: String {
            guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else {
                return String(decoding: bytes, as: UTF8.self)
            }
            return String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        }
        public var status: Int? { head.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } }
        public var body: Data {
            guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else { return Data() }
            return Data(bytes[end.upperBound...])
        }
    }

    /// Runs `body` on a new thread and resumes with its result.
    public static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// A TCP connection to 127.0.0.1:`port` from the address `source` (loopback holds all of 127/8), with the
    /// receive buffer set to `receiveBuffer` bytes before connecting when given.
    public static func connect(port: Int, from source: String, receiveBuffer: Int32? = nil) async throws -> Int32 {
        try await onThread {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
            if var size = receiveBuffer {
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
            func address(_ host: String, _ port: Int) -> sockaddr_in {
                var addr = sockaddr_in()
                addr.sin_family = sa_family_t(AF_INET)
                addr.sin_port = in_port_t(UInt16(port).bigEndian)
                addr.sin_addr.s_addr = inet_addr(host)
                return addr
            }
            func call(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32, _ addr: sockaddr_in) -> Bool {
                withUnsafePointer(to: addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                    }
                }
            }
            guard call({ bind(fd, $0, $1) }, address(source, 0)),
                call({ Glibc.connect(fd, $0, $1) }, address("127.0.0.1", port))
            else {
                let code = errno
                close(fd)
                throw HarnessError("connect to 127.0.0.1:\(port) from \(source) failed: errno \(code)")
            }
            return fd
        }
    }

    public static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw HarnessError("send failed: errno \(errno)") }
            offset += n
        }
    }

    /// Sends `request` (if any; a connection the server already closed may refuse it), then reads until the peer
    /// closes or `timeout` seconds pass.
    public static func exchange(_ fd: Int32, send request: String?, timeout: TimeInterval) async throws -> Answer {
        try await onThread {
            if let request { try? sendAll(fd, Array(request.utf8)) }
            var bytes: [UInt8] = []
            let deadline = Date().addingTimeInterval(timeout)
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let left = deadline.timeIntervalSinceNow
                guard left > 0 else { return Answer(bytes: bytes, closed: false) }
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&descriptor, 1, Int32(left * 1000)) > 0 else { return Answer(bytes: bytes, closed: false) }
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count <= 0 { return Answer(bytes: bytes, closed: true) }
                bytes += buffer[0..<count]
            }
        }
    }
}
