import ArgumentParser
import Foundation
import Identity

/// `swtorrent keygen`: makes a node key pair or a signing key pair (minisign, cosign), or prints a new passkey
/// allowlist line.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make a node's Ed25519 key pair, a minisign or cosign signing key pair, or a passkey line.",
        discussion: """
            keygen --out PATH [--name NAME] [--force]
            Writes the private key to PATH (created with mode 0600) and the
            public key to PATH.pub: exactly one allowlist line
            `ed25519 <base64 key> <name>`, so `cat PATH.pub >> allowlist`
            enrols the node. Prints the key's fingerprint (SHA256:...).
            Refuses to overwrite PATH or PATH.pub unless --force.

            keygen --signing minisign|cosign --out PATH [--unencrypted] [--force]
            Writes a signing key pair in that tool's own format, for
            `swtorrent sign`, `make --sign`, and the tool itself: the secret
            key to PATH (mode 0600) and the public key beside it (PATH with a
            final .key replaced by .pub, e.g. minisign.key -> minisign.pub;
            otherwise PATH.pub), for `verify --key` / `leech --trust`.
            The secret key is encrypted with the password from
            MINISIGN_PASSWORD (minisign) or COSIGN_PASSWORD (cosign) when set
            (even empty), otherwise asked twice on the terminal;
            --unencrypted writes it without a password. Prints the key id.

            keygen --passkey NAME
            Prints a new allowlist line `passkey <token> NAME` (160 random
            bits, URL-safe) for a third-party client that announces to
            http://TRACKER/<token>/announce. Writes no files.

            keygen --fingerprint FILE
            Prints the fingerprint and name of each key in FILE: a private
            key file, a .pub file or an allowlist (passkeys shown redacted).

            Formats: Docs/identity.md (node keys), Docs/signing.md (signing keys).

            Exit codes: 0 success; 1 the files could not be written (or, for
            --fingerprint, read); 2 bad arguments, an invalid name, or a FILE
            that does not parse or is not private enough, or (--signing) no
            password could be read; 3 PATH or its .pub already exists and
            --force was not given.
            """
    )

    @Option(
        name: .long,
        help: ArgumentHelp("Where to write the private key; the public key goes to PATH.pub.", valueName: "path")
    )
    var out: String?

    @Option(
        name: .long,
        help: ArgumentHelp("The node's name in the .pub line (default: this host's name).", valueName: "name")
    )
    var name: String?

    @Flag(name: .long, help: "Replace an existing key pair at PATH.")
    var force = false

    @Option(
        name: .long,
        help: ArgumentHelp("Make a signing key pair in this tool's format (minisign or cosign).", valueName: "tool")
    )
    var signing: SigningTool?

    @Flag(name: .long, help: "With --signing: write the secret key without a password.")
    var unencrypted = false

    @Option(
        name: .long,
        help: ArgumentHelp("Print a new passkey allowlist line with this name instead.", valueName: "name")
    )
    var passkey: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Print the fingerprints in a key file, .pub file or allowlist.", valueName: "file")
    )
    var fingerprint: String?

    func run() throws {
        if let fingerprint {
            guard out == nil, name == nil, passkey == nil, !force, signing == nil, !unencrypted else {
                throw fail(
                    "--fingerprint reads a file; it cannot be combined with --out, --name, --force, --passkey, "
                        + "--signing or --unencrypted")
            }
            do {
                for line in try Fingerprints.lines(ofFileAt: fingerprint) { print(line) }
            } catch {
                let unreadable: Set<IdentityError.Code> = [.fileNotFound, .fileUnreadable, .notARegularFile]
                let code = unreadable.contains(error.code) ? ExitCodes.failure : ExitCodes.badInput
                throw fail(error.description, code: code)
            }
            return
        }
        if let passkey {
            guard out == nil, name == nil, !force, signing == nil, !unencrypted else {
                throw fail(
                    "--passkey prints a line and writes no files; it cannot be combined with --out, --name, --force, "
                        + "--signing or --unencrypted"
                )
            }
            if let problem = EntryName.problem(with: passkey) { throw fail("--passkey: \(problem)") }
            print("passkey \(Passkey.generate().token) \(passkey)")
            return
        }
        guard let out else {
            throw fail(
                "give --out PATH to write a key pair, or --passkey NAME to print a passkey line (see --help)"
            )
        }
        if let signing {
            guard name == nil else {
                throw fail("--name names a node key; a --signing key pair has no name (drop --name)")
            }
            try writeSigningKeyPair(signing, to: out)
            return
        }
        guard !unencrypted else { throw fail("--unencrypted applies to --signing key pairs only") }
        let nodeName = name ?? ProcessInfo.processInfo.hostName
        let key: NodeKey
        do {
            key = try NodeKey.generate(name: nodeName)
        } catch {
            throw fail("\(name == nil ? "the host name" : "--name"): \(error.message); pass a valid --name")
        }
        do {
            try key.write(to: out, force: force)
        } catch {
            if error.code == .fileExists {
                throw fail(
                    "\(error.description); pass --force to replace it, or choose another --out", code: ExitCodes.exists)
            }
            throw fail(error.description, code: ExitCodes.failure)
        }
        print("private key: \(out) (mode 0600; keep it on this host)")
        print("public key:  \(out).pub (append it to the tracker's allowlist)")
        print("fingerprint: \(key.fingerprint) \(key.name)")
    }

    /// Prints `swtorrent keygen: message` to stderr and returns the exit code to throw.
    func fail(_ message: String, code: Int32 = ExitCodes.badInput) -> ExitCode {
        StandardError.report("keygen", message)
        return ExitCode(code)
    }
}
