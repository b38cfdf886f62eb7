import Foundation
import TestSupport
import Testing

/// The command line as a user meets it.
struct CLITests {
    @Test func helpNamesTheSubcommandsAndExitsZero() throws {
        let result = try TestProcess.swtorrent(["--help"])
        #expect(result.exitCode == 0)
        #expect(result.stdout.contains("USAGE: swtorrent"))
    }

    @Test func unknownSubcommandFailsAndNamesIt() throws {
        let result = try TestProcess.swtorrent(["no-such-command"])
        #expect(result.exitCode == 2)
        #expect(result.stderr.contains("no-such-command"))
    }

    @Test(arguments: [["keygen", "--bogus"], ["make"], ["info", "a", "b"], ["leech", "x.torrent"]])
    func argumentErrorsExitTwoWithUsage(arguments: [String]) throws {
        let result = try TestProcess.swtorrent(arguments)
        #expect(result.exitCode == 2, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains("Usage: swtorrent"), "\(arguments): \(result.stderr)")
    }

    /// A malformed `--lan` / `--wan` network is refused before anything starts, naming the option and the form.
    @Test(arguments: [("--lan", "10.0.0/8"), ("--wan", "10.0.0.0/33"), ("--lan", "fd00::/129")])
    func malformedNetworksAreRefused(option: String, network: String) throws {
        let result = try TestProcess.swtorrent(
            ["leech", "missing.torrent", "--out", "/nonexistent", "--allow-unsigned", option, network])
        #expect(result.exitCode == 2, "\(result.stderr)")
        #expect(result.stderr.contains("\(option): network '\(network)'"), "\(result.stderr)")
    }
}
