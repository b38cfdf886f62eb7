import Foundation
import Synchronization

/// Errors raised by the integration-test harness itself.
public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The result of a finished process.
public struct ProcessResult: Sendable {
    public var exitCode: Int32
    public var stdout: String
    public var stderr: String
    public var timedOut: Bool
}

/// Runs external programs for the end-to-end tests. Every run is bounded in time; every process started is
/// stopped by its id.
public enum TestProcess {
    /// Runs `executable` with `arguments` to completion, killing it after `timeout` seconds.
    @discardableResult
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        currentDirectory: URL? = nil,
        stdin: Data? = nil,
        timeout: TimeInterval = 60
    ) throws -> ProcessResult {
        let process = Process()
        process.executableURL = try resolve(executable)
        process.arguments = withoutLocalDiscovery(executable, arguments)
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let outURL = FileManager.default.temporaryDirectory.appendingPathComponent("swt-out-\(UUID().uuidString)")
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("swt-err-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let outHandle = try FileHandle(forWritingTo: outURL)
        let errHandle = try FileHandle(forWritingTo: errURL)
        process.standardOutput = outHandle
        process.standardError = errHandle
        let inPipe = Pipe()
        process.standardInput = inPipe
        try process.run()
        if let stdin { inPipe.fileHandleForWriting.write(stdin) }
        try? inPipe.fileHandleForWriting.close()
        let timedOut = !waitForExit(process, timeout: timeout)
        if timedOut {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? outHandle.close()
        try? errHandle.close()
        let out = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return ProcessResult(exitCode: process.terminationStatus, stdout: out, stderr: err, timedOut: timedOut)
    }

    /// The arguments with `--no-lsd` added to every `swtorrent seed`/`leech` that does not choose local discovery
    /// itself (`--lsd`, `--no-lsd` or `--lsd-interface`): local discovery is on by default and multicasts on every
    /// suitable interface, and no test may multicast on this machine's real interfaces. A test of local discovery
    /// runs `swtorrent` inside a network namespace it created (e.g. `ip netns exec NS swtorrent …`, also seen here)
    /// and passes `--lsd` or `--lsd-interface` there. Every process `TestProcess` and `BackgroundProcess` start goes
    /// through this.
    public static func withoutLocalDiscovery(_ executable: String, _ arguments: [String]) -> [String] {
        let isSwtorrent = { (path: String) in URL(fileURLWithPath: path).lastPathComponent == "swtorrent" }
        // Where the subcommand is: the first argument of swtorrent itself, or the one after a swtorrent path in a
        // wrapper's arguments (`ip netns exec`, `setpriv`, `env`).
        let command: Int? =
            isSwtorrent(executable) ? 0 : arguments.firstIndex(where: isSwtorrent).map { $0 + 1 }
        guard let command, command < arguments.count, ["seed", "leech"].contains(arguments[command]) else {
            return arguments
        }
        let chooses = arguments[command...].contains {
            $0 == "--lsd" || $0 == "--no-lsd" || $0 == "--lsd-interface" || $0.hasPrefix("--lsd-interface=")
        }
        guard !chooses else { return arguments }
        var result = arguments
        result.insert("--no-lsd", at: command + 1)
        return result
    }

    /// Waits up to `timeout` seconds; returns false if the process is still running.
    public static func waitForExit(_ process: Process, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline { return false }
            usleep(20_000)
        }
        return true
    }

    /// Finds an executable by absolute path or on PATH.
    public static func resolve(_ name: String) throws -> URL {
        if name.hasPrefix("/") { return URL(fileURLWithPath: name) }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
        }
        throw HarnessError(
            "\(name) is not installed; run scripts/install-deps.sh (the README's test command does it for you)"
        )
    }

    /// Fails with a clear message naming the install script if a third-party tool is missing.
    public static func requireTool(_ name: String) throws {
        _ = try resolve(name)
    }

    /// The `swtorrent` binary under test: `SWTORRENT_BIN`, else the one built beside this test bundle.
    public static func swtorrentBinary() throws -> String {
        if let override = ProcessInfo.processInfo.environment["SWTORRENT_BIN"] { return override }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("swtorrent").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        throw HarnessError("swtorrent binary not found next to \(exe.path); run `swift build` first or set SWTORRENT_BIN")
    }

    /// Runs the `swtorrent` binary.
    @discardableResult
    public static func swtorrent(
        _ arguments: [String],
        environment: [String: String]? = nil,
        stdin: Data? = nil,
        timeout: TimeInterval = 120
    ) throws -> ProcessResult {
        try run(try swtorrentBinary(), arguments, environment: environment, stdin: stdin, timeout: timeout)
    }
}

