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

    /// `--site ""` is refused when the arguments are parsed; manifest-only options given with a torrent are named as
    /// ignored, not dropped silently.
    @Test func anEmptySiteIsRefusedAndManifestOptionsOnATorrentAreNamedAsIgnored() throws {
        let empty = try TestProcess.swtorrent(
            ["leech", "missing.torrent", "--out", "/nonexistent", "--allow-unsigned", "--site", ""])
        #expect(empty.exitCode == 2, "\(empty.stderr)")
        #expect(empty.stderr.contains("--site: expected a site name"), "\(empty.stderr)")
        let ignored = try TestProcess.swtorrent(
            ["leech", "missing.torrent", "--out", "/nonexistent", "--allow-unsigned", "--site", "dc1", "--allow-origin"])
        #expect(
            ignored.stderr.contains("--allow-origin, --site apply to release manifests only; ignored for missing.torrent"),
            "\(ignored.stderr)")
        #expect(ignored.exitCode != 0, "\(ignored.stderr)")
    }
}
