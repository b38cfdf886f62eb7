import CLibCrypto
import CSodium
import CryptoPrimitives
import Foundation

/// A cosign-compatible private key for signing blobs: ECDSA (P-256 by default, as `cosign generate-key-pair` makes)
/// or RSA, held as PKCS #8 DER.
///
/// Reads plain `PRIVATE KEY` (PKCS #8) and `EC PRIVATE KEY` (SEC1) PEM files, and cosign's encrypted
/// `ENCRYPTED SIGSTORE PRIVATE KEY` / `ENCRYPTED COSIGN PRIVATE KEY` files (scrypt + NaCl secretbox, PKCS #8 inside).
public struct SigningKey: Sendable {
    /// PKCS #8 DER of the private key.
    let pkcs8: [UInt8]
    /// The matching public key.
    public let publicKey: PublicKey

    /// Makes a fresh ECDSA P-256 key.
    public static func generateP256() throws(SignatureGateError) -> SigningKey {
        guard let ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nil) else {
            throw SignatureGateError(.signingFailed, "key generation", OpenSSLKey.lastError())
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        var pkey: OpaquePointer?
        guard EVP_PKEY_keygen_init(ctx) == 1,
            EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1) == 1,
            EVP_PKEY_keygen(ctx, &pkey) == 1, let pkey
        else { throw SignatureGateError(.signingFailed, "key generation", OpenSSLKey.lastError()) }
        defer { EVP_PKEY_free(pkey) }
        guard let info = EVP_PKEY2PKCS8(pkey) else {
            throw SignatureGateError(.signingFailed, "key generation", OpenSSLKey.lastError())
        }
        defer { PKCS8_PRIV_KEY_INFO_free(info) }
        let length = i2d_PKCS8_PRIV_KEY_INFO(info, nil)
        var der = [UInt8](repeating: 0, count: Int(max(length, 0)))
        _ = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_PKCS8_PRIV_KEY_INFO(info, &cursor)
        }
        return try SigningKey(pkcs8: der, subject: "generated key")
    }

    /// Parses PKCS #8 DER.
    public init(pkcs8 der: [UInt8], subject: String) throws(SignatureGateError) {
        guard let pkey = Self.parsePKCS8(der) else {
            throw SignatureGateError(
                .malformedPrivateKey, subject,
                "not a PKCS #8 private key (cosign keys must hold PKCS #8; an 'EC PRIVATE KEY' inside an encrypted "
                    + "cosign key is refused, as cosign does)"
            )
        }
        defer { EVP_PKEY_free(pkey) }
        _ = try OpenSSLKey.algorithm(of: pkey, subject: subject, error: .malformedPrivateKey)
        guard let publicDER = OpenSSLKey.publicDER(pkey) else {
            throw SignatureGateError(.malformedPrivateKey, subject, "cannot derive the public key")
        }
        pkcs8 = der
        publicKey = try PublicKey(der: publicDER, subject: subject)
    }

    /// Reads a private key file: plain PEM, or cosign's encrypted format (then `password` is asked for, once).
    ///
    /// - Parameters:
    ///   - path: the key file.
    ///   - password: called only if the key is encrypted; returns the password bytes.
    public init(
        contentsOf path: String, password: () throws(SignatureGateError) -> [UInt8]
    )
        throws(SignatureGateError)
    {
        try self.init(pem: try BoundedInput.readText(path), subject: path, password: password)
    }

    /// Parses a private key PEM text: plain PEM, or cosign's encrypted format.
    public init(
        pem: String, subject: String, password: () throws(SignatureGateError) -> [UInt8]
    )
        throws(SignatureGateError)
    {
        let block = try PEMBlock.parse(pem, subject: subject)
        switch block.label {
        case "PRIVATE KEY":
            try self.init(pkcs8: block.der, subject: subject)
        case "EC PRIVATE KEY", "RSA PRIVATE KEY":
            let type = block.label == "EC PRIVATE KEY" ? EVP_PKEY_EC : EVP_PKEY_RSA
            let pkey = block.der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
                var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
                return d2i_PrivateKey(type, nil, &cursor, buffer.count)
            }
            guard let pkey, let info = EVP_PKEY2PKCS8(pkey) else {
                throw SignatureGateError(.malformedPrivateKey, subject, "OpenSSL cannot parse the \(block.label)")
            }
            defer {
                EVP_PKEY_free(pkey)
                PKCS8_PRIV_KEY_INFO_free(info)
            }
            let length = i2d_PKCS8_PRIV_KEY_INFO(info, nil)
            var der = [UInt8](repeating: 0, count: Int(max(length, 0)))
            _ = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
                var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
                return i2d_PKCS8_PRIV_KEY_INFO(info, &cursor)
            }
            try self.init(pkcs8: der, subject: subject)
        case "ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY":
            let encrypted = try EncryptedCosignKey(json: block.der, subject: subject)
            let plaintext = try encrypted.decrypt(password: try password())
            try self.init(pkcs8: plaintext, subject: subject)
        case "ENCRYPTED PRIVATE KEY":
            throw SignatureGateError(
                .unsupportedKey, subject,
                "PKCS #8 'ENCRYPTED PRIVATE KEY' is not a cosign key; decrypt it with `openssl pkcs8` first"
            )
        default:
            throw SignatureGateError(
                .malformedPrivateKey, subject,
                "PEM block '\(block.label)' is not a private key (expected PRIVATE KEY, EC PRIVATE KEY, "
                    + "RSA PRIVATE KEY, or ENCRYPTED SIGSTORE/COSIGN PRIVATE KEY)"
            )
        }
    }

    /// The plain PKCS #8 PEM of this key (`-----BEGIN PRIVATE KEY-----`), as `openssl genpkey` writes it.
    public var pkcs8PEM: String { PEMBlock.format(label: "PRIVATE KEY", der: pkcs8) }

    /// Signs a message whose SHA-256 is `sha256`, as `cosign sign-blob --key` does: returns the DER signature.
    public func sign(sha256 digest: [UInt8]) throws(SignatureGateError) -> [UInt8] {
        guard digest.count == 32 else {
            throw SignatureGateError(.signingFailed, "digest", "expected a 32-byte SHA-256 digest")
        }
        guard let pkey = Self.parsePKCS8(pkcs8) else {
            throw SignatureGateError(.malformedPrivateKey, "signing key", OpenSSLKey.lastError())
        }
        defer { EVP_PKEY_free(pkey) }
        guard let signature = OpenSSLKey.sign(pkey, digest: digest) else {
            throw SignatureGateError(.signingFailed, "signing key", OpenSSLKey.lastError())
        }
        return signature
    }

    static func parsePKCS8(_ der: [UInt8]) -> OpaquePointer? {
        der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let info = d2i_PKCS8_PRIV_KEY_INFO(nil, &cursor, buffer.count) else {
                ERR_clear_error()
                return nil
            }
            defer { PKCS8_PRIV_KEY_INFO_free(info) }
            let key = EVP_PKCS82PKEY(info)
            if key == nil { ERR_clear_error() }
            return key
        }
    }
}

