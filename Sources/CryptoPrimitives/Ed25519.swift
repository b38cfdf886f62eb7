import CSodium

/// Ed25519 signatures through libsodium.
public enum Ed25519 {
    public static let publicKeyByteCount = 32
    /// libsodium's secret key: the 32-byte seed followed by the 32-byte public key.
    public static let secretKeyByteCount = 64
    public static let seedByteCount = 32
    public static let signatureByteCount = 64

    /// A key pair.
    public struct KeyPair: Sendable {
        public let publicKey: [UInt8]
        /// 64 bytes: seed || public key (libsodium's layout).
        public let secretKey: [UInt8]

        /// The 32-byte seed the key pair was derived from.
        public var seed: [UInt8] { Array(secretKey[0..<Ed25519.seedByteCount]) }

        /// Makes a new random key pair.
        public static func generate() -> KeyPair {
            Sodium.ensureReady()
            var pk = [UInt8](repeating: 0, count: publicKeyByteCount)
            var sk = [UInt8](repeating: 0, count: secretKeyByteCount)
            precondition(crypto_sign_keypair(&pk, &sk) == 0)
            return KeyPair(publicKey: pk, secretKey: sk)
        }

        /// Derives the key pair from a 32-byte seed. Returns nil if the seed has the wrong length.
        public init?(seed: [UInt8]) {
            guard seed.count == seedByteCount else { return nil }
            Sodium.ensureReady()
            var pk = [UInt8](repeating: 0, count: publicKeyByteCount)
            var sk = [UInt8](repeating: 0, count: secretKeyByteCount)
            precondition(crypto_sign_seed_keypair(&pk, &sk, seed) == 0)
            self.init(publicKey: pk, secretKey: sk)
        }

        /// Accepts libsodium's 64-byte secret key; checks that it embeds the public key it derives.
        public init?(secretKey: [UInt8]) {
            guard secretKey.count == secretKeyByteCount,
                let derived = KeyPair(seed: Array(secretKey[0..<seedByteCount])),
                derived.publicKey == Array(secretKey[seedByteCount...])
            else { return nil }
            self = derived
        }

        private init(publicKey: [UInt8], secretKey: [UInt8]) {
            self.publicKey = publicKey
            self.secretKey = secretKey
        }

        /// Signs a message (detached signature, 64 bytes).
        public func sign<Message: Collection>(_ message: Message) -> [UInt8] where Message.Element == UInt8 {
            Sodium.ensureReady()
            let bytes = Array(message)
            var signature = [UInt8](repeating: 0, count: signatureByteCount)
            precondition(
                crypto_sign_detached(&signature, nil, bytes, UInt64(bytes.count), secretKey) == 0
            )
            return signature
        }
    }

    /// Verifies a detached signature. Returns false for any malformed key or signature.
    public static func verify<Message: Collection>(
        signature: [UInt8],
        message: Message,
        publicKey: [UInt8]
    ) -> Bool where Message.Element == UInt8 {
        guard signature.count == signatureByteCount, publicKey.count == publicKeyByteCount else { return false }
        Sodium.ensureReady()
        let bytes = Array(message)
        return crypto_sign_verify_detached(signature, bytes, UInt64(bytes.count), publicKey) == 0
    }
}

// Printing or dumping a key pair shows only its public half: the secret never reaches a log by accident.
extension Ed25519.KeyPair: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "Ed25519.KeyPair(publicKey: \(Hex.encode(publicKey)))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["publicKey": Hex.encode(publicKey)]) }
}
