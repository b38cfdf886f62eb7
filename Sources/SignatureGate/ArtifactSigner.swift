import CryptoPrimitives
import Foundation

/// A key to sign with: a cosign-compatible key (writes `FILE.sig`) or a minisign secret key (writes `FILE.minisig`).
public enum ArtifactSigningKey: Sendable {
    case cosign(SigningKey)
    case minisign(MinisignSecretKey)

    /// Reads a key file, detecting minisign secret keys by their content; `password` is called (with the key's
    /// format) only for encrypted keys.
    public static func load(
        _ path: String, password: (SignatureFormat) throws(SignatureGateError) -> [UInt8]
    )
        throws(SignatureGateError) -> ArtifactSigningKey
    {
        let text = try BoundedInput.readText(path, limit: 64 << 10)
        if MinisignSecretKey.looksLikeSecretKey(text) {
            return .minisign(
                try MinisignSecretKey(text: text, subject: path) { () throws(SignatureGateError) in
                    try password(.minisign)
                }
            )
        }
        return .cosign(
            try SigningKey(pem: text, subject: path) { () throws(SignatureGateError) in try password(.cosign) }
        )
    }

    /// The key id of the matching public key (as ``TrustedKey/keyID`` prints it).
    public var keyID: String {
        switch self {
        case .cosign(let key): TrustedKey.cosign(key.publicKey).keyID
        case .minisign(let key): TrustedKey.minisign(key.publicKey).keyID
        }
    }

    /// The signature format this key produces.
    public var format: SignatureFormat {
        switch self {
        case .cosign: .cosign
        case .minisign: .minisign
        }
    }

    /// The extension of the detached signature file: `.sig` (cosign) or `.minisig`.
    public var signatureFileExtension: String {
        switch self {
        case .cosign: ".sig"
        case .minisign: ".minisig"
        }
    }

    /// The digests signing needs.
    public var needs: FileDigests.Needs {
        switch self {
        case .cosign: FileDigests.Needs(sha256: true, blake2b512: false)
        case .minisign: FileDigests.Needs(sha256: true, blake2b512: true)
        }
    }

    /// Signs a file given its digests.
    ///
    /// - Parameters:
    ///   - digests: must hold SHA-256 (cosign) or BLAKE2b-512 (minisign, prehashed as minisign ≥ 0.10 does).
    ///   - fileName: the name minisign's trusted comment records.
    /// - Returns: the signature file's text: base64 DER for cosign (no newline, as `cosign sign-blob` writes it), or
    ///   the `.minisig` text.
    public func sign(digests: FileDigests, fileName: String, now: Date = Date()) throws(SignatureGateError) -> String {
        switch self {
        case .cosign(let key):
            guard let sha256 = digests.sha256 else {
                throw SignatureGateError(.signingFailed, fileName, "SHA-256 was not computed")
            }
            return Base64.encode(try key.sign(sha256: sha256))
        case .minisign(let key):
            guard let blake = digests.blake2b512 else {
                throw SignatureGateError(.signingFailed, fileName, "BLAKE2b-512 was not computed")
            }
            return key.signPrehashed(
                blake2b512: blake,
                trustedComment: MinisignSecretKey.defaultTrustedComment(fileName: fileName, now: now),
                untrustedComment: "signature from swtorrent (minisign secret key \(key.keyID))"
            ).fileText
        }
    }

    /// Hashes `path` once and writes the detached signature next to it (`path.sig` / `path.minisig`), replacing any
    /// previous one atomically.
    ///
    /// - Returns: the signature file's path and the file's digests.
    @discardableResult
    public func signFile(_ path: String) throws(SignatureGateError) -> (signaturePath: String, digests: FileDigests) {
        let digests = try FileDigests.compute(path: path, needs: needs)
        let text = try sign(digests: digests, fileName: (path as NSString).lastPathComponent)
        let output = path + signatureFileExtension
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } catch {
            throw SignatureGateError(.io, output, "cannot write the signature: \(error.localizedDescription)")
        }
        return (output, digests)
    }
}

/// Reads a password the way cosign and minisign do: from an environment variable if set (even empty), otherwise by
/// prompting on the terminal without echo.
public enum PasswordSource {
    /// - Parameters:
    ///   - variable: e.g. `COSIGN_PASSWORD`.
    ///   - prompt: shown on the terminal.
    public static func read(
        environmentVariable variable: String, prompt: String
    ) throws(SignatureGateError)
        -> [UInt8]
    {
        if let value = ProcessInfo.processInfo.environment[variable] { return Array(value.utf8) }
        let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw SignatureGateError(
                .passwordUnavailable, "password",
                "the key is encrypted and there is no terminal to ask on; set \(variable)"
            )
        }
        defer { close(fd) }
        var saved = termios()
        let haveTerminal = tcgetattr(fd, &saved) == 0
        if haveTerminal {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            _ = tcsetattr(fd, TCSAFLUSH, &quiet)
        }
        defer {
            if haveTerminal {
                _ = tcsetattr(fd, TCSAFLUSH, &saved)
                _ = write(fd, "\n", 1)
            }
        }
        _ = prompt.withCString { write(fd, $0, strlen($0)) }
        var password: [UInt8] = []
        var byte: UInt8 = 0
        while password.count < 4096 {
            let n = posixRead(fd, &byte, 1)
            if n < 0, errno == EINTR { continue }
            if n <= 0 || byte == UInt8(ascii: "\n") { break }
            if byte != UInt8(ascii: "\r") { password.append(byte) }
        }
        return password
    }

    /// A password for a new key: the environment variable's value if set (even empty, as cosign allows), otherwise
    /// asked twice on the terminal; an empty or mismatched answer there is refused.
    public static func readNew(
        environmentVariable variable: String, prompt: String
    ) throws(SignatureGateError)
        -> [UInt8]
    {
        if let value = ProcessInfo.processInfo.environment[variable] { return Array(value.utf8) }
        let first = try read(environmentVariable: variable, prompt: prompt)
        guard !first.isEmpty else {
            throw SignatureGateError(
                .passwordUnavailable, "password",
                "empty; type a password, or set \(variable)='' to encrypt with an empty one on purpose")
        }
        let second = try read(environmentVariable: variable, prompt: "Again: ")
        guard constantTimeEquals(first, second) else {
            throw SignatureGateError(.passwordUnavailable, "password", "the two entries differ; run again")
        }
        return first
    }
}
