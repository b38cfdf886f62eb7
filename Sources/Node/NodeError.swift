import SignatureGate

/// The one error type of the Node module: what stops a node's command before or after its transfer. A file the
/// gate refuses is not an error (see ``GatedLeechOutcome``); a transfer that stalls or is stopped is not either.
public struct NodeError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// A file-system or network failure (cannot listen, disk error, staging cannot be prepared).
        case io = "I/O error"
        /// A malformed torrent, key, signature or trust-policy file.
        case malformedInput = "malformed input"
        /// The seed daemon's config file cannot be read or a key in it is wrong (the message names the key and the
        /// fix).
        case configuration = "configuration"
        /// A seed's data directory does not hold the torrent's complete data.
        case incompleteData = "incomplete data"
        /// The trust policy requires signers but trusts no key.
        case noTrustedKey = "no trusted key"
        /// The password for an encrypted signing key is wrong or could not be read.
        case password = "password"
        /// Signing failed inside the crypto library.
        case signingFailed = "signing failed"
        /// The file to write exists and replacing it was not asked for.
        case outputExists = "output exists"
        /// A magnet link's info dictionary could not be had from any peer (BEP 9).
        case metadataUnavailable = "metadata unavailable"
        /// The command was interrupted (SIGINT/SIGTERM, or `--deadline`) before its transfer began: a magnet link's
        /// info dictionary had not arrived.
        case interrupted = "interrupted"
    }

    public var code: Code
    /// The whole message: names the thing concerned and, where there is one, the fix.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Wraps a signature-gate error, keeping its message.
    public init(_ error: SignatureGateError) {
        let code: Code =
            switch error.code {
            case .io: .io
            case .signingFailed: .signingFailed
            case .wrongPassword, .passwordUnavailable: .password
            case .outputExists: .outputExists
            default: .malformedInput
            }
        self.init(code, error.description)
    }

    public var description: String { message }
}
