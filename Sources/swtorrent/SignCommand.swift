import ArgumentParser
import Foundation
import Metainfo
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
    func checkArguments() {
        if torrent == nil && files.isEmpty {
            GateCommandOutput.fail("sign", "give FILE… to sign, or --torrent T --data DIR", code: 2)
        }
        if torrent != nil && data == nil {
            GateCommandOutput.fail("sign", "--torrent needs --data DIR (the content to hash)", code: 2)
        }
        if torrent != nil && !files.isEmpty {
            GateCommandOutput.fail("sign", "give either FILE… or --torrent, not both", code: 2)
        }
    }

    func run() throws {
        checkArguments()
        do {
            let signingKey = try ArtifactSigningKey.load(key) { format throws(SignatureGateError) in
                switch format {
                case .minisign:
                    try PasswordSource.read(environmentVariable: "MINISIGN_PASSWORD", prompt: "Password for \(key): ")
                default:
                    try PasswordSource.read(environmentVariable: "COSIGN_PASSWORD", prompt: "Password for \(key): ")
                }
            }
            if let torrent, let data {
                let bytes = try TorrentSignatures.readTorrentFile(torrent)
                let (signed, made) = try TorrentSignatures.sign(
                    torrent: bytes, subject: torrent, dataDirectory: data, key: signingKey
                )
                let target = output ?? torrent
                try Data(signed).write(to: URL(fileURLWithPath: target), options: .atomic)
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
            GateCommandOutput.fail("sign", error.description, code: Self.exitCode(for: error))
        } catch {
            GateCommandOutput.fail("sign", "\(error)", code: 1)
        }
    }

    static func exitCode(for error: SignatureGateError) -> Int32 {
        switch error.code {
        case .io, .signingFailed: 1
        case .wrongPassword, .passwordUnavailable: 3
        default: 2
        }
    }
}

/// Printing errors the way every subcommand does: `swtorrent <cmd>: <message>` on stderr, then exit.
enum GateCommandOutput {
    static func fail(_ command: String, _ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("swtorrent \(command): \(message)\n".utf8))
        exit(code)
    }
}

/// `swtorrent make --sign KEY`: signs each file with the SHA-256 the piece hasher computed in its single read pass,
/// and embeds the signatures in the torrent outside the info dictionary.
enum MakeSigning {
    /// Loads the signing keys (asking for passwords before any hashing starts).
    static func loadKeys(_ paths: [String]) throws(SignatureGateError) -> [ArtifactSigningKey] {
        var keys: [ArtifactSigningKey] = []
        for path in paths {
            keys.append(
                try ArtifactSigningKey.load(path) { format throws(SignatureGateError) in
                    let variable = format == .minisign ? "MINISIGN_PASSWORD" : "COSIGN_PASSWORD"
                    return try PasswordSource.read(environmentVariable: variable, prompt: "Password for \(path): ")
                }
            )
        }
        return keys
    }

    /// Returns `made.bytes` with every file signed by every key.
    ///
    /// cosign keys reuse the hasher's SHA-256 (no extra read); minisign keys sign prehashed BLAKE2b-512, which the
    /// piece hasher does not compute, so each file is read once more for them.
    /// The digests the hasher computes in its read pass for these keys: SHA-256, plus BLAKE2b-512 for minisign keys
    /// (prehashed minisign signs BLAKE2b-512), so no file is read twice.
    static func fileDigests(for keys: [ArtifactSigningKey]) -> Metainfo.WholeFileDigests {
        keys.contains { $0.format == .minisign } ? .sha256AndBLAKE2b512 : .sha256
    }

    static func embed(made: MadeTorrent, keys: [ArtifactSigningKey]) throws(SignatureGateError) -> [UInt8] {
        guard let sha256s = made.fileSHA256, sha256s.count == made.content.files.count else {
            throw SignatureGateError(.signingFailed, made.content.name, "the hasher did not return per-file SHA-256")
        }
        var signatures: [EmbeddedSignature] = []
        for (index, (file, sha256)) in zip(made.content.files, sha256s).enumerated() {
            let path = made.content.isSingleFile ? file.path : [made.content.name] + file.path
            var digests = SignatureGate.FileDigests(size: file.length, sha256: sha256, blake2b512: nil)
            if let blake2b = made.fileBLAKE2b512, blake2b.count == sha256s.count {
                digests.blake2b512 = blake2b[index]
            } else if keys.contains(where: { $0.format == .minisign }) {
                let blake = try SignatureGate.FileDigests.compute(
                    path: file.sourcePath, needs: .init(sha256: false, blake2b512: true)
                )
                digests.blake2b512 = blake.blake2b512
            }
            for key in keys {
                signatures.append(try TorrentSignatures.embedded(for: path, digests: digests, key: key))
            }
        }
        return try TorrentSignatures.adding(signatures, to: made.bytes, subject: made.content.name)
    }
}
