import Foundation

/// nginx serving a directory over HTTPS (TLS 1.2 and 1.3, Mozilla's "intermediate" choice, whatever the nginx
/// version's default) on 127.0.0.1 (a third-party mirror, as a company runs one), started in the
/// foreground as a process and stopped by its pid; its config, logs and temporary directories are under
/// `directory/nginx`. nginx answers Range requests on static files as BEP 19 web seeds need.
public final class NginxServer {
    public let process: BackgroundProcess
    public let port: Int

    /// Starts nginx and waits (up to 10 s) until it listens (nginx writes its pid file after binding).
    ///
    /// - Parameters:
    ///   - root: the directory it serves (readable by nginx's workers, which run as `nobody` under root).
    ///   - certificate: the server's PEM certificate chain; `key`: its private key.
    ///   - directory: where its config and logs go.
    public init(root: URL, certificate: URL, key: URL, directory: URL) throws {
        try TestProcess.requireTool("nginx")
        let home = directory.appendingPathComponent("nginx")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let port = try TestFiles.freePort()
        let pidFile = home.appendingPathComponent("nginx.pid")
        let temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map {
            "    \($0)_temp_path \(home.path)/\($0);\n"
        }.joined()
        let config = """
            worker_processes 1;
            pid \(pidFile.path);
            error_log \(home.path)/error.log warn;
            events { worker_connections 64; }
            http {
                access_log \(home.path)/access.log;
            \(temp)    default_type application/octet-stream;
                server {
                    listen 127.0.0.1:\(port) ssl;
                    ssl_certificate \(certificate.path);
                    ssl_certificate_key \(key.path);
                    ssl_protocols TLSv1.2 TLSv1.3;
                    root \(root.path);
                }
            }

            """
        let configFile = home.appendingPathComponent("nginx.conf")
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        process = try BackgroundProcess(
            "nginx",
            ["-p", home.path, "-e", home.appendingPathComponent("error.log").path, "-c", configFile.path, "-g",
             "daemon off;"],
            name: "nginx", logDirectory: directory)
        self.port = port
        let process = self.process
        let started = TestFiles.waitUntil(timeout: 10) {
            FileManager.default.fileExists(atPath: pidFile.path) || !process.isRunning
        }
        guard started, process.isRunning else {
            process.stop()
            let log = (try? String(contentsOf: home.appendingPathComponent("error.log"), encoding: .utf8)) ?? ""
            throw HarnessError("nginx did not start: \(process.stderr) \(log)")
        }
    }

    /// `https://127.0.0.1:PORT/`.
    public var url: String { "https://127.0.0.1:\(port)/" }

    public func stop() { process.stop() }
}

/// A throwaway certificate authority made with `openssl` in a test's directory, and a server certificate it issued
/// (by default for 127.0.0.1, an IP subject alternative name), both ECDSA P-256: what an operator's own CA and an
/// internal mirror's certificate look like.
public struct TestCertificateAuthority {
    /// The CA's certificate (PEM): what `--mirror-ca` is given.
    public let certificate: URL
    /// The server's certificate and key (PEM), issued by the CA for IP 127.0.0.1.
    public let serverCertificate: URL
    public let serverKey: URL

    /// - Parameters:
    ///   - directory: where the files go (a subdirectory `name`).
    ///   - name: the CA's subdirectory and common name.
    ///   - serverName: the server certificate's subject alternative name (`IP:…` or `DNS:…`).
    ///   - serverDays: how many days the server certificate is valid from now; -1 makes one that has expired (its
    ///     notAfter a day before its notBefore, as `openssl x509 -days -1` writes it).
    public init(directory: URL, name: String = "ca", serverName: String = "IP:127.0.0.1", serverDays: Int = 2) throws {
        try TestProcess.requireTool("openssl")
        let dir = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        certificate = dir.appendingPathComponent("ca.pem")
        serverCertificate = dir.appendingPathComponent("server.pem")
        serverKey = dir.appendingPathComponent("server.key")
        let caKey = dir.appendingPathComponent("ca.key").path
        let request = dir.appendingPathComponent("server.csr").path
        let extensions = dir.appendingPathComponent("server.ext")
        try "subjectAltName=\(serverName)\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            .write(to: extensions, atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        let steps: [[String]] = [
            ["req", "-x509"] + ec + [
                "-keyout", caKey, "-out", certificate.path, "-days", "2", "-subj", "/CN=swtorrent test \(name)",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ],
            ["req"] + ec + ["-keyout", serverKey.path, "-out", request, "-subj", "/CN=swtorrent test server"],
            [
                "x509", "-req", "-in", request, "-CA", certificate.path, "-CAkey", caKey, "-set_serial", "2", "-out",
                serverCertificate.path, "-days", "\(serverDays)", "-extfile", extensions.path,
            ],
        ]
        for step in steps {
            let result = try TestProcess.run("openssl", step, timeout: 30)
            guard result.exitCode == 0 else { throw HarnessError("openssl \(step[0]): \(result.stderr)") }
        }
    }
}
