/// The one error type of the SignatureGate module: malformed input files, key problems, and I/O.
///
/// A signature that does not verify is *not* an error: verification returns ``VerificationResult/rejected(_:)``.
public struct SignatureGateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Hashable {
        /// A PEM file without the expected `-----BEGIN …-----` / `-----END …-----` block.
        case malformedPEM = "malformed PEM"
        /// A public key that OpenSSL cannot parse, or of a type the gate does not support.
        case malformedPublicKey = "malformed public key"
        /// A private key that cannot be parsed (after decryption, if it was encrypted).
        case malformedPrivateKey = "malformed private key"
        /// The password does not open the encrypted private key.
        case wrongPassword = "wrong password"
        /// A key of an algorithm the gate cannot use for this operation (e.g. Ed25519 in cosign format).
        case unsupportedKey = "unsupported key"
        /// A detached signature file (`.sig`, `.minisig`) that cannot be parsed.
        case malformedSignature = "malformed signature"
        /// A sigstore bundle that cannot be parsed.
        case malformedBundle = "malformed bundle"
        /// A release manifest (or its signed envelope) that cannot be parsed or breaks the schema (Docs/manifest.md).
        case malformedManifest = "malformed release manifest"
        /// A trust-policy file with an unknown directive or a bad value.
        case malformedPolicy = "malformed trust policy"
        /// A torrent file that cannot be parsed or updated.
        case malformedTorrent = "malformed torrent"
        /// An input larger than the bound the parser accepts.
        case inputTooLarge = "input too large"
        /// Key-derivation parameters outside the bounds the gate accepts (memory / time).
        case unsafeParameters = "unsafe key-derivation parameters"
        /// A read, write, rename or other file-system call failed.
        case io = "I/O error"
        /// A signing operation failed inside the crypto library.
        case signingFailed = "signing failed"
        /// No password was available for an encrypted key.
        case passwordUnavailable = "password unavailable"
        /// A key file to write exists and replacing it was not asked for.
        case outputExists = "file exists"
    }

    public var code: Code
    /// The file or thing concerned (a path, or a description such as "bundle").
    public var subject: String
    /// Details and, where there is one, the fix.
    public var detail: String

    public init(_ code: Code, _ subject: String, _ detail: String) {
        self.code = code
        self.subject = subject
        self.detail = detail
    }

    public var description: String { "\(subject): \(code.rawValue): \(detail)" }
}
