import NIOCore
import Testing

@testable import Engine

@Suite struct BufferPoolTests {
    func buffer(_ capacity: Int) -> ByteBuffer { ByteBufferAllocator().buffer(capacity: capacity) }

    @Test func cachedPiecesAreEvictedOldestFirstAndFreeBuffersGoFirstWhenDropping() {
        var pool = PieceBufferPool(bufferCapacity: 1024)
        pool.cache(buffer(1024), piece: 7)
        pool.cache(buffer(1024), piece: 3)
        pool.addFree(buffer(1024))
        #expect(pool.cachedPiece(7) != nil && pool.cachedPiece(3) != nil)
        // Dropping takes the free buffer before any cached piece.
        let droppedFree = pool.dropIdle()
        #expect(droppedFree)
        #expect(pool.cachedPiece(7) != nil)
        let evicted = pool.evictOldest()
        #expect(evicted != nil)
        #expect(pool.cachedPiece(7) == nil)
        #expect(pool.cachedPiece(3) != nil)
        let droppedCached = pool.dropIdle()
        let droppedMore = pool.dropIdle()
        #expect(droppedCached && !droppedMore)
        let free = pool.popFree()
        #expect(free == nil)
    }

    @Test(arguments: [(1, 64 << 10), (64 << 10, 64 << 10), ((64 << 10) + 1, 128 << 10), (1 << 20, 1 << 20)])
    func readBuffersComeInPowersOfTwoFrom64KiB(length: Int, size: Int) {
        #expect(ReadBufferPool.size(for: length) == size)
    }

    @Test func readBuffersArePooledBySize() {
        var pool = ReadBufferPool()
        pool.put(buffer(128 << 10))
        let other = pool.take(size: 64 << 10)
        let pooled = pool.take(size: 128 << 10)
        let again = pool.take(size: 128 << 10)
        #expect(other == nil)
        #expect(pooled?.capacity == 128 << 10)
        #expect(again == nil)
    }
}
