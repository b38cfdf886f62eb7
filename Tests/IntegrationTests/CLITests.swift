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
}
