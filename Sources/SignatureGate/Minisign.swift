import CSodium
import CryptoPrimitives
import Foundation

/// minisign's key id: 8 bytes, shown as the little-endian 64-bit number in upper-case hex (as `minisign` prints it).
public struct MinisignKeyID: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = bytes }
    public var description: String { Hex.encode(bytes.reversed()).uppercased() }
}

/// Splits minisign text into lines the way minisign's `trim()` does: LF separators, a trailing CR removed.
enum MinisignText {
    static func lines(_ text: String) -> [Substring] {
        // Swift treats CR LF as one Character: split on both.
        text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
    }
    static let untrustedPrefix = "untrusted comment: "
    static let trustedPrefix = "trusted comment: "
}

/// A minisign public key (`minisign.pub`: an untrusted comment line, then base64 of `Ed` ‖ key id ‖ Ed25519 key).
public struct MinisignPublicKey: Sendable, Hashable {
    public let keyID: MinisignKeyID
    public let key: [UInt8]

    public init(keyID: MinisignKeyID, key: [UInt8]) {
        self.keyID = keyID
        self.key = key
    }

    /// Parses the file text, or the bare base64 line that `minisign -P` takes.
    public init(text: String, subject: String = "minisign public key") throws(SignatureGateError) {
        let lines = MinisignText.lines(text).filter { !$0.isEmpty }
        let keyLine: Substring
        if lines.count == 1 {
            keyLine = lines[0]
        } else if lines.count == 2, lines[0].hasPrefix(MinisignText.untrustedPrefix) {
            keyLine = lines[1]
        } else {
            throw SignatureGateError(
                .malformedPublicKey, subject,
                "a minisign public key is an 'untrusted comment:' line followed by one base64 line"
            )
        }
        guard let raw = Base64.decode(lenient: keyLine), raw.count == 42, raw[0] == UInt8(ascii: "E"),
            raw[1] == UInt8(ascii: "d")
        else {
            throw SignatureGateError(
                .malformedPublicKey, subject, "the key line is not base64 of 'Ed' + 8-byte key id + 32-byte key"
            )
        }
        keyID = MinisignKeyID(bytes: Array(raw[2..<10]))
        key = Array(raw[10..<42])
    }

    /// Reads a `minisign.pub` file.
    public init(contentsOf path: String) throws(SignatureGateError) {
        try self.init(text: try BoundedInput.readText(path, limit: 64 << 10), subject: path)
    }

    /// The file text, as `minisign -G` writes it.
    public var fileText: String {
        "untrusted comment: minisign public key \(keyID)\n"
            + Base64.encode(Array("Ed".utf8) + keyID.bytes + key) + "\n"
    }
}

/// A `.minisig` signature file.
public struct MinisignSignature: Sendable, Hashable {
    /// `Ed`: Ed25519 over the file itself (legacy); `ED`: Ed25519 over BLAKE2b-512 of the file (prehashed).
    public enum Algorithm: String, Sendable, Hashable {
        case legacy = "Ed"
        case prehashed = "ED"
    }

    public let algorithm: Algorithm
    public let keyID: MinisignKeyID
    public let signature: [UInt8]
    public let untrustedComment: String
    /// The trusted comment (without the `trusted comment: ` prefix), covered by ``globalSignature``.
    public let trustedComment: String
    /// Ed25519 over `signature ‖ trustedComment`.
    public let globalSignature: [UInt8]

    /// minisign's bounds: comments of at most 1 KiB untrusted / 8 KiB trusted.
    static let maxTrustedCommentBytes = 8192

    public init(
        algorithm: Algorithm,
        keyID: MinisignKeyID,
        signature: [UInt8],
        untrustedComment: String,
        trustedComment: String,
        globalSignature: [UInt8]
    ) {
        self.algorithm = algorithm
        self.keyID = keyID
        self.signature = signature
        self.untrustedComment = untrustedComment
        self.trustedComment = trustedComment
        self.globalSignature = globalSignature
    }

