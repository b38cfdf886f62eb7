import ArgumentParser
import Foundation
import Node
import SignatureGate

/// `swtorrent sign`: cosign- or minisign-compatible detached signatures, or signatures embedded in a torrent.
struct SignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign files (FILE.sig cosign-style, or FILE.minisig) or embed signatures in a torrent.",
        discussion: """
            KEY is a cosign key (encrypted 'ENCRYPTED SIGSTORE/COSIGN PRIVATE KEY' from cosign generate-key-pair, \
            or a plain PKCS #8 / EC PEM key: writes FILE.sig, base64 of an ECDSA-SHA256 DER signature, exactly \
            what `cosign sign-blob --key` writes), or a minisign secret key (writes FILE.minisig, prehashed, like \
            minisign 0.10+). Encrypted keys: the password comes from COSIGN_PASSWORD (cosign keys) or \
            MINISIGN_PASSWORD (minisign keys) when set, otherwise it is asked for on the terminal.

            With --torrent, each file of the torrent (found under --data DIR, the directory that holds the \
            torrent's top-level name) is hashed and signed, and the signatures are stored in the torrent under the \
            top-level key 'swtorrent-signatures', outside the info dictionary: the info-hash does not change and \
            more signers can be added later by running this again with another key.

            Exit codes: 0 signed; 1 I/O failure; 2 bad arguments or malformed key/torrent; 3 wrong or missing \
            password.
            """
    )

    @Option(name: .long, help: "The private key (cosign PEM or minisign secret key).")
    var key: String

    @Option(name: .long, help: "Embed signatures in this torrent (rewritten in place unless --output is given).")
    var torrent: String?

    @Option(name: .long, help: "With --torrent: the directory holding the torrent's content.")
    var data: String?

    @Option(name: .long, help: "With --torrent: write the signed torrent here instead of replacing it.")
    var output: String?

    @Argument(help: "Files to sign.")
    var files: [String] = []

    /// Argument checks (exit 2, as Docs/cli.md says for bad arguments).
    func checkArguments() throws {
        if torrent == nil && files.isEmpty { throw fail("give FILE… to sign, or --torrent T --data DIR") }
        if torrent != nil && data == nil { throw fail("--torrent needs --data DIR (the content to hash)") }
        if torrent != nil && !files.isEmpty { throw fail("give either FILE… or --torrent, not both") }
    }

    func run() throws {
        try checkArguments()
        do {
            let signingKey = try MakeSigning.loadKey(key)
            if let torrent, let data {
                let (target, made) = try MakeSigning.signTorrent(
                    torrent, dataDirectory: data, key: signingKey, output: output)
                for signature in made {
                    print("signed \(signature.path.joined(separator: "/")) with \(signingKey.keyID) → \(target)")
                }
            } else {
                for file in files {
                    let (path, _) = try signingKey.signFile(file)
                    print("signed \(file) with \(signingKey.keyID) → \(path)")
                }
            }
        } catch let error as SignatureGateError {
            let error = NodeError(error)
            throw fail(error.message, code: ExitCodes.of(error))
        } catch let error as NodeError {
            throw fail(error.message, code: ExitCodes.of(error))
        }
    }

    private func fail(_ message: String, code: Int32 = ExitCodes.badInput) -> ExitCode {
        StandardError.report("sign", message)
        return ExitCode(code)
    }
}