/// cosign's encrypted private key container (the base64 body of an `ENCRYPTED SIGSTORE PRIVATE KEY` PEM):
/// `{"kdf":{"name":"scrypt","params":{"N":…,"r":…,"p":…},"salt":…},
/// "cipher":{"name":"nacl/secretbox","nonce":…},"ciphertext":…}`.
public struct EncryptedCosignKey: Sendable, Hashable {
    public var n: UInt64
    public var r: UInt32
    public var p: UInt32
    public var salt: [UInt8]
    public var nonce: [UInt8]
    public var ciphertext: [UInt8]
    let subject: String

    /// scrypt memory is 128·N·r bytes; cosign uses N = 32768 or 65536 with r = 8 (32–64 MiB).
    /// Refuse more than 1 GiB.
    static let maxScryptMemory: UInt64 = 1 << 30

    /// Parses the JSON container.
    public init(json: [UInt8], subject: String) throws(SignatureGateError) {
        self.subject = subject
        func bad(_ detail: String) -> SignatureGateError {
            SignatureGateError(.malformedPrivateKey, subject, "encrypted cosign key: \(detail)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any] else {
            throw bad("the PEM body is not a JSON object")
        }
        guard let kdf = object["kdf"] as? [String: Any], kdf["name"] as? String == "scrypt",
            let params = kdf["params"] as? [String: Any]
        else { throw bad("kdf must be {\"name\":\"scrypt\",\"params\":{…}}") }
        guard let n = (params["N"] as? NSNumber)?.uint64Value, let r = (params["r"] as? NSNumber)?.uint32Value,
            let p = (params["p"] as? NSNumber)?.uint32Value
        else { throw bad("scrypt params N, r, p missing") }
        guard n >= 2, n & (n - 1) == 0, (1...32).contains(r), (1...16).contains(p) else {
            throw SignatureGateError(.unsafeParameters, subject, "scrypt N=\(n) r=\(r) p=\(p) out of range")
        }
        guard n.multipliedReportingOverflow(by: 128 * UInt64(r)).partialValue <= Self.maxScryptMemory,
            n <= Self.maxScryptMemory
        else {
            throw SignatureGateError(.unsafeParameters, subject, "scrypt N=\(n) r=\(r) needs more than 1 GiB")
        }
        guard let saltText = kdf["salt"] as? String, let salt = Base64.decode(lenient: saltText) else {
            throw bad("kdf.salt must be base64")
        }
        guard let cipher = object["cipher"] as? [String: Any], cipher["name"] as? String == "nacl/secretbox",
            let nonceText = cipher["nonce"] as? String, let nonce = Base64.decode(lenient: nonceText),
            nonce.count == Int(crypto_secretbox_noncebytes())
        else { throw bad("cipher must be nacl/secretbox with a 24-byte base64 nonce") }
        guard let ctText = object["ciphertext"] as? String, let ciphertext = Base64.decode(lenient: ctText),
            ciphertext.count > Int(crypto_secretbox_macbytes())
        else { throw bad("ciphertext must be base64 of at least 17 bytes") }
        (self.n, self.r, self.p, self.salt, self.nonce, self.ciphertext) = (n, r, p, salt, nonce, ciphertext)
    }

    /// Derives the key with scrypt and opens the secretbox. Throws ``SignatureGateError/Code/wrongPassword`` when the
    /// authenticator does not match.
    public func decrypt(password: [UInt8]) throws(SignatureGateError) -> [UInt8] {
        guard sodium_init() >= 0 else { throw SignatureGateError(.io, subject, "libsodium failed to initialise") }
        var key = [UInt8](repeating: 0, count: Int(crypto_secretbox_keybytes()))
        defer { sodium_memzero(&key, key.count) }
        let rc = crypto_pwhash_scryptsalsa208sha256_ll(
            password, password.count, salt, salt.count, n, r, p, &key, key.count
        )
        guard rc == 0 else {
            throw SignatureGateError(.unsafeParameters, subject, "scrypt failed (out of memory for N=\(n) r=\(r)?)")
        }
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count - Int(crypto_secretbox_macbytes()))
        guard crypto_secretbox_open_easy(&plaintext, ciphertext, UInt64(ciphertext.count), nonce, key) == 0 else {
            throw SignatureGateError(
                .wrongPassword, subject, "the password does not decrypt this key (set COSIGN_PASSWORD to the right one)"
            )
        }
        return plaintext
    }
}
