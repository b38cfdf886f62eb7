@_spi(CustomByteBufferAllocator) import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A `ByteBufferAllocator` whose buffers start on a 4 KiB boundary, as `O_DIRECT` wants.
///
/// `ByteBuffer` rounds capacities up to a power of two; a piece buffer of exactly the piece length (a power of two)
/// is therefore one piece, not twice that as it would be with room added for aligning the start by hand.
///
/// Each buffer is its own anonymous `mmap` (page-aligned), with one page in front recording its length, and goes back
/// to the kernel with `munmap` when freed: a session's pooled piece and read buffers leave the process's resident
/// set when the session ends, instead of lingering in the malloc heap. There are few of them (they are pooled), so
/// the system calls cost nothing measurable.
///
/// The most recently freed mappings, up to ``keptBytes`` in all, are kept and handed out again for the next buffer
/// of the same size, pages already touched: no page fault per 4 KiB. That is for storage the pools themselves cannot
/// reuse: a piece buffer the gated leech's streaming SHA-256 still holds when the session needs it for a new piece
/// gets fresh storage (`ByteBuffer.clear()`), and the held one is freed on the hashing thread a moment later. A kept
/// mapping nobody took within ``keptSeconds`` is unmapped (``releaseIdle()``, from the sessions' ticks), so an idle
/// node does not hold them.
enum AlignedAllocator {
    static let alignment = 4096
    /// The most freed mappings kept for reuse, in bytes (the oldest are unmapped first): as much as the gated leech's
    /// streaming SHA-256 holds at most (its 32 MiB window), so the storage it lets go of when it catches up is all
    /// reused (with 16 MiB, a leecher whose hasher lagged took 44-66K page faults per GiB instead of 34-35K).
    static let keptBytes = 32 << 20
    /// How long a freed mapping is kept for reuse at most.
    static let keptSeconds: UInt64 = 10

    /// Unmaps the kept mappings freed more than `seconds` ago. Cheap when nothing is due: sessions call it every tick.
    static func releaseIdle(olderThan seconds: UInt64 = keptSeconds) {
        let now = monotonicNanoseconds()
        let limit = seconds * 1_000_000_000
        let unmap = keptMappings.withLock { kept -> [(base: UInt, total: Int, freedAt: UInt64)] in
            guard let first = kept.mappings.first, now &- first.freedAt >= limit else { return [] }
            // Oldest first: the due ones are a prefix.
            let due = kept.mappings.prefix { now &- $0.freedAt >= limit }
            kept.mappings.removeFirst(due.count)
            kept.bytes -= due.reduce(0) { $0 + $1.total }
            return Array(due)
        }
        for mapping in unmap { munmap(UnsafeMutableRawPointer(bitPattern: mapping.base), mapping.total) }
    }

    /// The bytes of freed mappings kept now.
    static var keptByteCount: Int { keptMappings.withLock { $0.bytes } }

    /// Buffers from this allocator start 4 KiB-aligned (their storage; a buffer's reader index must be 0 to use it).
    static let allocator = ByteBufferAllocator(
        allocate: { size in mappedAllocate(size) },
        reallocate: { pointer, oldSize, newSize in
            let fresh = mappedAllocate(newSize)
            if let pointer {
                if let fresh { memcpy(fresh, pointer, min(oldSize, newSize)) }
                mappedFree(pointer)
            }
            return fresh
        },
        deallocate: { pointer in mappedFree(pointer) },
        copy: { destination, source, count in _ = memcpy(destination, source, count) }
    )
}

extension Storage {
    /// Allocates buffers whose storage starts 4 KiB-aligned: a whole piece gathered in one (at reader index 0) can be
    /// written with `O_DIRECT` by ``writeVerified(piece:data:on:)``.
    public static var alignedBufferAllocator: ByteBufferAllocator { AlignedAllocator.allocator }
}

/// Freed mappings kept for reuse (``AlignedAllocator/keptBytes``), oldest first, by base address, length and when
/// they were freed (``monotonicNanoseconds()``).
private let keptMappings = Mutex<(mappings: [(base: UInt, total: Int, freedAt: UInt64)], bytes: Int)>(([], 0))

private func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// `size` bytes (rounded up to pages) after a header page that records the mapping's length: a kept mapping of that
/// length if there is one, else a new one.
private func mappedAllocate(_ size: Int) -> UnsafeMutableRawPointer? {
    let total = ((max(size, 1) + 4095) & ~4095) + 4096
    let kept = keptMappings.withLock { kept -> UInt? in
        guard let index = kept.mappings.lastIndex(where: { $0.total == total }) else { return nil }
        kept.bytes -= total
        return kept.mappings.remove(at: index).base
    }
    if let kept, let base = UnsafeMutableRawPointer(bitPattern: kept) { return base + 4096 }
    guard let base = mmap(nil, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
        base != UnsafeMutableRawPointer(bitPattern: -1)
    else { return nil }
    base.storeBytes(of: total, as: Int.self)
    return base + 4096
}

/// Keeps the mapping for reuse, unmapping the oldest kept ones beyond ``AlignedAllocator/keptBytes`` (or this one,
/// if it alone is larger).
private func mappedFree(_ pointer: UnsafeMutableRawPointer) {
    let base = pointer - 4096
    let total = base.load(as: Int.self)
    let freedAt = monotonicNanoseconds()
    let unmap = keptMappings.withLock { kept -> [(base: UInt, total: Int, freedAt: UInt64)] in
        guard total <= AlignedAllocator.keptBytes else { return [(UInt(bitPattern: base), total, freedAt)] }
        kept.mappings.append((UInt(bitPattern: base), total, freedAt))
        kept.bytes += total
        var oldest = 0
        while kept.bytes > AlignedAllocator.keptBytes {
            kept.bytes -= kept.mappings[oldest].total
            oldest += 1
        }
        defer { kept.mappings.removeFirst(oldest) }
        return Array(kept.mappings[..<oldest])
    }
    for mapping in unmap { munmap(UnsafeMutableRawPointer(bitPattern: mapping.base), mapping.total) }
}
