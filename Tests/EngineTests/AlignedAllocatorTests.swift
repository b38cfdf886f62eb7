import NIOCore
import Testing

@testable import Engine

#if canImport(Glibc)
    import Glibc
#endif

/// The allocator of piece and read buffers keeps recently freed mappings for the next buffer of the same size.
struct AlignedAllocatorTests {
    #if os(Linux)
        /// Minor page faults of the calling thread so far.
        static func threadMinorFaults() -> Int {
            var usage = rusage()
            // RUSAGE_THREAD (1): Glibc's module hides the name (it needs _GNU_SOURCE).
            getrusage(.init(1), &usage)
            return usage.ru_minflt
        }

        /// A buffer freed, then another of its size allocated and filled: the new one gets the freed mapping, its
        /// pages already there. Before, each buffer was a fresh mapping: a page fault per 4 KiB touched, 1024 for
        /// 4 MiB. It matters when a pool cannot reuse a buffer's storage: a piece buffer the gated leech's streaming
        /// SHA-256 still holds when the session needs it for a new piece gets fresh storage, and the held storage is
        /// freed on the hashing thread a moment later (a loaded 1 GiB leech took 25-57K faults instead of ~20K).
        @Test func aFreedBufferIsMappedAgainWithItsPagesInPlace() {
            let size = 4 << 20
            var first: ByteBuffer? = Storage.alignedBufferAllocator.buffer(capacity: size)
            first!.writeRepeatingByte(1, count: size)
            let address = first!.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
            first = nil
            let before = Self.threadMinorFaults()
            var second = Storage.alignedBufferAllocator.buffer(capacity: size)
            second.writeRepeatingByte(2, count: size)
            let faults = Self.threadMinorFaults() - before
            #expect(second.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) } == address)
            #expect(faults < 64, "\(faults) page faults filling a 4 MiB buffer")
            #expect(second.getInteger(at: 0, as: UInt8.self) == 2 && second.getInteger(at: size - 1, as: UInt8.self) == 2)
        }

        /// A kept mapping nobody takes goes back to the kernel once it has been kept long enough (the sessions' ticks
        /// call ``AlignedAllocator/releaseIdle(olderThan:)``), so an idle node does not hold up to 32 MiB of them.
        @Test func keptMappingsAreUnmappedOnceIdle() {
            let size = 4 << 20
            var buffer: ByteBuffer? = Storage.alignedBufferAllocator.buffer(capacity: size)
            buffer!.writeRepeatingByte(1, count: size)
            buffer = nil
            #expect(AlignedAllocator.keptByteCount >= size)
            AlignedAllocator.releaseIdle(olderThan: 3600)
            #expect(AlignedAllocator.keptByteCount >= size, "a mapping freed just now is kept")
            AlignedAllocator.releaseIdle(olderThan: 0)
            #expect(AlignedAllocator.keptByteCount == 0)
        }
    #endif
}
