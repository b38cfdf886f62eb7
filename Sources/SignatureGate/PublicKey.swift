import CLibCrypto
import CryptoPrimitives

/// A cosign-style public key (PKIX `PUBLIC KEY` PEM, as in `cosign.pub`): ECDSA P-256 / P-384 / P-521 or RSA.
///
/// The key is kept as its DER SubjectPublicKeyInfo bytes (immutable, `Sendable`); an OpenSSL `EVP_PKEY` is made for
/// each operation.
public struct PublicKey: Sendable, Hashable {
    /// The key's algorithm.
    public enum Algorithm: String, Sendable, Hashable {
        case ecdsaP256 = "ECDSA P-256"
        case ecdsaP384 = "ECDSA P-384"
        case ecdsaP521 = "ECDSA P-521"
        case rsa = "RSA"
    }

    /// DER SubjectPublicKeyInfo.
    public let der: [UInt8]
    public let algorithm: Algorithm
    /// Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo. The sigstore bundle `publicKey.hint` is the same
    /// digest in base64.
    public let keyID: String

    /// Parses DER SubjectPublicKeyInfo.
    public init(der: [UInt8], subject: String = "public key") throws(SignatureGateError) {
        guard let pkey = OpenSSLKey.parsePublic(der) else {
            throw SignatureGateError(
                .malformedPublicKey, subject, "OpenSSL cannot parse the SubjectPublicKeyInfo (corrupted key?)"
            )
        }
        defer { EVP_PKEY_free(pkey) }
        algorithm = try OpenSSLKey.algorithm(of: pkey, subject: subject, error: .malformedPublicKey)
        // Re-encode so that the stored DER is exactly what OpenSSL understood.
        self.der = OpenSSLKey.publicDER(pkey) ?? der
        keyID = Hex.encode(DigestAlgorithm.sha256.hash(self.der))
    }

    /// Parses a PEM `PUBLIC KEY` (cosign.pub).
    public init(pem: String, subject: String = "public key") throws(SignatureGateError) {
        let block = try PEMBlock.parse(pem, subject: subject)
        guard block.label == "PUBLIC KEY" else {
            throw SignatureGateError(
                .malformedPublicKey, subject, "PEM block is '\(block.label)'; expected 'PUBLIC KEY' (a cosign.pub)"
            )
        }
        try self.init(der: block.der, subject: subject)
    }

    /// Reads a PEM public key file.
    public init(contentsOf path: String) throws(SignatureGateError) {
        try self.init(pem: try BoundedInput.readText(path), subject: path)
    }

    /// The sigstore bundle hint for this key: base64 of SHA-256 of the DER SubjectPublicKeyInfo.
    public var sigstoreHint: String { Base64.encode(DigestAlgorithm.sha256.hash(der)) }

    /// The PEM text of this key.
    public var pem: String { PEMBlock.format(label: "PUBLIC KEY", der: der) }

    /// Verifies `signature` over a message whose SHA-256 is `sha256` (cosign `verify-blob --key`: SHA-256 for every
    /// curve). Accepts ASN.1 DER signatures and, for ECDSA, raw `r||s` (IEEE P1363) ones. Never throws: any malformed
    /// signature simply does not verify.
    public func verify(signature: [UInt8], sha256 digest: [UInt8]) -> Bool {
        guard digest.count == 32, let pkey = OpenSSLKey.parsePublic(der) else { return false }
        defer { EVP_PKEY_free(pkey) }
        var candidates = [signature]
        if algorithm != .rsa, let converted = ECDSASignature.derFromRaw(signature, algorithm: algorithm) {
            candidates.append(converted)
        }
        for candidate in candidates where OpenSSLKey.verify(pkey, signature: candidate, digest: digest) {
            return true
        }
        return false
    }
}

/// Raw (IEEE P1363) ECDSA signatures as DSSE's reference vectors use them.
enum ECDSASignature {
    static func scalarByteCount(_ algorithm: PublicKey.Algorithm) -> Int? {
        switch algorithm {
        case .ecdsaP256: 32
        case .ecdsaP384: 48
        case .ecdsaP521: 66
        case .rsa: nil
        }
    }

