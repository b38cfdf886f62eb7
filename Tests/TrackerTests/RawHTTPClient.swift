import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A tiny blocking HTTP/1.1 client over a raw loopback socket, with receive/send timeouts so no test can hang.
struct RawHTTPResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

struct RawHTTPError: Error, CustomStringConvertible {
    var description: String
}

final class RawHTTPConnection {
    let fd: Int32
    private var buffered: [UInt8] = []

    /// - Parameter receiveBuffer: a small `SO_RCVBUF`, set before connecting, makes the server's writes back up.
    init(port: Int, host: String = "127.0.0.1", timeout: TimeInterval = 5, receiveBuffer: Int32? = nil) throws {
        let isV6 = host.contains(":")
        fd = socket(isV6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawHTTPError(description: "socket() failed: errno \(errno)") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - floor(timeout)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let result: Int32
        if isV6 {
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = UInt16(port).bigEndian
            inet_pton(AF_INET6, host, &addr.sin6_addr)
            result = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        } else {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(port).bigEndian
            addr.sin_addr.s_addr = inet_addr(host)
            result = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            throw RawHTTPError(description: "connect to \(host):\(port) failed: errno \(code)")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw RawHTTPError(description: "send failed: errno \(errno)") }
            offset += n
        }
    }

    /// Reads more bytes; returns false on EOF (or a reset), throws on timeout.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16384)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 {
            buffered.append(contentsOf: chunk[0..<n])
            return true
        }
        if n == 0 || errno == ECONNRESET { return false }
        throw RawHTTPError(description: "recv failed or timed out: errno \(errno)")
    }

    /// True if the server closed the connection (EOF) before the timeout, with no further bytes.
    func waitForClose() throws -> Bool {
        while try fill() {}
        return true
    }

    /// Reads one response (Content-Length framed).
    func readResponse() throws -> RawHTTPResponse {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int? = nil
        while headEnd == nil {
            if let range = buffered.firstRange(of: separator) {
                headEnd = range.upperBound
            } else if !(try fill()) {
                throw RawHTTPError(
                    description: "connection closed before a full response head (\(buffered.count) bytes)")
            }
        }
        let headText = String(decoding: buffered[0..<headEnd!], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw RawHTTPError(description: "bad status line in \(headText)")
        }
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let length = headers.first { $0.0.lowercased() == "content-length" }.flatMap { Int($0.1) } ?? 0
        while buffered.count < headEnd! + length {
            guard try fill() else { throw RawHTTPError(description: "connection closed inside the body") }
        }
        let body = Array(buffered[headEnd!..<(headEnd! + length)])
        buffered.removeFirst(headEnd! + length)
        return RawHTTPResponse(status: status, headers: headers, body: body)
    }

    /// Sends a GET and reads its response.
    func get(_ target: String, headers: [String: String] = [:], close: Bool = false) throws -> RawHTTPResponse {
        var request = "GET \(target) HTTP/1.1\r\n" + (headers["Host"] == nil ? "Host: 127.0.0.1\r\n" : "")
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        if close { request += "Connection: close\r\n" }
        try send(request + "\r\n")
        return try readResponse()
    }
}

/// One GET on a fresh connection.
func httpGet(port: Int, _ target: String, headers: [String: String] = [:]) throws -> RawHTTPResponse {
    try RawHTTPConnection(port: port).get(target, headers: headers, close: true)
}
