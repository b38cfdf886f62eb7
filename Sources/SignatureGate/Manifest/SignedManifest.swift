import CryptoPrimitives
import Foundation

/// A release manifest as it travels: the manifest's exact bytes and the signatures over them, in one JSON envelope
/// (Docs/manifest.md):
///
///     {"manifest":"<base64 of the manifest JSON>",
///      "signatures":[{"format":"cosign","key-id":"sha256:…","signature":"<base64 DER>"},
///                    {"format":"minisign","key-id":"minisign:…","signature":"<the .minisig text>"}],
///      "type":"swtorrent-signed-manifest/1"}
///
/// Each signature covers the manifest bytes exactly as carried, with the same keys and formats as artifacts: a cosign
/// signature is what `cosign sign-blob --key` writes for those bytes, a minisign one what `minisign -S` writes (so the
/// tools themselves verify the decoded bytes). Verification never re-encodes the manifest.
public struct SignedManifest: Sendable, Hashable {
    public static let type = "swtorrent-signed-manifest/1"
    /// The envelope's bound: a maximal manifest in base64, plus signatures.
    public static let maxBytes = ReleaseManifest.maxBytes / 3 * 4 + (1 << 20)
    public static let maxSignatures = 32

    /// One signature over the manifest bytes.
    public struct Signature: Sendable, Hashable {
        /// `cosign` or `minisign`.
        public var format: SignatureFormat
        /// The signer's key id as ``TrustedKey/keyID`` prints it (advisory: the signature is checked against the
        /// trusted keys, never against this).
        public var keyID: String
        /// cosign: the DER signature; minisign: the `.minisig` text.
        public var signature: [UInt8]

        public init(format: SignatureFormat, keyID: String, signature: [UInt8]) {
            self.format = format
            self.keyID = keyID
            self.signature = signature
        }
    }

    /// The manifest's bytes, exactly as signed.
    public let manifestBytes: [UInt8]
    public var signatures: [Signature]

    public init(manifestBytes: [UInt8], signatures: [Signature]) {
        self.manifestBytes = manifestBytes
        self.signatures = signatures
    }

    /// Lower-case hex SHA-256 of the manifest bytes: the manifest's digest in the audit log and the state file.
    public var digest: String { Hex.encode(DigestAlgorithm.sha256.hash(manifestBytes)) }

    /// Signs `manifestBytes` with each key.
    ///
    /// - Parameter fileName: what a minisign trusted comment names (`file:<name>`).
    public static func sign(
        _ manifestBytes: [UInt8], keys: [ArtifactSigningKey], fileName: String, now: Date = Date()
    ) throws(SignatureGateError) -> SignedManifest {
        let digests = FileDigests(
            size: Int64(manifestBytes.count), sha256: DigestAlgorithm.sha256.hash(manifestBytes),
            blake2b512: BLAKE2b.hash(manifestBytes))
        var signatures: [Signature] = []
        for key in keys {
            let text = try key.sign(digests: digests, fileName: fileName, now: now)
            let bytes: [UInt8] =
                switch key {
                case .cosign: Base64.decode(text) ?? []
                case .minisign: Array(text.utf8)
                }
            signatures.append(Signature(format: key.format, keyID: key.keyID, signature: bytes))
        }
        return SignedManifest(manifestBytes: manifestBytes, signatures: signatures)
    }

    // MARK: The envelope