    /// Parses `.minisig` text (LF or CR LF line ends).
    public init(text: String, subject: String = "minisign signature") throws(SignatureGateError) {
        var lines = MinisignText.lines(text)
        while lines.last?.isEmpty == true { lines.removeLast() }
        func bad(_ detail: String) -> SignatureGateError {
            SignatureGateError(.malformedSignature, subject, "not a minisign signature: \(detail)")
        }
        guard lines.count == 4 else { throw bad("expected 4 lines, found \(lines.count)") }
        guard lines[0].hasPrefix(MinisignText.untrustedPrefix) else {
            throw bad("line 1 must start with 'untrusted comment: '")
        }
        guard let raw = Base64.decode(lenient: lines[1]), raw.count == 74 else {
            throw bad("line 2 must be base64 of a 74-byte signature block")
        }
        guard let algorithm = Algorithm(rawValue: String(decoding: raw[0..<2], as: UTF8.self)) else {
            throw bad("unknown signature algorithm \(Hex.encode(raw[0..<2])) (expected 'Ed' or 'ED')")
        }
        guard lines[2].hasPrefix(MinisignText.trustedPrefix) else {
            throw bad("line 3 must start with 'trusted comment: '")
        }
        let trusted = String(lines[2].dropFirst(MinisignText.trustedPrefix.count))
        guard trusted.utf8.count <= Self.maxTrustedCommentBytes else { throw bad("trusted comment too long") }
        guard let global = Base64.decode(lenient: lines[3]), global.count == 64 else {
            throw bad("line 4 must be base64 of a 64-byte global signature")
        }
        self.algorithm = algorithm
        keyID = MinisignKeyID(bytes: Array(raw[2..<10]))
        signature = Array(raw[10..<74])
        untrustedComment = String(lines[0].dropFirst(MinisignText.untrustedPrefix.count))
        trustedComment = trusted
        globalSignature = global
    }

    /// Reads a `.minisig` file.
    public init(contentsOf path: String) throws(SignatureGateError) {
        try self.init(text: try BoundedInput.readText(path, limit: 64 << 10), subject: path)
    }

    /// The file text, as `minisign -S` writes it.
    public var fileText: String {
        "untrusted comment: \(untrustedComment)\n"
            + Base64.encode(Array(algorithm.rawValue.utf8) + keyID.bytes + signature) + "\n"
            + "trusted comment: \(trustedComment)\n"
            + Base64.encode(globalSignature) + "\n"
    }

    /// Checks the global signature (which binds the trusted comment) with `key`.
    func globalSignatureValid(with key: MinisignPublicKey) -> Bool {
        Ed25519.verify(signature: globalSignature, message: signature + Array(trustedComment.utf8), publicKey: key.key)
    }
}

/// A minisign secret key (`minisign.key`), encrypted with scrypt (`Sc`) or unencrypted (`minisign -G -W`).
public struct MinisignSecretKey: Sendable {
    public let keyID: MinisignKeyID
    /// libsodium's 64-byte Ed25519 secret key (seed ‖ public key).
    let secretKey: [UInt8]

    /// minisign's own defaults are opslimit 2^25 and memlimit 1 GiB; refuse anything heavier.
    static let maxMemlimit: UInt64 = 1 << 30
    static let maxOpslimit: UInt64 = 1 << 32

    /// The matching public key.
    public var publicKey: MinisignPublicKey {
        MinisignPublicKey(keyID: keyID, key: Array(secretKey[32..<64]))
    }

    /// A fresh random key.
    public static func generate() -> MinisignSecretKey {
        MinisignSecretKey(
            keyID: MinisignKeyID(bytes: secureRandomBytes(8)), secretKey: Ed25519.KeyPair.generate().secretKey)
    }

    init(keyID: MinisignKeyID, secretKey: [UInt8]) {
        self.keyID = keyID
        self.secretKey = secretKey
    }