/// A process running in the background for the length of a test (a tracker, a seed, a third-party client).
/// `stop()` ends it by its pid: SIGTERM, then SIGKILL after a grace period. Output goes to files in `logDirectory`.
public final class BackgroundProcess {
    public let process: Process
    public let name: String
    public let stdoutURL: URL
    public let stderrURL: URL

    public init(
        _ executable: String,
        _ arguments: [String],
        name: String? = nil,
        environment: [String: String]? = nil,
        currentDirectory: URL? = nil,
        logDirectory: URL
    ) throws {
        self.name = name ?? URL(fileURLWithPath: executable).lastPathComponent
        process = Process()
        process.executableURL = try TestProcess.resolve(executable)
        process.arguments = TestProcess.withoutLocalDiscovery(executable, arguments)
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let tag = "\(self.name)-\(UUID().uuidString.prefix(8))"
        stdoutURL = logDirectory.appendingPathComponent("\(tag).out")
        stderrURL = logDirectory.appendingPathComponent("\(tag).err")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    public var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Waits for the process to exit on its own, up to `timeout` seconds. Returns its exit code, or nil on timeout.
    public func wait(timeout: TimeInterval) -> Int32? {
        TestProcess.waitForExit(process, timeout: timeout) ? process.terminationStatus : nil
    }

    /// Stops the process by its pid and waits for it (bounded).
    public func stop(grace: TimeInterval = 5) {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        if !TestProcess.waitForExit(process, timeout: grace) {
            kill(pid, SIGKILL)
            _ = TestProcess.waitForExit(process, timeout: 5)
        }
    }

    deinit { stop(grace: 1) }
}

/// Temporary directories and small helpers.
public enum TestFiles {
    /// A fresh temporary directory; remove it with `cleanup`.
    public static func makeTemporaryDirectory(_ label: String = "swt") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    public static func cleanup(_ url: URL) {
        try? FileManager.default.removeItem(at: url)
    }

    /// Writes `size` pseudo-random bytes (deterministic for a seed) to `url`.
    public static func writeRandomFile(_ url: URL, size: Int, seed: UInt64 = 0x5eed) throws {
        var state = seed | 1
        var data = [UInt8](repeating: 0, count: size)
        data.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in 0..<words.count {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                words[i] = state
            }
            for i in (words.count * 8)..<size {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                raw[i] = UInt8(truncatingIfNeeded: state)
            }
        }
        try Data(data).write(to: url)
    }

    /// A free TCP port on 127.0.0.1 (bound then released; small race accepted in tests), never one this process was
    /// handed before: the kernel may give the same ephemeral port to two binds in a row when the first was released,
    /// and a test that asks for several ports before binding any (a seed's peer, status and HTTP ports) got one port
    /// twice (CI: the seed's listener found its own status server on it).
    public static func freePort() throws -> Int {
        for _ in 0..<64 {
            let port = try unusedPort()
            let fresh = handedOutPorts.withLock { ports in ports.insert(port).inserted }
            if fresh { return port }
        }
        throw HarnessError("no TCP port on 127.0.0.1 that this test process has not used already")
    }

    private static let handedOutPorts = Mutex<Set<Int>>([])

    private static func unusedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket() failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw HarnessError("bind() failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Polls `condition` every 50 ms until it holds or `timeout` seconds pass, blocking the calling thread.
    ///
    /// Not for async code: a blocked thread is one of the cooperative pool's two on this machine, and in-process
    /// sessions starve behind it. Async tests use ``waitUntilAsync(timeout:_:)``.
    @available(*, noasync, message: "use `await TestFiles.waitUntilAsync`: a blocking wait holds a cooperative-pool thread")
    public static func waitUntil(timeout: TimeInterval, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }

    /// Polls `condition` every 50 ms until it holds or `timeout` seconds pass, suspending between polls (no thread is
    /// held while it waits). A cancelled task (a test past its time limit) polls once more and stops.
    public static func waitUntilAsync(
        timeout: TimeInterval, _ condition: () async throws -> Bool
    ) async rethrows -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline, !Task.isCancelled {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }
}

/// Where the shared conformance data lives: `../shared/conformance` beside the package, or `SWTORRENT_CONFORMANCE`.
public enum Conformance {
    /// The data directory (one holding a README.md), or nil. `SWTORRENT_CONFORMANCE` replaces the search; naming a
    /// directory that does not hold the data makes the data missing (how the "must fail" path is tested).
    public static func directory(filePath: String = #filePath) -> URL? {
        if let override = ProcessInfo.processInfo.environment["SWTORRENT_CONFORMANCE"] {
            let url = URL(fileURLWithPath: override)
            let present = FileManager.default.fileExists(atPath: url.appendingPathComponent("README.md").path)
            return present ? url : nil
        }
        var dir = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent("../shared/conformance").standardized
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("README.md").path) {
                return candidate
            }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }
}
