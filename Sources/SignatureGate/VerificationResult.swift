/// A signer whose signature verified.
public struct Signer: Sendable, Hashable {
    /// The trusted key's id (``TrustedKey/keyID``).
    public var keyID: String
    public var format: SignatureFormat
    /// Where the signature came from.
    public var origin: String
    /// Anything the user should know about what was *not* checked, or the minisign trusted comment.
    public var notes: [String]

    public init(keyID: String, format: SignatureFormat, origin: String, notes: [String] = []) {
        self.keyID = keyID
        self.format = format
        self.origin = origin
        self.notes = notes
    }
}

/// Why a file was refused. Each case has its own audit-log name (``name``); the command gives each its own exit code
/// (`Sources/swtorrent/ExitCodes.swift`).
public enum RejectionReason: Sendable, Hashable, CustomStringConvertible {
    /// The policy requires a signature and there is none.
    case missingSignature
    /// The file's SHA-256 differs from the digest the signature's container names (a bundle's messageDigest, an
    /// in-toto subject, a torrent entry): the file was altered after signing.
    case digestMismatch(origin: String)
    /// The signature does not verify with the trusted key: the file or the signature was altered (for a plain cosign
    /// signature this is also what a signature by an untrusted key looks like: the format names no key).
    case invalidSignature(origin: String, keyID: String?)
    /// The minisign trusted comment (or its global signature) was altered.
    case invalidTrustedComment(origin: String, keyID: String)
    /// The signature names a key that the policy does not trust.
    case untrustedKey(origin: String, keyID: String)
    /// Fewer distinct trusted signers than the policy requires.
    case notEnoughSigners(signers: [String], required: Int)
    /// A signature the policy refuses on principle (legacy minisign when prehashed is required, a legacy signature
    /// over a file too large to hold in memory, an unsupported digest algorithm).
    case refusedByPolicy(origin: String, detail: String)

    /// The short name used in the audit log and messages.
    public var name: String {
        switch self {
        case .missingSignature: "missing-signature"
        case .digestMismatch: "digest-mismatch"
        case .invalidSignature: "invalid-signature"
        case .invalidTrustedComment: "invalid-trusted-comment"
        case .untrustedKey: "untrusted-key"
        case .notEnoughSigners: "not-enough-signers"
        case .refusedByPolicy: "refused-by-policy"
        }
    }

    /// Ordering when several signatures fail: the most telling reason is reported.
    var severity: Int {
        switch self {
        case .digestMismatch: 6
        case .invalidTrustedComment: 5
        case .invalidSignature: 4
        case .refusedByPolicy: 3
        case .untrustedKey: 2
        case .notEnoughSigners: 1
        case .missingSignature: 0
        }
    }

    public var description: String {
        switch self {
        case .missingSignature:
            "no signature found, and the trust policy requires one (ship FILE.sig, FILE.minisig or a bundle)"
        case .digestMismatch(let origin):
            "\(origin): the file's SHA-256 differs from the digest that was signed — the file was altered"
        case .invalidSignature(let origin, let keyID):
            if let keyID {
                "\(origin): signature does not verify with trusted key \(keyID) — file or signature altered"
            } else {
                "\(origin): signature does not verify with any trusted key — file or signature altered, "
                    + "or signed by a key that is not trusted"
            }
        case .invalidTrustedComment(let origin, let keyID):
            "\(origin): the trusted comment's global signature does not verify with \(keyID) — signature file altered"
        case .untrustedKey(let origin, let keyID):
            "\(origin): signed by key \(keyID), which is not trusted (add it to the trust policy if it should be)"
        case .notEnoughSigners(let signers, let required):
            "only \(signers.count) distinct trusted signer(s) (\(signers.joined(separator: ", "))); "
                + "the policy requires \(required)"
        case .refusedByPolicy(let origin, let detail):
            "\(origin): \(detail)"
        }
    }
}

/// The outcome of checking a file's signatures against a trust policy.
public enum VerificationResult: Sendable, Hashable {
    /// Enough distinct trusted signers verified (each listed once).
    case verified([Signer])
    case rejected(RejectionReason)

    public var isVerified: Bool {
        if case .verified = self { return true }
        return false
    }
}
