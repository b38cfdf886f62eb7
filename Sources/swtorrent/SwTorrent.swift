import ArgumentParser

/// The `swtorrent` command: argument parsing and exit codes only; every subcommand calls into a library (most into
/// `Node`).
@main
struct SwTorrent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swtorrent",
        abstract: "Private BitTorrent for release artifacts: make, track, seed, leech, sign and verify.",
        discussion: """
            Exit codes (every subcommand): 0 success; 1 runtime failure (I/O, network, verification);
            2 bad arguments or malformed input file (also shown in the message); other codes are listed in
            each subcommand's --help.
            """,
        version: "0.1.0",
        subcommands: [
            KeygenCommand.self,
            MakeCommand.self,
            InfoCommand.self,
            SignCommand.self,
            VerifyCommand.self,
            TrackerCommand.self,
            SeedCommand.self,
            LeechCommand.self,
            StatusCommand.self,
        ]
    )

    /// Runs the command. Argument errors exit 2, as documented, rather than ArgumentParser's 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                StandardError.line(fullMessage(for: error))
                exit(withError: ExitCode(ExitCodes.badInput))
            }
            exit(withError: error)
        }
    }
}
