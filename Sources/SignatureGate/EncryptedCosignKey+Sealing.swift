import CSodium
import CryptoPrimitives

extension EncryptedCosignKey {
    /// cosign's parameters (sigstore's `encrypted.Encrypt`): scrypt N = 32768, r = 8, p = 1 (32 MiB), a 32-byte salt.
    public static let cosignN: UInt64 = 32768
    public static let cosignR: UInt32 = 8
    public static let cosignP: UInt32 = 1

    /// Encrypts `plaintext` (a PKCS #8 DER) as `cosign generate-key-pair` does: scrypt derives a 32-byte key from
    /// `password` and a random salt, NaCl secretbox seals the plaintext under it with a random 24-byte nonce.
    public init(
        sealing plaintext: [UInt8], password: [UInt8], subject: String,
        n: UInt64 = cosignN, r: UInt32 = cosignR, p: UInt32 = cosignP
    ) throws(SignatureGateError) {
        guard sodium_init() >= 0 else { throw SignatureGateError(.io, subject, "libsodium failed to initialise") }
        let salt = secureRandomBytes(32)
        let nonce = secureRandomBytes(Int(crypto_secretbox_noncebytes()))
        var key = [UInt8](repeating: 0, count: Int(crypto_secretbox_keybytes()))
        defer { sodium_memzero(&key, key.count) }
        guard
            crypto_pwhash_scryptsalsa208sha256_ll(password, password.count, salt, salt.count, n, r, p, &key, key.count)
                == 0
        else {
            throw SignatureGateError(.unsafeParameters, subject, "scrypt failed (out of memory for N=\(n) r=\(r)?)")
        }
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + Int(crypto_secretbox_macbytes()))
        guard crypto_secretbox_easy(&ciphertext, plaintext, UInt64(plaintext.count), nonce, key) == 0 else {
            throw SignatureGateError(.signingFailed, subject, "NaCl secretbox failed to seal the key")
        }
        (self.n, self.r, self.p, self.salt, self.nonce, self.ciphertext) = (n, r, p, salt, nonce, ciphertext)
        self.subject = subject
    }

    /// The JSON container, with cosign's field order:
    /// `{"kdf":{"name":"scrypt","params":{"N":…,"r":…,"p":…},"salt":…},"cipher":{…},"ciphertext":…}`.
    public var json: [UInt8] {
        let text =
            #"{"kdf":{"name":"scrypt","params":{"N":\#(n),"r":\#(r),"p":\#(p)},"salt":"\#(Base64.encode(salt))"},"#
            + #""cipher":{"name":"nacl/secretbox","nonce":"\#(Base64.encode(nonce))"},"#
            + #""ciphertext":"\#(Base64.encode(ciphertext))"}"#
        return Array(text.utf8)
    }

    /// The `cosign.key` file text: the JSON as an `ENCRYPTED SIGSTORE PRIVATE KEY` PEM block.
    public var pem: String { PEMBlock.format(label: "ENCRYPTED SIGSTORE PRIVATE KEY", der: json) }
}
