import NIOCore

/// Upload read buffers whose blocks have been sent, by size, for the next reads. Sizes are powers of two from
/// 64 KiB (reads are batched up to 1 MiB); how many bytes are kept is the host's budget
/// (``HostCore/keepReadBuffer(_:for:)``).
struct ReadBufferPool {
    private var free: [Int: [ByteBuffer]] = [:]

    /// The pooled size for a read of `length` bytes.
    static func size(for length: Int) -> Int {
        var size = 64 << 10
        while size < length { size <<= 1 }
        return size
    }

    /// A free buffer of `size` bytes, if one is pooled.
    mutating func take(size: Int) -> ByteBuffer? { free[size]?.popLast() }

    /// Pools a buffer whose capacity is one of the pooled sizes.
    mutating func put(_ buffer: consuming ByteBuffer) { free[buffer.capacity, default: []].append(buffer) }

    mutating func removeAll() { free.removeAll() }
}
