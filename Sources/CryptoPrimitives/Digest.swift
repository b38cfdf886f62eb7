import CLibCrypto

/// A message digest computed with OpenSSL's EVP interface, which uses the CPU's SHA instructions
/// (SHA-NI, ARMv8 crypto) where the hardware has them.
public enum DigestAlgorithm: Sendable, Hashable {
    case sha1
    case sha256
    case sha512

    /// The digest length in bytes.
    public var byteCount: Int {
        switch self {
        case .sha1: 20
        case .sha256: 32
        case .sha512: 64
        }
    }

    var evp: OpaquePointer {
        switch self {
        case .sha1: EVP_sha1()
        case .sha256: EVP_sha256()
        case .sha512: EVP_sha512()
        }
    }

    /// Hashes `bytes` in one call.
    public func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: byteCount)
        var length: UInt32 = 0
        let ok = out.withUnsafeMutableBufferPointer { outBuffer in
            EVP_Digest(bytes.baseAddress, bytes.count, outBuffer.baseAddress, &length, evp, nil)
        }
        precondition(ok == 1 && Int(length) == byteCount, "EVP_Digest failed")
        return out
    }

    /// Hashes a byte collection in one call.
    public func hash<Bytes: Collection>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        if let result = bytes.withContiguousStorageIfAvailable({ hash(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(bytes).withUnsafeBytes { hash($0) }
    }
}

/// An incremental digest: feed it any number of chunks, then take the result once.
///
/// Not `Sendable`: one hasher belongs to one task at a time.
public final class IncrementalDigest {
    public let algorithm: DigestAlgorithm
    private let context: OpaquePointer
    private var finished = false

    /// Starts a new digest.
    public init(_ algorithm: DigestAlgorithm) {
        self.algorithm = algorithm
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        self.context = context
        precondition(EVP_DigestInit_ex(context, algorithm.evp, nil) == 1, "EVP_DigestInit_ex failed")
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds bytes to the digest.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "IncrementalDigest.update after finalize")
        guard bytes.count > 0 else { return }
        precondition(EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1, "EVP_DigestUpdate failed")
    }

    /// Adds a byte collection to the digest.
    public func update<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        if bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { update($0) }
        }
    }

    /// Returns the digest. The hasher cannot be used afterwards.
    public func finalize() -> [UInt8] {
        precondition(!finished, "IncrementalDigest.finalize called twice")
        finished = true
        var out = [UInt8](repeating: 0, count: algorithm.byteCount)
        var length: UInt32 = 0
        let ok = out.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        precondition(ok == 1, "EVP_DigestFinal_ex failed")
        return out
    }
}

@available(*, unavailable)
extension IncrementalDigest: Sendable {}
