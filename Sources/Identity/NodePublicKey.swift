import CryptoPrimitives

/// A node's Ed25519 public key (32 bytes): what the allowlist lists and what a signed announce carries.
public struct NodePublicKey: Sendable, Hashable, CustomStringConvertible {
    /// The raw 32-byte key.
    public let bytes: [UInt8]

    /// Wraps 32 raw bytes; nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Ed25519.publicKeyByteCount else { return nil }
        self.bytes = bytes
    }

    /// Parses the padded standard base64 form used in allowlists and `.pub` files (44 characters).
    public init?(base64: some StringProtocol) {
        guard let bytes = Base64.decode(base64) else { return nil }
        self.init(bytes: bytes)
    }

    /// Parses the 64-character hex form carried by signed announces (`swt_key`); either case is accepted.
    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 2 * Ed25519.publicKeyByteCount, let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes: bytes)
    }

    /// Padded standard base64 (44 characters), as written in allowlists.
    public var base64: String { Base64.encode(bytes) }

    /// Lower-case hex (64 characters), as sent in `swt_key`.
    public var hex: String { Hex.encode(bytes) }

    /// `SHA256:` followed by the unpadded base64 of SHA-256 over the 32 raw key bytes (43 characters), in the style
    /// of OpenSSH fingerprints. OpenSSH hashes its own wire encoding of the key, so the two never coincide.
    public var fingerprint: String { "SHA256:" + Base64.encode(DigestAlgorithm.sha256.hash(bytes), padding: false) }

    /// The fingerprint.
    public var description: String { fingerprint }

    /// Checks an Ed25519 signature made by this key.
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        Ed25519.verify(signature: signature, message: message, publicKey: bytes)
    }
}