    /// Whether `text` looks like a minisign secret key file (so the CLI can tell key kinds apart).
    public static func looksLikeSecretKey(_ text: String) -> Bool {
        let lines = MinisignText.lines(text)
        guard lines.count >= 2, lines[0].hasPrefix(MinisignText.untrustedPrefix),
            let raw = Base64.decode(lenient: lines[1])
        else { return false }
        return raw.count == 158
    }

    /// Parses the key file, asking for the password only when the key is encrypted.
    public init(
        text: String, subject: String, password: () throws(SignatureGateError) -> [UInt8]
    )
        throws(SignatureGateError)
    {
        let lines = MinisignText.lines(text).filter { !$0.isEmpty }
        func bad(_ detail: String) -> SignatureGateError {
            SignatureGateError(.malformedPrivateKey, subject, "not a minisign secret key: \(detail)")
        }
        guard lines.count == 2, lines[0].hasPrefix(MinisignText.untrustedPrefix) else {
            throw bad("expected an 'untrusted comment:' line and one base64 line")
        }
        guard let raw = Base64.decode(lenient: lines[1]), raw.count == 158 else {
            throw bad("the key line must be base64 of 158 bytes")
        }
        guard raw[0] == UInt8(ascii: "E"), raw[1] == UInt8(ascii: "d") else {
            throw bad("signature algorithm must be 'Ed'")
        }
        let kdf = Array(raw[2..<4])
        guard raw[4] == UInt8(ascii: "B"), raw[5] == UInt8(ascii: "2") else { throw bad("checksum must be 'B2'") }
        let salt = Array(raw[6..<38])
        let opslimit = Self.le64(raw[38..<46])
        let memlimit = Self.le64(raw[46..<54])
        var keynumSK = Array(raw[54..<158])
        let encrypted: Bool
        switch kdf {
        case Array("Sc".utf8):
            encrypted = true
            guard memlimit <= Self.maxMemlimit, opslimit <= Self.maxOpslimit else {
                throw SignatureGateError(
                    .unsafeParameters, subject, "scrypt opslimit \(opslimit) / memlimit \(memlimit) above minisign's"
                )
            }
            var pw = try password()
            defer { sodium_memzero(&pw, pw.count) }
            var stream = [UInt8](repeating: 0, count: keynumSK.count)
            defer { sodium_memzero(&stream, stream.count) }
            guard sodium_init() >= 0,
                crypto_pwhash_scryptsalsa208sha256(
                    &stream, UInt64(stream.count), pw, UInt64(pw.count), salt, opslimit, Int(memlimit)
                ) == 0
            else {
                throw SignatureGateError(.unsafeParameters, subject, "scrypt failed (not enough memory?)")
            }
            for i in 0..<keynumSK.count { keynumSK[i] ^= stream[i] }
        case [0, 0]:
            encrypted = false
        default:
            throw bad("unknown key derivation '\(Hex.encode(kdf))' (expected 'Sc' or none)")
        }
        let keyNumber = Array(keynumSK[0..<8])
        let secret = Array(keynumSK[8..<72])
        let checksum = Array(keynumSK[72..<104])
        if encrypted || checksum.contains(where: { $0 != 0 }) {
            let expected = Self.checksum(keyNumber: keyNumber, secretKey: secret)
            guard constantTimeEquals(expected, checksum) else {
                if encrypted {
                    throw SignatureGateError(
                        .wrongPassword, subject, "the password does not decrypt this minisign key (checksum mismatch)"
                    )
                }
                throw bad("checksum mismatch")
            }
        }
        guard Ed25519.KeyPair(secretKey: secret) != nil else {
            throw bad("the Ed25519 secret key does not match its embedded public key")
        }
        keyID = MinisignKeyID(bytes: keyNumber)
        secretKey = secret
    }

    /// Reads a `minisign.key` file.
    public init(
        contentsOf path: String, password: () throws(SignatureGateError) -> [UInt8]
    )
        throws(SignatureGateError)
    {
        try self.init(text: try BoundedInput.readText(path, limit: 64 << 10), subject: path, password: password)
    }

