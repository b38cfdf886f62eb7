import ArgumentParser
import Node

/// `swtorrent status [ADDR]`: prints a running node's status (its `/status` endpoint) as a table, or as JSON.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a running seed's torrents, progress, peers and rates.",
        discussion: """
            Reads GET /status from the node's status address (seed --status, or the daemon's status setting) and \
            prints one line for the node and one row per torrent. --json prints the endpoint's JSON as it is.

            Exit codes: 0 printed; 1 the node cannot be reached or did not answer with a status; 2 bad arguments.
            """
    )

    @Argument(help: "The node's status address: HOST:PORT, [IPV6]:PORT or PORT (on 127.0.0.1).")
    var address: String = StatusService.defaultAddress

    @Flag(name: .long, help: "Print the status as JSON (one object) instead of a table.")
    var json = false

    func run() async throws {
        do throws(NodeError) {
            let status = try await StatusService.fetch(address)
            if json {
                Output.line(String(decoding: StatusService.encode(status), as: UTF8.self))
            } else {
                Output.line(status.table())
            }
        } catch {
            StandardError.report("status", error.message)
            throw ExitCode(ExitCodes.of(error))
        }
    }
}
