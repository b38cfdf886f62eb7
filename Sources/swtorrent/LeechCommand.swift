import ArgumentParser
import Engine
import Foundation
import Logging

/// `swtorrent leech TORRENT --out DIR`: downloads a torrent. The work is in `Engine.Transfer` and
/// `Engine.TorrentSession`.
struct LeechCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leech",
        abstract: "Download a torrent into a directory.",
        discussion: """
            Writes OUT/NAME (a single-file torrent's file, or a multi-file torrent's directory), through the \
            signature gate (below). Peers come from the torrent's HTTP trackers \
            and from --peer. Progress goes to the terminal (stderr) as percent, rates, peers and ETA; --json \
            prints one JSON object a line on stdout instead (events "progress", then "complete", "stopped" or \
            "stalled").

            Exit codes: 0 every piece is on disk and verified (after seeding for --seed-after, if given); 1 I/O or \
            network failure (cannot listen, disk error); 2 bad arguments or a malformed torrent; 3 no piece was \
            verified for --stall-timeout; 4 interrupted (SIGINT/SIGTERM) before completion; 5 the signature gate \
            refused at least one file (quarantined; the message names each file and the reason).

            Signature gate: nothing unverified is ever placed in OUT. The torrent is downloaded into a 0700 \
            staging directory (--staging, default OUT/../.NAME.swtorrent-gate/staging/INFOHASH, beside OUT so a \
            release is one rename), never into OUT; files already in OUT are copied into staging first, so a \
            re-run fetches only what is missing. When every piece is verified, each file's signatures (embedded \
            in the torrent, or NAME.sig / NAME.minisig / NAME.sigstore.json shipped in it) are checked against the \
            trust policy (--trust, --trust-dir, --require, --policy, as in `swtorrent verify`); only files that pass \
            are moved into OUT (mode 0644); the others go to --quarantine (default \
            OUT/../.NAME.swtorrent-gate/quarantine). Every decision is appended to --audit-log (default \
            OUT/../.NAME.swtorrent-gate/audit.jsonl). --seed-after then seeds the released files from OUT.

            A trust policy is required: without one, leech refuses to start (exit 2). --allow-unsigned instead \
            releases files that passed the torrent's piece hashes only, still through staging and an atomic rename; \
            the audit log records them as released-unsigned (reason no-trust-policy).
            """
    )

    @Argument(help: "The .torrent file.")
    var torrent: String

    @Option(name: .long, help: "Directory to download into (created if missing).")
    var out: String

    @OptionGroup var common: TransferOptions

    @OptionGroup(title: "Signature gate") var gate: LeechGateOptions

    @Option(name: .long, help: "Keep seeding this long after completion (e.g. 30s, 10m, 1h).")
    var seedAfter: String?

    @Option(name: .long, help: "Give up (exit 3) when no piece is verified for this long (e.g. 5m).")
    var stallTimeout: String?

    func run() async throws {
        var configuration = try common.sessionConfiguration(command: "leech")
        if let seedAfter {
            guard let d = ProgressFormat.parseDuration(seedAfter) else {
                throw TransferOptions.usage("leech", "--seed-after '\(seedAfter)' is not a duration like 30s, 10m, 1h")
            }
            configuration.seedAfterComplete = d
        }
        if let stallTimeout {
            guard let d = ProgressFormat.parseDuration(stallTimeout) else {
                throw TransferOptions.usage("leech", "--stall-timeout '\(stallTimeout)' is not a duration like 5m")
            }
            configuration.stallTimeout = d
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let code = await gate.run(torrentPath: torrent, out: out, common: common, configuration: configuration)
        if code != 0 { throw ExitCode(code) }
    }
}
