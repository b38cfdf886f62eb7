import Foundation

extension BackgroundProcess {
    /// Starts one of the python3 scripts beside this file that listen on a port of their choosing and write it to
    /// `--port-file` (`faulty-http-server.py`, `tls-alert-proxy.py`), and waits (up to 10 s) until the port is there.
    ///
    /// - Parameters:
    ///   - script: the script's file name in this directory.
    ///   - arguments: its arguments besides `--port-file`.
    ///   - name: the process's name in its log files.
    ///   - logDirectory: where its output (and the port file) go.
    /// - Returns: the running process and its port.
    /// - Throws: ``HarnessError`` with its stderr when it exits or writes no port in time (it is stopped then).
    static func pythonScript(
        _ script: String, _ arguments: [String], name: String, logDirectory: URL
    ) throws -> (process: BackgroundProcess, port: Int) {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(script).path
        let portFile = logDirectory.appendingPathComponent("\(name)-port-\(UUID().uuidString.prefix(8))")
        let process = try BackgroundProcess(
            "python3", ["-u", path, "--port-file", portFile.path] + arguments, name: name, logDirectory: logDirectory)
        var port: Int?
        _ = TestFiles.waitUntil(timeout: 10) {
            port = (try? String(contentsOf: portFile, encoding: .utf8)).flatMap { Int($0) }
            return port != nil || !process.isRunning
        }
        guard let port else {
            process.stop()
            throw HarnessError("\(script) did not start: \(process.stderr)")
        }
        return (process, port)
    }
}
