import CSodium

/// Initialises libsodium once per process; every entry point in this module calls it.
enum Sodium {
    static let ready: Bool = {
        // sodium_init returns 0 on success, 1 when already initialised, -1 on failure.
        sodium_init() >= 0
    }()

    static func ensureReady() {
        precondition(ready, "libsodium failed to initialise")
    }
}

/// Cryptographically secure random bytes (libsodium's `randombytes_buf`).
public func secureRandomBytes(_ count: Int) -> [UInt8] {
    Sodium.ensureReady()
    var out = [UInt8](repeating: 0, count: count)
    if count > 0 { out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) } }
    return out
}

/// Compares two byte sequences in time that depends only on their length.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    Sodium.ensureReady()
    if a.isEmpty { return true }
    return a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in sodium_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 } }
}
