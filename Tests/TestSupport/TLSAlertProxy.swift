import Foundation

/// A TCP proxy on 127.0.0.1 in front of a TLS server that answers the first connections' ClientHello with a fatal
/// `handshake_failure` alert and forwards every later connection byte for byte (`tls-alert-proxy.py` beside this
/// file): an on-path attacker who injects one alert, or a flaky middlebox. Started as a process and stopped by its
/// pid; it exits on its own after `lifetime` seconds.
public final class TLSAlertProxy {
    public let process: BackgroundProcess
    public let port: Int

    /// Starts the proxy and waits (up to 10 s) until it listens.
    ///
    /// - Parameters:
    ///   - target: the port on 127.0.0.1 it forwards to.
    ///   - alertFirst: how many connections, the first ones, get the alert instead.
    ///   - logDirectory: where its output goes.
    ///   - lifetime: seconds after which it exits on its own.
    public init(target: Int, alertFirst: Int = 1, logDirectory: URL, lifetime: Int = 300) throws {
        (process, port) = try BackgroundProcess.pythonScript(
            "tls-alert-proxy.py",
            ["--target", "\(target)", "--alert-first", "\(alertFirst)", "--lifetime", "\(lifetime)"],
            name: "tls-alert-proxy", logDirectory: logDirectory)
    }

    /// The connections it accepted so far, in order: `alert` (answered with the alert) or `forward`.
    public var connections: [String] { accepted.map(\.kind) }

    /// When it accepted each connection so far, in order: the proxy's monotonic clock in seconds (only the
    /// differences mean anything).
    public var connectionTimes: [Double] { accepted.map(\.time) }

    private var accepted: [(kind: String, time: Double)] {
        process.stdout.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 4, fields[0] == "CONN", let time = Double(fields[3]) else { return nil }
            return (String(fields[2]), time)
        }
    }

    public func stop() { process.stop() }
}
