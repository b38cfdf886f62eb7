import ArgumentParser
import Dispatch
import Engine
import Foundation
import Identity
import Logging
import Metainfo

/// `swtorrent seed TORRENT --data DIR`: serves a torrent's data until stopped. The work is in `Engine.Transfer`
/// and `Engine.TorrentSession`.
struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Seed a torrent from a directory that holds its data.",
        discussion: """
            DIR holds the content as a BitTorrent save path: a single-file torrent's file is DIR/NAME, a \
            multi-file torrent's files are under DIR/NAME/. Every piece is hash-checked at start. The seed \
            announces to the torrent's HTTP trackers, dials any --peer, accepts connections on --port and runs \
            until SIGINT or SIGTERM.

            Exit codes: 0 stopped by SIGINT/SIGTERM; 1 I/O or network failure (cannot listen, disk error); 2 bad \
            arguments or a malformed torrent; 3 DIR does not hold the torrent's complete data.
            """
    )

    @Argument(help: "The .torrent file.")
    var torrent: String

    @Option(name: .long, help: "Directory that holds the torrent's content (the save path).")
    var data: String

    @OptionGroup var common: TransferOptions

    func run() async throws {
        var configuration = try common.sessionConfiguration(command: "seed")
        configuration.seedUntilStopped = true
        let code = await common.runTransfer(
            command: "seed", mode: .seed, torrentPath: torrent, directory: data, configuration: configuration)
        if code != 0 { throw ExitCode(code) }
    }
}

/// Options shared by `seed` and `leech`.
struct TransferOptions: ParsableArguments {
    @Option(name: .long, help: "TCP port to accept peers on (default: any free port, announced to trackers).")
    var port: Int = 0

    @Option(name: .long, help: "A peer to dial directly, HOST:PORT or [IPV6]:PORT (repeatable).")
    var peer: [String] = []

    @Flag(name: .long, help: "Do not announce to the torrent's trackers (use --peer only).")
    var noTracker = false

    @Option(name: .long, help: "Upload limit in bytes per second.")
    var uploadLimit: Int?

    @Option(name: .long, help: "Download limit in bytes per second.")
    var downloadLimit: Int?

    @Option(name: .long, help: "Most connections at once.")
    var maxConnections: Int = 80

    @Option(name: .long, help: "Sign announces with this node key file (from `swtorrent keygen`).")
    var key: String?

    @Flag(name: .long, help: "Print progress as JSON lines on stdout.")
    var json = false

    @Flag(name: .long, help: "Log what the engine does (stderr).")
    var verbose = false

    static func usage(_ command: String, _ message: String) -> ValidationError {
        ValidationError(message)
    }

    func sessionConfiguration(command: String) throws -> SessionConfiguration {
        var configuration = SessionConfiguration()
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port) is not a TCP port (0-65535)") }
        configuration.port = port
        do {
            configuration.manualPeers = try peer.map { try PeerAddress(parsing: $0) }
        } catch {
            throw ValidationError("\(error)")
        }
        configuration.useTrackers = !noTracker
        configuration.uploadRateLimit = uploadLimit
        configuration.downloadRateLimit = downloadLimit
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        configuration.maxConnections = maxConnections
        if let key {
            do {
                configuration.announceParameters = SessionConfiguration.signedAnnounces(key: try NodeKey.load(path: key))
            } catch {
                throw ValidationError("--key: \(error)")
            }
        }
        return configuration
    }

    /// Once per process: a second `signal(SIG_IGN)` would replace the handler libdispatch installs (once) for its
    /// signal sources, and a later transfer (leech's seeding phase after the gate) would ignore SIGINT/SIGTERM.
    private static let ignoreDefaultSignalActions: Void = {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
    }()

    /// Opens, runs until the end, reports; returns the exit code.
    func runTransfer(
        command: String, mode: Transfer.Mode, torrentPath: String, directory: String,
        configuration: SessionConfiguration, observe: (SessionOutcome) -> Void = { _ in }
    ) async -> Int32 {
        var logger = Logger(label: "swtorrent.\(command)")
        logger.logLevel = verbose ? .debug : .warning
        let opened = await Transfer.open(torrentPath: torrentPath, directory: directory, mode: mode, logger: logger)
        let torrent: Metainfo.Torrent
        let storage: Storage
        switch opened {
        case .failure(let failure):
            return report(command, failure.status)
        case .success(let pair):
            (torrent, storage) = pair
        }
        let session = TorrentSession(torrent: torrent, storage: storage, configuration: configuration, logger: logger)
        _ = Self.ignoreDefaultSignalActions
        let signals = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { session.stop() }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }
        let json = self.json
        let terminal = isatty(STDERR_FILENO) == 1
        let printer = ProgressPrinter(json: json, terminal: terminal)
        let outcome: SessionOutcome
        do {
            outcome = try await session.run { printer.show($0) }
        } catch {
            return report(command, .failure("\(error)"))
        }
        observe(outcome)
        let status = Transfer.status(of: outcome, mode: mode)
        let final: SessionProgress
        let event: String
        switch outcome {
        case .complete(let p): (final, event) = (p, "complete")
        case .stopped(let p): (final, event) = (p, "stopped")
        case .stalled(let p): (final, event) = (p, "stalled")
        }
        if json {
            FileHandle.standardOutput.write(Data((ProgressFormat.json(final, event: event) + "\n").utf8))
        } else {
            if terminal { FileHandle.standardError.write(Data("\r\u{1b}[K".utf8)) }
            FileHandle.standardError.write(Data("swtorrent \(command): \(event): \(ProgressFormat.line(final))\n".utf8))
        }
        return report(command, status)
    }

    private func report(_ command: String, _ status: Transfer.Status) -> Int32 {
        switch status {
        case .success, .interrupted:
            break
        case .failure(let message), .badInput(let message), .incomplete(let message):
            FileHandle.standardError.write(Data("swtorrent \(command): \(message)\n".utf8))
        }
        return status.exitCode
    }
}

/// Prints progress: JSON lines on stdout, or one rewritten status line on a terminal.
struct ProgressPrinter: Sendable {
    let json: Bool
    let terminal: Bool

    func show(_ progress: SessionProgress) {
        if json {
            FileHandle.standardOutput.write(Data((ProgressFormat.json(progress) + "\n").utf8))
        } else if terminal {
            FileHandle.standardError.write(Data("\r\u{1b}[K\(ProgressFormat.line(progress))".utf8))
        }
    }
}