    /// Parses an envelope.
    ///
    /// - Throws: ``SignatureGateError`` `.malformedManifest` (naming `subject`), `.malformedSignature` for a minisign
    ///   signature that does not parse, or `.inputTooLarge`.
    public init(envelope bytes: [UInt8], subject: String) throws(SignatureGateError) {
        func bad(_ detail: String) -> SignatureGateError { SignatureGateError(.malformedManifest, subject, detail) }
        let object = try BoundedInput.jsonObject(
            bytes, limit: Self.maxBytes, subject: subject, code: .malformedManifest,
            expected: "a signed release manifest, as `swtorrent make --manifest` writes")
        guard object["type"] as? String == Self.type else {
            throw bad("type must be \"\(Self.type)\"; is this a signed release manifest?")
        }
        guard let text = object["manifest"] as? String, let manifest = Base64.decode(text), !manifest.isEmpty else {
            throw bad("manifest must be the base64 of the manifest JSON")
        }
        guard let list = object["signatures"] as? [Any], list.count <= Self.maxSignatures else {
            throw bad("signatures must be a list of at most \(Self.maxSignatures) entries")
        }
        var signatures: [Signature] = []
        for (index, entry) in list.enumerated() {
            guard let fields = entry as? [String: Any], let formatText = fields["format"] as? String,
                let format = SignatureFormat(rawValue: formatText), format != .sigstoreBundle,
                let keyID = fields["key-id"] as? String, let value = fields["signature"] as? String
            else {
                throw bad("signatures[\(index)] must be {\"format\": cosign|minisign, \"key-id\", \"signature\"}")
            }
            let signature: [UInt8]
            if format == .cosign {
                guard let der = Base64.decode(lenient: value), (8...1024).contains(der.count) else {
                    throw bad("signatures[\(index)]: a cosign signature is base64 of DER")
                }
                signature = der
            } else {
                _ = try MinisignSignature(text: value, subject: "\(subject): signatures[\(index)]")
                signature = Array(value.utf8)
            }
            signatures.append(Signature(format: format, keyID: keyID, signature: signature))
        }
        self.manifestBytes = manifest
        self.signatures = signatures
    }

    /// Reads an envelope file.
    public static func load(_ path: String) throws(SignatureGateError) -> SignedManifest {
        try SignedManifest(envelope: try BoundedInput.read(path, limit: maxBytes), subject: path)
    }

    /// The envelope's JSON (keys sorted, no whitespace, a final newline).
    public var envelope: [UInt8] {
        struct SignatureJSON: Encodable {
            var format: String
            var keyID: String
            var signature: String
            enum CodingKeys: String, CodingKey {
                case format
                case keyID = "key-id"
                case signature
            }
        }
        struct EnvelopeJSON: Encodable {
            var manifest: String
            var signatures: [SignatureJSON]
            var type: String
        }
        let document = EnvelopeJSON(
            manifest: Base64.encode(manifestBytes),
            signatures: signatures.map {
                SignatureJSON(
                    format: $0.format.rawValue, keyID: $0.keyID,
                    signature: $0.format == .cosign
                        ? Base64.encode($0.signature) : String(decoding: $0.signature, as: UTF8.self))
            }, type: Self.type)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(document)) ?? Data()) + [UInt8(ascii: "\n")]
    }

    /// The manifest the envelope carries.
    public func manifest(subject: String) throws(SignatureGateError) -> ReleaseManifest {
        try ReleaseManifest(json: manifestBytes, subject: subject)
    }

    // MARK: Verification

    /// Checks the signatures over the manifest bytes against the policy, M-of-N as for files (``Verifier``), except
    /// that a manifest always needs at least one trusted signer, even under `require 0`.
    ///
    /// - Returns: `verified(signers)` or `rejected(reason)`; a cosign signature whose key id names no trusted key is
    ///   reported as `untrusted-key` when nothing else verified.
    public func verify(policy: TrustPolicy, subject: String) -> VerificationResult {
        var manifestPolicy = policy
        manifestPolicy.requiredSigners = max(1, policy.requiredSigners)
        let trusted = Set(policy.keys.map(\.keyID))
        var checked: [DetachedSignature] = []
        var untrusted: [String] = []
        for (index, entry) in signatures.enumerated() {
            let origin = "\(subject): signatures[\(index)]"
            switch entry.format {
            case .cosign:
                // A plain cosign signature names no key: the envelope's key id tells an untrusted signer apart.
                if !trusted.contains(entry.keyID) {
                    untrusted.append(entry.keyID)
                    continue
                }
                checked.append(DetachedSignature(.cosign(entry.signature), origin: origin))
            case .minisign, .sigstoreBundle:
                guard let text = String(validating: entry.signature, as: UTF8.self),
                    let parsed = try? MinisignSignature(text: text, subject: origin)
                else { continue }
                checked.append(DetachedSignature(.minisign(parsed), origin: origin))
            }
        }
        let digests = FileDigests(
            size: Int64(manifestBytes.count), sha256: DigestAlgorithm.sha256.hash(manifestBytes),
            blake2b512: BLAKE2b.hash(manifestBytes))
        let bytes = manifestBytes
        let result = Verifier(policy: manifestPolicy).verify(digests: digests, signatures: checked) { bytes }
        if case .rejected(.missingSignature) = result, let keyID = untrusted.first {
            return .rejected(.untrustedKey(origin: subject, keyID: keyID))
        }
        return result
    }
}
