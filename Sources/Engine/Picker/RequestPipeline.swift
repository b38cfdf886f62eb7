/// How many block requests to keep outstanding with one peer, adapted to the rate it delivers at.
///
/// The depth is `rate × queueTime / blockSize`, clamped to `minimumDepth...maximumDepth`: enough requests to
/// cover `queueTime` of transfer at the measured rate, so a fast link (loopback moves hundreds of MB/s) never runs
/// dry while a slow peer is not handed blocks it would sit on. The rate is an exponentially weighted moving
/// average over 0.1 s windows (a new fast peer reaches full depth within a tenth of a second).
public struct RequestPipeline: Sendable, Hashable {
    public var minimumDepth: Int
    public var maximumDepth: Int
    /// Seconds of transfer the queue should cover.
    public var queueTime: Double
    public let blockSize: Int

    /// Bytes per second, smoothed.
    public private(set) var rate: Double = 0
    private var windowStart: Double?
    private var windowBytes = 0

    public init(minimumDepth: Int = 16, maximumDepth: Int = 500, queueTime: Double = 1.0, blockSize: Int = 16 << 10) {
        self.minimumDepth = minimumDepth
        self.maximumDepth = maximumDepth
        self.queueTime = queueTime
        self.blockSize = blockSize
    }

    /// The number of requests to keep outstanding now.
    public var depth: Int {
        let wanted = rate * queueTime / Double(blockSize)
        guard wanted.isFinite else { return maximumDepth }
        return min(maximumDepth, max(minimumDepth, Int(wanted.rounded(.up))))
    }

    /// Records `bytes` of block data received at time `now` (seconds on any monotonic clock).
    public mutating func received(_ bytes: Int, at now: Double) {
        guard let start = windowStart else {
            windowStart = now
            windowBytes = bytes
            return
        }
        windowBytes += bytes
        let elapsed = now - start
        if elapsed >= 0.1 {
            let sample = Double(windowBytes) / elapsed
            // Ramp up fast (a new fast peer should fill the pipe at once), decay slower.
            rate = sample > rate ? sample : rate * 0.6 + sample * 0.4
            windowStart = now
            windowBytes = 0
        }
    }
}
