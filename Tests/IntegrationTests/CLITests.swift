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
        #expect(result.exitCode != 0)
        #expect(result.stderr.contains("no-such-command"))
    }
}
