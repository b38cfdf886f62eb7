import NIOCore

/// A session's piece buffers, 4 KiB-aligned and one piece long (the budget for them is the host's,
/// ``HostCore/takePieceBuffer(_:for:)``):
///
/// - **filling**: one per piece being gathered in memory, the piece at a 4 KiB-aligned offset of its buffer so it
///   can be written with `O_DIRECT`;
/// - **free**: buffers whose piece was written, ready for the next piece (no allocation, no page faults);
/// - **cached**: verified pieces still in their buffers, oldest first. Uploads of them are slices of these buffers
///   (no disk read; the pieces a leecher just announced with `have` are the ones its peers ask for). A cached
///   buffer is reused for a new piece when the budget is spent.
///
/// It also knows the pieces whose blocks go to disk one by one because no buffer was free when they started.
struct PieceBufferPool {
    /// A piece buffer being filled, and where the piece starts in it.
    struct Assembly {
        var buffer: ByteBuffer
        let base: Int
    }

    /// One buffer's capacity: the piece length (a power of two: `ByteBuffer` does not round it up).
    let bufferCapacity: Int
    /// Pieces being gathered, by index.
    var filling: [Int: Assembly] = [:]
    /// Pieces written block by block.
    var direct: Set<Int> = []
    private var free: [ByteBuffer] = []
    private var cached: [Int: ByteBuffer] = [:]
    private var cacheOrder: [Int] = []

    init(bufferCapacity: Int) {
        self.bufferCapacity = bufferCapacity
    }

    mutating func popFree() -> ByteBuffer? { free.popLast() }

    mutating func addFree(_ buffer: ByteBuffer) { free.append(buffer) }

    /// Keeps a verified piece's buffer for uploads.
    mutating func cache(_ buffer: ByteBuffer, piece: Int) {
        cached[piece] = buffer
        cacheOrder.append(piece)
    }

    /// The buffer of a verified piece still in memory.
    func cachedPiece(_ piece: Int) -> ByteBuffer? { cached[piece] }

    /// Takes the oldest verified piece out of the cache and gives its buffer (if another piece is waiting for one
    /// and blocks of it are still being sent, the buffer is copied on its first write: correct, and rare).
    mutating func evictOldest() -> ByteBuffer? {
        while !cacheOrder.isEmpty {
            let piece = cacheOrder.removeFirst()
            if let buffer = cached.removeValue(forKey: piece) { return buffer }
        }
        return nil
    }

    /// Drops one free buffer, or else the oldest cached piece; false when there is neither.
    mutating func dropIdle() -> Bool {
        free.popLast() != nil || evictOldest() != nil
    }

    /// Drops every free and cached buffer (they are unmapped when the last reference goes).
    mutating func removeIdle() {
        free.removeAll()
        cached.removeAll()
        cacheOrder.removeAll()
    }
}
