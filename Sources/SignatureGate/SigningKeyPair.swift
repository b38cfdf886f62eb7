import CryptoPrimitives
import Foundation
import SystemSupport

/// A fresh signing key pair in one tool's own file formats, ready to write: `minisign -G` (`minisign.key`,
/// `minisign.pub`) or `cosign generate-key-pair` (`cosign.key`, `cosign.pub`).
public struct SigningKeyPair: Sendable {
    /// `.minisign` or `.cosign`.
    public let format: SignatureFormat
    /// The secret key file's text.
    public let secretFileText: String
    /// The public key file's text.
    public let publicFileText: String
    /// The key, loaded as `sign` loads it.
    public let key: ArtifactSigningKey
    /// Whether the secret key file is password-encrypted.
    public let isEncrypted: Bool

    /// Makes a key pair.
    ///
    /// - minisign: an Ed25519 key with a random 8-byte key id; encrypted with kdf `Sc` (scrypt-salsa208-sha256 with
    ///   minisign's opslimit 2^25 and memlimit 1 GiB), or without a kdf when `password` is nil (`minisign -G -W`).
    /// - cosign: an ECDSA P-256 key; its PKCS #8 DER sealed in an `ENCRYPTED SIGSTORE PRIVATE KEY` (scrypt N 32768,
    ///   r 8, p 1; NaCl secretbox), or a plain `PRIVATE KEY` PEM when `password` is nil.
    ///
    /// - Throws: ``SignatureGateError`` `.unsupportedKey` for a format that has no key file (sigstore bundles),
    ///   `.unsafeParameters` when scrypt cannot get its memory, `.signingFailed` when key generation fails.
    public static func generate(_ format: SignatureFormat, password: [UInt8]?) throws(SignatureGateError)
        -> SigningKeyPair
    {
        switch format {
        case .minisign:
            let secret = MinisignSecretKey.generate()
            let text = try password.map { pw throws(SignatureGateError) in try secret.encryptedFileText(password: pw) }
            return SigningKeyPair(
                format: format, secretFileText: text ?? secret.unencryptedFileText,
                publicFileText: secret.publicKey.fileText, key: .minisign(secret), isEncrypted: password != nil)
        case .cosign:
            let secret = try SigningKey.generateP256()
            let text = try password.map { pw throws(SignatureGateError) in
                try EncryptedCosignKey(sealing: secret.pkcs8, password: pw, subject: "cosign key").pem
            }
            return SigningKeyPair(
                format: format, secretFileText: text ?? secret.pkcs8PEM, publicFileText: secret.publicKey.pem,
                key: .cosign(secret), isEncrypted: password != nil)
        case .sigstoreBundle:
            throw SignatureGateError(
                .unsupportedKey, "sigstore-bundle",
                "a sigstore bundle is a signature, not a key format; make a cosign or minisign key")
        }
    }

    /// The public key file beside a secret key file: `NAME.key` → `NAME.pub` (as both tools name them), any other
    /// `PATH` → `PATH.pub`.
    public static func publicPath(forSecretPath path: String) -> String {
        path.hasSuffix(".key") ? String(path.dropLast(4)) + ".pub" : path + ".pub"
    }

    /// Throws ``SignatureGateError`` `.outputExists` naming the first of the two files that exists (callers check
    /// before asking for a password).
    public static func refuseExisting(secretPath: String, publicPath: String) throws(SignatureGateError) {
        for path in [secretPath, publicPath] where NewFile.exists(path) {
            throw SignatureGateError(.outputExists, path, "refusing to overwrite a key")
        }
    }

    /// Writes the secret key (mode 0600 from creation) and the public key (0644 less the umask). Without `force`,
    /// refuses, writing nothing, if either file exists; with it, each is replaced atomically (written beside, renamed
    /// over).
    ///
    /// - Throws: ``SignatureGateError`` `.outputExists` or `.io`.
    public func write(secretPath: String, publicPath: String, force: Bool) throws(SignatureGateError) {
        if !force { try Self.refuseExisting(secretPath: secretPath, publicPath: publicPath) }
        let files: [(path: String, text: String, mode: mode_t)] = [
            (secretPath, secretFileText, 0o600), (publicPath, publicFileText, 0o644),
        ]
        for (path, text, mode) in files {
            do {
                try NewFile.create(Array(text.utf8), at: path, mode: mode, replace: force)
            } catch {
                let code: SignatureGateError.Code = error.code == .exists ? .outputExists : .io
                throw SignatureGateError(code, path, error.reason)
            }
        }
    }
}
