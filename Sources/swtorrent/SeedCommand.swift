import ArgumentParser
import Engine
import Node

/// `swtorrent seed TORRENT --data DIR`: serves a torrent's data until stopped. The work is in `Node.TransferRunner`.
struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Seed a torrent from a directory that holds its data.",
        discussion: """
            DIR holds the content as a BitTorrent save path: a single-file torrent's file is DIR/NAME, a \
            multi-file torrent's files are under DIR/NAME/. Every piece is hash-checked at start. The seed \
            announces to the torrent's HTTP trackers and (unless --no-lsd or the torrent is private) to the LAN by \
            BEP 14 local discovery, dials any --peer, accepts connections on --port and runs until SIGINT or SIGTERM.

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
        common.bootstrapLogging()
        var configuration = try common.sessionConfiguration()
        configuration.seedUntilStopped = true
        let host = try common.discoveryHost(configuration, command: "seed")
        let runner = TransferRunner(
            torrentPath: torrent, directory: data, mode: .seed, configuration: configuration,
            logger: common.logger("seed"), host: host)
        let printer = common.progressPrinter
        let result = await common.runAsService("seed") { () async -> Result<SessionOutcome, NodeError> in
            let result: Result<SessionOutcome, NodeError>
            do throws(NodeError) {
                result = .success(try await runner.run { printer.show($0) })
            } catch {
                result = .failure(error)
            }
            await host?.shutdown()
            return result
        }
        switch result {
        case .success(let outcome):
            common.reportEnd("seed", outcome, mode: .seed)
            try ExitCodes.exit(ExitCodes.of(outcome, seeding: true))
        case .failure(let error):
            StandardError.report("seed", error.message)
            try ExitCodes.exit(ExitCodes.of(error))
        case nil:
            throw ExitCode(ExitCodes.failure)
        }
    }
}
