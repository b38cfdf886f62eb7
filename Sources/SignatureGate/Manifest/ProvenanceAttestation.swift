import CryptoPrimitives
import Foundation

/// A build-provenance attestation for a file: an in-toto statement (SLSA provenance or any predicate) in a DSSE
/// envelope signed by a cosign key — what `cosign attest-blob --key` writes, bare (`--output-signature`, an
/// `.intoto.jsonl` line) or inside a sigstore bundle (`--bundle`).
///
/// ``check(_:sha256:policy:)`` accepts an attestation only if its envelope's signature over
/// `PAE(payloadType, payload)` verifies with a trusted cosign key, the payload type is in-toto's, the statement's
/// `predicateType` is one the policy lists, and one of its subjects has the file's SHA-256.
public struct ProvenanceAttestation: Sendable, Hashable {
    /// The DSSE payload type of an in-toto statement.
    public static let inTotoPayloadType = "application/vnd.in-toto+json"

    public let payloadType: String
    public let payload: [UInt8]
    public let signatures: [[UInt8]]
    /// The bundle's `publicKey.hint`, when it came in a bundle (advisory).
    let hint: String?
    /// The envelope's bytes as read.
    public let bytes: [UInt8]

    /// The SHA-256 subject digests (lower-case hex) of the statement.
    public var subjectSHA256: [String] { SigstoreBundle.inTotoSHA256Subjects(payload) }

    /// Reads an attestation file (at most 1 MiB).
    public static func load(_ path: String) throws(SignatureGateError) -> ProvenanceAttestation {
        try ProvenanceAttestation(json: try BoundedInput.read(path), subject: path)
    }

    /// Parses a bare DSSE envelope (`{"payloadType", "payload", "signatures": [{"keyid", "sig"}]}`) or a sigstore
    /// bundle holding one.
    ///
    /// - Throws: ``SignatureGateError`` `.malformedBundle` naming `subject`.
    public init(json bytes: [UInt8], subject: String) throws(SignatureGateError) {
        func bad(_ detail: String) -> SignatureGateError { SignatureGateError(.malformedBundle, subject, detail) }
        let object = try BoundedInput.jsonObject(
            bytes, limit: BoundedInput.smallFileLimit, subject: subject, code: .malformedBundle,
            expected: "a DSSE envelope or a sigstore bundle")
        self.bytes = bytes
        if object["mediaType"] != nil {
            let bundle = try SigstoreBundle(json: bytes, subject: subject)
            guard case .dsse(let type, let payload, let signatures) = bundle.content else {
                throw bad("the bundle holds a message signature, not a DSSE attestation")
            }
            (payloadType, self.payload, self.signatures, hint) = (type, payload, signatures, bundle.publicKeyHint)
            return
        }
        guard let type = object["payloadType"] as? String, let text = object["payload"] as? String,
            let payload = Base64.decode(lenient: text), let list = object["signatures"] as? [[String: Any]],
            !list.isEmpty
        else { throw bad("a DSSE envelope needs payloadType, base64 payload and signatures") }
        var signatures: [[UInt8]] = []
        for entry in list.prefix(16) {
            guard let sigText = entry["sig"] as? String, let sig = Base64.decode(lenient: sigText) else {
                throw bad("signatures[].sig must be base64")
            }
            signatures.append(sig)
        }
        (payloadType, self.payload, self.signatures, hint) = (type, payload, signatures, nil)
    }

    /// An attestation that vouched for a file: who signed it, and its predicate type.
    public struct Vouch: Sendable, Hashable {
        public var keyID: String
        public var predicateType: String

        public init(keyID: String, predicateType: String) {
            self.keyID = keyID
            self.predicateType = predicateType
        }
    }

    /// Why an attestation does not vouch for a file.
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// No attestation for the file, and the policy requires one.
        case missing
        /// No signature on the envelope verifies with a trusted cosign key.
        case unsigned
        /// The statement's predicate type is not one the policy accepts.
        case predicateType(String)
        /// No subject of the statement has the file's SHA-256.
        case digestMismatch
        /// The envelope or its statement cannot be read.
        case malformed(String)

        /// The audit log's reason name.
        public var name: String {
            switch self {
            case .missing: "missing-attestation"
            case .unsigned: "attestation-unsigned"
            case .predicateType: "attestation-predicate-type"
            case .digestMismatch: "attestation-digest-mismatch"
            case .malformed: "attestation-malformed"
            }
        }

