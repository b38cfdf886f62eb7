import CSodium

/// Incremental BLAKE2b (libsodium's `crypto_generichash`), as minisign's prehashed mode uses.
public final class BLAKE2b {
    public let outputByteCount: Int
    // The state is 64-byte aligned in C, which Swift imports as opaque: keep it in aligned heap memory.
    private let state: UnsafeMutableRawPointer
    private var finished = false

    /// Starts a digest of `outputByteCount` bytes (16...64; minisign uses 64), optionally keyed.
    public init(outputByteCount: Int = 64, key: [UInt8] = []) {
        precondition((16...64).contains(outputByteCount), "BLAKE2b output length must be 16...64")
        Sodium.ensureReady()
        self.outputByteCount = outputByteCount
        state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        let rc = key.withUnsafeBufferPointer {
            crypto_generichash_init(OpaquePointer(state), key.isEmpty ? nil : $0.baseAddress, key.count, outputByteCount)
        }
        precondition(rc == 0, "crypto_generichash_init failed")
    }

    deinit { state.deallocate() }

    /// Adds bytes.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished)
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        precondition(
            crypto_generichash_update(OpaquePointer(state), base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count)) == 0
        )
    }

    /// Adds a byte collection.
    public func update<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        Array(bytes).withUnsafeBytes { update($0) }
    }

    /// Returns the digest; the hasher cannot be used afterwards.
    public func finalize() -> [UInt8] {
        precondition(!finished)
        finished = true
        var out = [UInt8](repeating: 0, count: outputByteCount)
        precondition(crypto_generichash_final(OpaquePointer(state), &out, outputByteCount) == 0)
        return out
    }

    /// One-shot BLAKE2b.
    public static func hash<Bytes: Collection>(_ bytes: Bytes, outputByteCount: Int = 64) -> [UInt8]
    where Bytes.Element == UInt8 {
        let hasher = BLAKE2b(outputByteCount: outputByteCount)
        hasher.update(bytes)
        return hasher.finalize()
    }
}

@available(*, unavailable)
extension BLAKE2b: Sendable {}