    /// The unencrypted key file text, as `minisign -G -W` writes it.
    public var unencryptedFileText: String {
        var raw = Array("Ed".utf8) + [0, 0] + Array("B2".utf8)
        raw += [UInt8](repeating: 0, count: 32 + 8 + 8)
        raw += keyID.bytes + secretKey + Self.checksum(keyNumber: keyID.bytes, secretKey: secretKey)
        return "untrusted comment: minisign secret key \(keyID)\n" + Base64.encode(raw) + "\n"
    }

    /// The key file text encrypted with `password` (kdf `Sc`: scrypt-salsa208-sha256), as `minisign -G` writes it.
    /// minisign's defaults are opslimit 2^25 and memlimit 1 GiB.
    public func encryptedFileText(
        password: [UInt8], opslimit: UInt64 = 1 << 25, memlimit: UInt64 = 1 << 30
    )
        throws(SignatureGateError) -> String
    {
        let salt = secureRandomBytes(32)
        var keynumSK = keyID.bytes + secretKey + Self.checksum(keyNumber: keyID.bytes, secretKey: secretKey)
        var stream = [UInt8](repeating: 0, count: keynumSK.count)
        defer { sodium_memzero(&stream, stream.count) }
        guard sodium_init() >= 0,
            crypto_pwhash_scryptsalsa208sha256(
                &stream, UInt64(stream.count), password, UInt64(password.count), salt, opslimit, Int(memlimit)
            ) == 0
        else { throw SignatureGateError(.unsafeParameters, "minisign key", "scrypt failed (not enough memory?)") }
        for i in 0..<keynumSK.count { keynumSK[i] ^= stream[i] }
        var raw = Array("Ed".utf8) + Array("Sc".utf8) + Array("B2".utf8) + salt
        raw += Self.le64Bytes(opslimit) + Self.le64Bytes(memlimit) + keynumSK
        return "untrusted comment: minisign encrypted secret key\n" + Base64.encode(raw) + "\n"
    }

    static func le64Bytes(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    /// Signs a file given its BLAKE2b-512 (prehashed `ED`, minisign ≥ 0.10's default).
    public func signPrehashed(
        blake2b512 digest: [UInt8], trustedComment: String, untrustedComment: String
    )
        -> MinisignSignature
    {
        sign(algorithm: .prehashed, message: digest, trustedComment: trustedComment, untrusted: untrustedComment)
    }

    /// Signs the file bytes themselves (legacy `Ed`, `minisign -S -l`).
    public func signLegacy(message: [UInt8], trustedComment: String, untrustedComment: String) -> MinisignSignature {
        sign(algorithm: .legacy, message: message, trustedComment: trustedComment, untrusted: untrustedComment)
    }

    private func sign(
        algorithm: MinisignSignature.Algorithm, message: [UInt8], trustedComment: String, untrusted: String
    )
        -> MinisignSignature
    {
        let pair = Ed25519.KeyPair(secretKey: secretKey)!
        let signature = pair.sign(message)
        let global = pair.sign(signature + Array(trustedComment.utf8))
        return MinisignSignature(
            algorithm: algorithm, keyID: keyID, signature: signature, untrustedComment: untrusted,
            trustedComment: trustedComment, globalSignature: global
        )
    }

    /// minisign's default trusted comment for a prehashed signature of `fileName`.
    public static func defaultTrustedComment(fileName: String, now: Date = Date()) -> String {
        "timestamp:\(Int(now.timeIntervalSince1970))\tfile:\(fileName)\thashed"
    }

    static func checksum(keyNumber: [UInt8], secretKey: [UInt8]) -> [UInt8] {
        let hasher = BLAKE2b(outputByteCount: 32)
        hasher.update(Array("Ed".utf8))
        hasher.update(keyNumber)
        hasher.update(secretKey)
        return hasher.finalize()
    }

    static func le64(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}
