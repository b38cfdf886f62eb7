import CryptoPrimitives
import Foundation

/// One signature to check for a file: from a detached file (`.sig`, `.minisig`, `.sigstore.json`) or embedded in a
/// torrent.
public struct DetachedSignature: Sendable, Hashable {
    /// The signature itself.
    public enum Content: Sendable, Hashable {
        /// `cosign sign-blob --key` output: ECDSA (or RSA) over SHA-256 of the file; DER, or raw `r‖s`.
        case cosign([UInt8])
        /// A sigstore bundle.
        case bundle(SigstoreBundle)
        /// A minisign signature.
        case minisign(MinisignSignature)
    }

    public var content: Content
    /// Where it came from (a path, or `torrent:<path in torrent>`), for messages and the audit log.
    public var origin: String
    /// The file SHA-256 this signature is bound to, when its container says (torrent-embedded signatures).
    public var expectedSHA256: [UInt8]?

    public init(_ content: Content, origin: String, expectedSHA256: [UInt8]? = nil) {
        self.content = content
        self.origin = origin
        self.expectedSHA256 = expectedSHA256
    }

    /// The format name used in messages, the audit log and torrents.
    public var format: SignatureFormat {
        switch content {
        case .cosign: .cosign
        case .bundle: .sigstoreBundle
        case .minisign: .minisign
        }
    }

    /// Parses signature text, detecting the format: JSON → sigstore bundle; `untrusted comment:` → minisign;
    /// otherwise base64 → cosign.
    public static func parse(_ bytes: [UInt8], origin: String) throws(SignatureGateError) -> DetachedSignature {
        let firstByte = bytes.first(where: { ![0x20, 0x09, 0x0a, 0x0d].contains($0) })
        if firstByte == UInt8(ascii: "{") {
            return DetachedSignature(.bundle(try SigstoreBundle(json: bytes, subject: origin)), origin: origin)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SignatureGateError(.malformedSignature, origin, "not text (expected base64, minisign or JSON)")
        }
        if text.hasPrefix(MinisignText.untrustedPrefix) {
            return DetachedSignature(.minisign(try MinisignSignature(text: text, subject: origin)), origin: origin)
        }
        guard let der = Base64.decode(lenient: text), (8...1024).contains(der.count) else {
            throw SignatureGateError(
                .malformedSignature, origin,
                "not a cosign signature (base64 of a DER signature), a minisign signature or a sigstore bundle"
            )
        }
        return DetachedSignature(.cosign(der), origin: origin)
    }

    /// Reads a signature file (at most 1 MiB).
    public static func load(_ path: String) throws(SignatureGateError) -> DetachedSignature {
        try parse(try BoundedInput.read(path), origin: path)
    }
}

/// The signature formats the gate knows.
public enum SignatureFormat: String, Sendable, Hashable, CaseIterable {
    case cosign
    case sigstoreBundle = "sigstore-bundle"
    case minisign
}
