import ArgumentParser
import Foundation
import Metainfo
import Engine
import Node
import SignatureGate

/// `swtorrent make PATH`: hash a file or a directory and write a v1 .torrent.
struct MakeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make",
        abstract: "Create a .torrent from a file or a directory (parallel SHA-1 hashing).",
        discussion: """
            A directory's files are ordered by path, compared component by component as raw UTF-8 bytes; hidden \
            files are included, empty directories are left out, symbolic links to files are followed, and links to \
            directories or special files are refused. For a single file the info-hash equals mktorrent's for the \
            same options (mktorrent -a URL -l N [-p] [-s SOURCE]). See Docs/make.md.

            Prints the info-hash and a magnet link on stdout; progress goes to stderr when it is a terminal.
            The creation date is the current time, or $SOURCE_DATE_EPOCH when set; --no-date leaves it out.

            --sign KEY (repeatable) signs every file with a cosign or minisign key and embeds the signatures \
            outside the info dictionary (see Docs/signing.md); each file's SHA-256 (and BLAKE2b-512 for minisign \
            keys) comes from the same read pass as the pieces.

            --manifest FILE (with --sign, --version and --expires) also writes a signed release manifest \
            (Docs/manifest.md): the release's name, version, creation and expiry times, each file's path, size and \
            SHA-256 (from the same read pass), the torrent itself, --mirror and --origin URLs and any --attestation \
            envelopes, signed over its exact bytes by every --sign key. `swtorrent leech FILE` starts from it.

            Exit codes: 0 written; 1 cannot read the input or write the output; 2 bad arguments or unusable \
            input (bad piece length or URL, empty directory or file, special file, name not UTF-8); 3 the output \
            file exists (use --force).
            """
    )

    @Argument(help: "The file or directory to make a torrent of.")
    var path: String

    @Option(
        name: [.short, .long],
        help: ArgumentHelp(
            "Tracker URL. Repeat for backup tiers; 'URL1,URL2' puts several URLs in one tier (like mktorrent -a).",
            valueName: "url"
        )
    )
    var announce: [String] = []

    @Flag(name: [.short, .long], help: "Set the private flag (BEP 27): peers come from the tracker only.")
    var `private` = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Piece length in bytes, a power of two from 16K to 16M; suffixes K, M (powers of 1024): 256K, 4M, 1MiB. "
                + "Default: from the total size, like libtorrent.",
            valueName: "bytes"
        )
    )
    var pieceLength: String?

    @Option(
        name: [.short, .long],
        help: ArgumentHelp("Web seed URL (BEP 19); repeatable, or comma-separated.", valueName: "url")
    )
    var webSeed: [String] = []

    @Option(
        name: [.short, .long],
        help: ArgumentHelp("The 'source' string in the info dictionary (changes the info-hash).", valueName: "text")
    )
    var source: String?

    @Option(name: [.short, .long], help: ArgumentHelp("A comment.", valueName: "text"))
    var comment: String?

    @Flag(name: [.customShort("d"), .customLong("no-date")], help: "Leave out the creation date.")
    var noDate = false

    @Option(
        name: [.short, .long],
        help: ArgumentHelp("Where to write the torrent. Default: <name>.torrent here.", valueName: "file")
    )
    var output: String?

    @Flag(name: [.short, .long], help: "Overwrite the output file if it exists.")
    var force = false

    @Option(name: [.short, .long], help: ArgumentHelp("Hashing threads (default: all cores).", valueName: "n"))
    var threads: Int?

    @Option(name: .long, help: ArgumentHelp("Sign every file with this key (repeatable).", valueName: "key"))
    var sign: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Also write a signed release manifest here (needs --sign, --version, --expires).", valueName: "file"))
    var manifest: String?

    @Option(
        name: .customLong("version"),
        help: ArgumentHelp("Manifest: the release version, dot-separated numbers (1.4.2).", valueName: "v"))
    var releaseVersion: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Manifest: valid for this long after creation (e.g. 7d, 12h).", valueName: "duration"))
    var expires: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Manifest: an HTTP(S) mirror (web seed) of the release, optionally with its site: [SITE=]URL. Repeatable.",
            valueName: "url"))
    var mirror: [String] = []

    @Option(name: .long, help: ArgumentHelp("Manifest: the origin (CDN) base URL, a last resort.", valueName: "url"))
    var origin: String?

    @Option(
        name: .customLong("release-name"),
        help: ArgumentHelp("Manifest: the release name (default: the torrent's name).", valueName: "name"))
    var releaseName: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Manifest: a provenance attestation (DSSE envelope or bundle from cosign attest-blob) for the files it "
                + "names by SHA-256. Repeatable.",
            valueName: "file"))
    var attestation: [String] = []

    func run() throws {
        do {
            try make()
        } catch {
            StandardError.report("make", error.message)
            throw ExitCode(error.exitCode)
        }
    }

    private struct MakeFailure: Error {
        var message: String
        var exitCode: Int32
    }

    private func make() throws(MakeFailure) {
        var options = TorrentOptions()
        options.announceTiers = TorrentOptions.announceTiers(fromArguments: announce)
        options.isPrivate = `private`
        options.webSeeds = TorrentOptions.webSeeds(fromArguments: webSeed)
        options.source = source
        options.comment = comment
        if let threads {
            guard threads >= 1 else {
                throw MakeFailure(message: "--threads must be at least 1", exitCode: ExitCodes.badInput)
            }
            options.threads = threads
        }
        if !noDate {
            if let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"] {
                guard let value = Int64(epoch), value >= 0 else {
                    throw MakeFailure(
                        message: "SOURCE_DATE_EPOCH '\(epoch)' is not a number of seconds", exitCode: ExitCodes.badInput)
                }
                options.creationDate = value
            } else {
                options.creationDate = Int64(Date().timeIntervalSince1970)
            }
        }
        let manifestMaking = try manifestOptions(creationDate: options.creationDate)
        do throws(NodeError) {
            try manifestMaking?.validate(contentName: (path as NSString).lastPathComponent)
            let signingKeys = try MakeSigning.loadKeys(sign)
            if let pieceLength {
                do {
                    options.pieceLength = try PieceLength.parse(pieceLength)
                } catch {
                    throw NodeError(.malformedInput, error.description)
                }
            }
            let progress = ProgressLine(enabled: isatty(STDERR_FILENO) == 1)
            if let manifest, !force, FileManager.default.fileExists(atPath: manifest) {
                throw NodeError(.outputExists, "\(manifest): already exists")
            }
            let written = try TorrentMaking(options: options, signingKeys: signingKeys).make(
                path: path, destination: output, overwrite: force
            ) { done, total in
                progress.update(done: done, total: total)
            }
            progress.finish()
            if let manifestMaking {
                let signed = try manifestMaking.manifest(
                    made: written.made, torrent: written.bytes, keys: signingKeys)
                try manifestMaking.write(signed, overwrite: force)
                print("wrote \(manifestMaking.output): manifest \(manifestMaking.version), sha256 \(signed.digest)")
            }
            let (made, content) = (written.made, written.made.content)
            let files = content.files.count == 1 ? "1 file" : "\(content.files.count) files"
            print(
                "wrote \(written.destination): \(content.name), \(files), \(content.totalSize) bytes, "
                    + "\(made.pieceCount) pieces of \(made.pieceLength) bytes"
            )
            print("info-hash: \(made.infoHash.hex)")
            print("magnet: \(made.magnetLink.uri)")
        } catch {
            let message = error.code == .outputExists ? error.message + "; use --force to overwrite it" : error.message
            throw MakeFailure(message: message, exitCode: Self.exitCode(error))
        }
    }

    /// The manifest options, checked, or nil without --manifest.
    private func manifestOptions(creationDate: Int64?) throws(MakeFailure) -> ManifestMaking? {
        func bad(_ message: String) -> MakeFailure { MakeFailure(message: message, exitCode: ExitCodes.badInput) }
        guard let manifest else {
            let stray = releaseVersion != nil || expires != nil || !mirror.isEmpty || origin != nil
                || releaseName != nil || !attestation.isEmpty
            if stray {
                throw bad(
                    "--version, --expires, --mirror, --origin, --release-name and --attestation describe a release "
                        + "manifest: give --manifest FILE too")
            }
            return nil
        }
        guard !sign.isEmpty else { throw bad("--manifest needs at least one --sign KEY: a manifest is always signed") }
        guard let releaseVersion else { throw bad("--manifest needs --version V (like 1.4.2)") }
        let version: ReleaseVersion
        do {
            version = try ReleaseVersion(releaseVersion, subject: "--version")
        } catch {
            throw bad(error.description)
        }
        guard let expires, let lifetime = ProgressFormat.parseDuration(expires), lifetime > .zero else {
            throw bad("--manifest needs --expires DURATION (like 7d or 12h), a positive duration")
        }
        let mirrors = mirror.map { text -> ReleaseManifest.Mirror in
            // SITE=URL: the site is what comes before the first '=' when that part is not itself part of a URL.
            if let equals = text.firstIndex(of: "="), !text[..<equals].contains(":"), !text[..<equals].contains("/") {
                return ReleaseManifest.Mirror(url: String(text[text.index(after: equals)...]), site: String(text[..<equals]))
            }
            return ReleaseManifest.Mirror(url: text)
        }
        return ManifestMaking(
            output: manifest, name: releaseName, version: version, lifetime: lifetime.components.seconds,
            created: creationDate ?? Int64(Date().timeIntervalSince1970), mirrors: mirrors, origin: origin,
            attestationFiles: attestation)
    }

    /// make's codes for a node error: I/O 1, an existing output 3, anything else (a bad key, a wrong password) 2.
    private static func exitCode(_ error: NodeError) -> Int32 {
        switch error.code {
        case .io: ExitCodes.failure
        case .outputExists: ExitCodes.exists
        default: ExitCodes.badInput
        }
    }
}

/// A one-line progress display on stderr, redrawn in place; silent when stderr is not a terminal.
private struct ProgressLine {
    let enabled: Bool

    func update(done: Int64, total: Int64) {
        guard enabled, total > 0 else { return }
        let percent = Int(done * 100 / total)
        let line = "\rhashing: \(percent)% (\(Self.size(done)) of \(Self.size(total)))\u{1B}[K"
        StandardError.write(line)
    }

    func finish() {
        guard enabled else { return }
        StandardError.write("\n")
    }

    static func size(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
    }
}
