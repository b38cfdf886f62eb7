/// A token bucket for rate limits: `rate` bytes per second, up to `burst` bytes at once.
public struct TokenBucket: Sendable, Hashable {
    /// Bytes per second; nil means unlimited.
    public var rate: Double?
    public var burst: Double
    private var tokens: Double
    private var last: Double?

    public init(bytesPerSecond rate: Int?, burst: Int? = nil) {
        self.rate = rate.map(Double.init)
        let b = Double(burst ?? max(rate ?? 0, 64 << 10))
        self.burst = b
        self.tokens = b
    }

    /// Takes `bytes` at time `now` (seconds, monotonic). Returns 0 when they may go now, else how many seconds to
    /// wait; the bytes are taken in either case (the bucket goes into debt), so callers just wait and proceed.
    public mutating func take(_ bytes: Int, at now: Double) -> Double {
        guard let rate, rate > 0 else { return 0 }
        if let last { tokens = min(burst, tokens + (now - last) * rate) }
        last = now
        tokens -= Double(bytes)
        return tokens >= 0 ? 0 : -tokens / rate
    }
}