        var severity: Int {
            switch self {
            case .digestMismatch: 4
            case .unsigned: 3
            case .predicateType: 2
            case .malformed: 1
            case .missing: 0
            }
        }

        public var description: String {
            switch self {
            case .missing:
                "no provenance attestation, and the trust policy requires one (make --manifest --attestation FILE)"
            case .unsigned:
                "the attestation's DSSE signature does not verify with any trusted cosign key"
            case .predicateType(let type):
                "the attestation's predicate type '\(type)' is not one the trust policy accepts (require-attestation)"
            case .digestMismatch:
                "the attestation names no subject with the file's SHA-256: it is for other bytes"
            case .malformed(let detail):
                "unreadable attestation: \(detail)"
            }
        }
    }

    /// Checks every attestation of a file; one that passes is enough.
    ///
    /// - Parameters:
    ///   - attestations: the envelopes, as carried (bytes).
    ///   - sha256: the file's SHA-256.
    ///   - policy: trusted keys and the accepted predicate types (``TrustPolicy/attestationPredicateTypes``).
    /// - Returns: the key id and predicate type of an attestation that passed, or the most telling failure.
    public static func check(
        _ attestations: [[UInt8]], sha256: [UInt8], policy: TrustPolicy
    ) -> Result<Vouch, Failure> {
        var worst: Failure = .missing
        for (index, bytes) in attestations.enumerated() {
            let outcome: Result<Vouch, Failure>
            do throws(SignatureGateError) {
                outcome = try ProvenanceAttestation(json: bytes, subject: "attestation \(index)").check(
                    sha256: sha256, policy: policy)
            } catch {
                outcome = .failure(.malformed(error.detail))
            }
            switch outcome {
            case .success: return outcome
            case .failure(let failure): if failure.severity > worst.severity { worst = failure }
            }
        }
        return .failure(worst)
    }

    /// Checks this attestation for a file with `sha256`.
    public func check(
        sha256: [UInt8], policy: TrustPolicy
    ) -> Result<Vouch, Failure> {
        guard payloadType == Self.inTotoPayloadType else {
            return .failure(.malformed("payload type \(payloadType), expected \(Self.inTotoPayloadType)"))
        }
        let pae = SigstoreBundle.preAuthenticationEncoding(payloadType: payloadType, payload: payload)
        let digest = DigestAlgorithm.sha256.hash(pae)
        let signer = policy.cosignKeys.first { key in signatures.contains { key.verify(signature: $0, sha256: digest) } }
        guard let signer else { return .failure(.unsigned) }
        guard let statement = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any],
            let type = statement["predicateType"] as? String
        else { return .failure(.malformed("the payload is not an in-toto statement with a predicateType")) }
        guard policy.attestationPredicateTypes.contains(type) else { return .failure(.predicateType(type)) }
        guard SigstoreBundle.inTotoSHA256Subjects(payload).contains(Hex.encode(sha256)) else {
            return .failure(.digestMismatch)
        }
        return .success(Vouch(keyID: TrustedKey.cosign(signer).keyID, predicateType: type))
    }

    // MARK: Making attestations

    /// An in-toto v1 statement about files (name and SHA-256 each) with a predicate.
    public static func statement(
        subjects: [(name: String, sha256: [UInt8])], predicateType: String, predicate: [String: any Sendable] = [:]
    ) -> [UInt8] {
        let object: [String: Any] = [
            "_type": "https://in-toto.io/Statement/v1",
            "subject": subjects.map { ["name": $0.name, "digest": ["sha256": Hex.encode($0.sha256)]] },
            "predicateType": predicateType,
            "predicate": predicate,
        ]
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
    }

    /// Signs a statement into a bare DSSE envelope, as `cosign attest-blob --key` does (ECDSA over SHA-256 of the
    /// PAE, base64 DER).
    public static func envelope(statement: [UInt8], key: SigningKey) throws(SignatureGateError) -> [UInt8] {
        let pae = SigstoreBundle.preAuthenticationEncoding(payloadType: inTotoPayloadType, payload: statement)
        let signature = try key.sign(sha256: DigestAlgorithm.sha256.hash(pae))
        let object: [String: Any] = [
            "payloadType": inTotoPayloadType,
            "payload": Base64.encode(statement),
            "signatures": [["keyid": "", "sig": Base64.encode(signature)]],
        ]
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
    }
}
