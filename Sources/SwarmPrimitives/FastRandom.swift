/// A small, fast pseudo-random generator (SplitMix64), seeded once from the system's generator or with a fixed seed.
///
/// The engine's picker breaks ties between equally rare pieces at random for every piece it considers; with
/// `SystemRandomNumberGenerator` that was one `getrandom` system call per piece scanned (a million calls for a 1 GiB
/// torrent of 1 MiB pieces). The tracker picks which peers to return with it. Both need unpredictability across
/// peers, not cryptographic strength: never use it for keys, nonces or tokens.
public struct FastRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator seeded from the system's random source.
    public init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    /// A generator with a fixed seed (reproducible sequences for tests).
    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
