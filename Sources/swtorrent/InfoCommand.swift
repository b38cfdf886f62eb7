import ArgumentParser
import Metainfo

/// `swtorrent info FILE|MAGNET`: shows a torrent or a magnet link. The work is in `Metainfo.InfoReport`.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show what a .torrent file or a magnet link contains.",
        discussion: """
            Prints the name, info-hashes (v1, and v2 for hybrid torrents), piece length and count, total size, \
            files, trackers by tier, web seeds, the private flag, source, comment, creator and creation date, \
            and a magnet link. Quote magnet links in the shell ('&' separates their parameters).

            Exit codes: 0 shown; 1 the file cannot be read; 2 the torrent or magnet link is malformed (the \
            message names the file and the problem); 3 valid but not supported (v2-only torrents: the message \
            still shows the v2 info-hash).
            """
    )

    @Argument(help: "A .torrent file, or a magnet link (magnet:?xt=urn:btih:...).")
    var input: String

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let report: InfoReport
        do {
            report = try InfoReport(argument: input)
        } catch {
            StandardError.report("info", "\(error)")
            switch error.code {
            case .fileSystem: throw ExitCode(ExitCodes.failure)
            case .unsupported: throw ExitCode(ExitCodes.unsupported)
            default: throw ExitCode(ExitCodes.badInput)
            }
        }
        print(json ? report.json() : report.text())
    }
}
