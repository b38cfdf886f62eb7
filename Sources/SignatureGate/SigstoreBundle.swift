import CryptoPrimitives
import Foundation

/// A sigstore bundle (`.sigstore.json`): media types v0.1, v0.2 and v0.3 (`application/vnd.dev.sigstore.bundle…`),
/// key-based, with either a `messageSignature` (what `cosign sign-blob --bundle` writes) or a DSSE envelope
/// (`cosign attest-blob`). cosign's older bundle (`{"base64Signature": …, "rekorBundle": …}`) is read too.
///
/// Only the signature is checked, against a trusted public key. Transparency-log entries and timestamps in the bundle
/// are not verified (this is a key-based gate, like `cosign verify-blob --key … --insecure-ignore-tlog`).
public struct SigstoreBundle: Sendable, Hashable {
    /// What was signed.
    public enum Content: Sendable, Hashable {
        /// A signature over the artifact itself, with the artifact's digest.
        case messageSignature(digestAlgorithm: String?, digest: [UInt8]?, signature: [UInt8])
        /// A DSSE envelope whose payload (usually an in-toto statement) names the artifact's digest.
        case dsse(payloadType: String, payload: [UInt8], signatures: [[UInt8]])
    }

    public let mediaType: String
    /// `verificationMaterial.publicKey.hint`: base64 SHA-256 of the signer's DER public key, when present.
    public let publicKeyHint: String?
    public let content: Content
    /// Whether the bundle carries transparency-log entries (never checked here; reported in results).
    public let hasTransparencyLogEntries: Bool

    /// Parses bundle JSON (at most 1 MiB).
    public init(json: [UInt8], subject: String = "bundle") throws(SignatureGateError) {
        func bad(_ detail: String) -> SignatureGateError {
            SignatureGateError(.malformedBundle, subject, detail)
        }
        guard json.count <= BoundedInput.smallFileLimit else {
            throw SignatureGateError(.inputTooLarge, subject, "bundle larger than 1 MiB")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any] else {
            throw bad("not a JSON object")
        }
        if let legacy = object["base64Signature"] as? String {
            guard let signature = Base64.decode(lenient: legacy) else { throw bad("base64Signature is not base64") }
            mediaType = "cosign legacy bundle"
            publicKeyHint = nil
            content = .messageSignature(digestAlgorithm: nil, digest: nil, signature: signature)
            hasTransparencyLogEntries = object["rekorBundle"] != nil
            return
        }
        guard let type = object["mediaType"] as? String, type.hasPrefix("application/vnd.dev.sigstore.bundle") else {
            throw bad("mediaType must be application/vnd.dev.sigstore.bundle… (v0.1–v0.3)")
        }
        mediaType = type
        let material = object["verificationMaterial"] as? [String: Any]
        publicKeyHint = (material?["publicKey"] as? [String: Any])?["hint"] as? String
        hasTransparencyLogEntries = !((material?["tlogEntries"] as? [Any]) ?? []).isEmpty
        if let message = object["messageSignature"] as? [String: Any] {
            guard let signatureText = message["signature"] as? String, let signature = Base64.decode(lenient: signatureText)
            else { throw bad("messageSignature.signature must be base64") }
            var algorithm: String?
            var digest: [UInt8]?
            if let md = message["messageDigest"] as? [String: Any] {
                algorithm = md["algorithm"] as? String
                guard let digestText = md["digest"] as? String, let decoded = Base64.decode(lenient: digestText) else {
                    throw bad("messageSignature.messageDigest.digest must be base64")
                }
                digest = decoded
            }
            content = .messageSignature(digestAlgorithm: algorithm, digest: digest, signature: signature)
        } else if let envelope = object["dsseEnvelope"] as? [String: Any] {
            guard let payloadText = envelope["payload"] as? String, let payload = Base64.decode(lenient: payloadText),
                let payloadType = envelope["payloadType"] as? String,
                let signatureList = envelope["signatures"] as? [[String: Any]], !signatureList.isEmpty
            else { throw bad("dsseEnvelope needs base64 payload, payloadType and signatures") }
            var signatures: [[UInt8]] = []
            for entry in signatureList.prefix(16) {
                guard let sigText = entry["sig"] as? String, let sig = Base64.decode(lenient: sigText) else {
                    throw bad("dsseEnvelope.signatures[].sig must be base64")
                }
                signatures.append(sig)
            }
            content = .dsse(payloadType: payloadType, payload: payload, signatures: signatures)
        } else {
            throw bad("neither messageSignature nor dsseEnvelope present")
        }
    }

    /// Reads a bundle file.
    public init(contentsOf path: String) throws(SignatureGateError) {
        try self.init(json: try BoundedInput.read(path), subject: path)
    }

    /// DSSE's pre-authentication encoding: `DSSEv1 <len> <type> <len> <payload>`.
    public static func preAuthenticationEncoding(payloadType: String, payload: [UInt8]) -> [UInt8] {
        let type = Array(payloadType.utf8)
        return Array("DSSEv1 \(type.count) ".utf8) + type + Array(" \(payload.count) ".utf8) + payload
    }

    /// The SHA-256 subject digests (lower-case hex) of an in-toto statement payload.
    static func inTotoSHA256Subjects(_ payload: [UInt8]) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any],
            let subjects = object["subject"] as? [[String: Any]]
        else { return [] }
        return subjects.compactMap { ($0["digest"] as? [String: Any])?["sha256"] as? String }.map { $0.lowercased() }
    }
}