    /// Converts `r||s` to DER, or nil if the length does not fit the curve.
    static func derFromRaw(_ raw: [UInt8], algorithm: PublicKey.Algorithm) -> [UInt8]? {
        guard let n = scalarByteCount(algorithm), raw.count == 2 * n, let sig = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(sig) }
        let r = raw[0..<n].withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32(n), nil) }
        let s = raw[n...].withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32(n), nil) }
        guard let r, let s else {
            BN_free(r)
            BN_free(s)
            return nil
        }
        guard ECDSA_SIG_set0(sig, r, s) == 1 else {
            BN_free(r)
            BN_free(s)
            return nil
        }
        let length = i2d_ECDSA_SIG(sig, nil)
        guard length > 0 else { return nil }
        var out = [UInt8](repeating: 0, count: Int(length))
        let written = out.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_ECDSA_SIG(sig, &cursor)
        }
        return written == length ? out : nil
    }
}

/// Thin helpers over OpenSSL 3's non-deprecated EVP_PKEY API.
enum OpenSSLKey {
    static func parsePublic(_ der: [UInt8]) -> OpaquePointer? {
        der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            let key = d2i_PUBKEY(nil, &cursor, der.count)
            // Trailing bytes after the SubjectPublicKeyInfo mean a corrupted file.
            if let key, cursor != buffer.baseAddress.map({ $0 + der.count }) {
                EVP_PKEY_free(key)
                return nil
            }
            return key
        }
    }

    static func publicDER(_ pkey: OpaquePointer) -> [UInt8]? {
        let length = i2d_PUBKEY(pkey, nil)
        guard length > 0 else { return nil }
        var out = [UInt8](repeating: 0, count: Int(length))
        let written = out.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_PUBKEY(pkey, &cursor)
        }
        return written == length ? out : nil
    }

    static func algorithm(
        of pkey: OpaquePointer,
        subject: String,
        error: SignatureGateError.Code
    ) throws(SignatureGateError) -> PublicKey.Algorithm {
        switch EVP_PKEY_get_base_id(pkey) {
        case EVP_PKEY_EC:
            switch EVP_PKEY_get_bits(pkey) {
            case 256: return .ecdsaP256
            case 384: return .ecdsaP384
            case 521: return .ecdsaP521
            case let bits: throw SignatureGateError(.unsupportedKey, subject, "EC key of \(bits) bits; use P-256")
            }
        case EVP_PKEY_RSA:
            guard EVP_PKEY_get_bits(pkey) >= 2048 else {
                throw SignatureGateError(.unsupportedKey, subject, "RSA key shorter than 2048 bits")
            }
            return .rsa
        case EVP_PKEY_ED25519:
            throw SignatureGateError(
                .unsupportedKey, subject,
                "Ed25519 keys in cosign format are not supported (cosign signs blobs with ECDSA P-256); "
                    + "use an ECDSA P-256 key, or a minisign key for Ed25519"
            )
        default:
            throw SignatureGateError(error, subject, "unsupported key type (expected ECDSA or RSA)")
        }
    }

    /// Verifies a signature over a precomputed SHA-256 digest.
    static func verify(_ pkey: OpaquePointer, signature: [UInt8], digest: [UInt8]) -> Bool {
        guard let ctx = EVP_PKEY_CTX_new(pkey, nil) else { return false }
        defer {
            EVP_PKEY_CTX_free(ctx)
            ERR_clear_error()
        }
        guard EVP_PKEY_verify_init(ctx) == 1, EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 else {
            return false
        }
        return EVP_PKEY_verify(ctx, signature, signature.count, digest, digest.count) == 1
    }

    /// Signs a precomputed SHA-256 digest (ECDSA: DER signature; RSA: PKCS #1 v1.5).
    static func sign(_ pkey: OpaquePointer, digest: [UInt8]) -> [UInt8]? {
        guard let ctx = EVP_PKEY_CTX_new(pkey, nil) else { return nil }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_sign_init(ctx) == 1, EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 else { return nil }
        var length = 0
        guard EVP_PKEY_sign(ctx, nil, &length, digest, digest.count) == 1, length > 0 else { return nil }
        var out = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_sign(ctx, &out, &length, digest, digest.count) == 1 else { return nil }
        return Array(out[0..<length])
    }

    /// The most recent OpenSSL error as text (for messages), clearing the queue.
    static func lastError() -> String {
        let code = ERR_get_error()
        defer { ERR_clear_error() }
        guard code != 0 else { return "no detail from OpenSSL" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
