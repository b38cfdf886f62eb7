/// A token bucket for rate limits: `rate` bytes (or events: ``takeIfAvailable(_:at:)``) per second, up to `burst` at
/// once.
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
        refill(at: now, rate: rate)
        tokens -= Double(bytes)
        return tokens >= 0 ? 0 : -tokens / rate
    }

    /// Takes `amount` at time `now` only if the bucket holds that much (it never goes into debt): for a budget of
    /// events rather than bytes, where what does not fit waits for a later call. Always true without a rate.
    public mutating func takeIfAvailable(_ amount: Int, at now: Double) -> Bool {
        guard let rate, rate > 0 else { return true }
        refill(at: now, rate: rate)
        guard tokens >= Double(amount) else { return false }
        tokens -= Double(amount)
        return true
    }

    private mutating func refill(at now: Double, rate: Double) {
        if let last { tokens = min(burst, tokens + (now - last) * rate) }
        last = now
    }
}
