import Foundation

/// A small HTTP file server with Range support and injected faults, for the mirror tests: `faulty-http-server.py`
/// beside this file (python3's `http.server`), started as a process on 127.0.0.1 and stopped by its pid. The
/// faults are its options (`--fail-first 2 --fail-status 503`, `--status 404`, `--corrupt`, `--short K`,
/// `--long K`, `--stall-after K`, `--die-after K`, `--redirects N`, `--redirect-loop`, `--ignore-range`, `--no-content-range`, `--wrong-total`; the
/// script's docstring says what each does). It exits on its own after `lifetime` seconds.
public final class FaultyHTTPServer {
    /// One request as the server logged it.
    public struct Request: Sendable, Hashable {
        /// Seconds on the server's monotonic clock: when it arrived.
        public var time: Double
        public var status: Int
        public var path: String
        public var range: String
        /// When its whole body was sent (nil: not (yet) sent in full).
        public var end: Double?
    }

    public let process: BackgroundProcess
    public let port: Int

    /// Starts the server and waits (up to 10 s) until it listens.
    ///
    /// - Parameters:
    ///   - root: the directory it serves.
    ///   - faults: the script's fault options.
    ///   - logDirectory: where its output goes.
    ///   - lifetime: seconds after which it exits on its own.
    public init(root: URL, faults: [String] = [], logDirectory: URL, lifetime: Int = 300) throws {
        (process, port) = try BackgroundProcess.pythonScript(
            "faulty-http-server.py", ["--root", root.path, "--lifetime", "\(lifetime)"] + faults, name: "faulty-http",
            logDirectory: logDirectory)
    }

    /// `http://127.0.0.1:PORT/`: a directory URL (a multi-file torrent's mirror, or a single file under its name).
    public var url: String { "http://127.0.0.1:\(port)/" }

    /// The requests it answered so far, in order of arrival.
    public var requests: [Request] {
        var result: [Request] = []
        for line in process.stdout.split(separator: "\n") {
            let f = line.split(separator: " ", maxSplits: 4).map(String.init)
            guard f.count == 5, let time = Double(f[1]), let status = Int(f[2]) else { continue }
            if f[0] == "REQ" {
                result.append(Request(time: time, status: status, path: f[3], range: f[4]))
            } else if f[0] == "END",
                let index = result.firstIndex(where: { $0.end == nil && $0.path == f[3] && $0.range == f[4] })
            {
                result[index].end = time
            }
        }
        return result
    }

    public func stop() { process.stop() }
}
