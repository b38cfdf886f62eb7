@_spi(CustomByteBufferAllocator) import NIOCore

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
enum AlignedAllocator {
    static let alignment = 4096

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

/// `size` bytes (rounded up to pages) after a header page that records the mapping's length.
private func mappedAllocate(_ size: Int) -> UnsafeMutableRawPointer? {
    let total = ((max(size, 1) + 4095) & ~4095) + 4096
    guard let base = mmap(nil, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
        base != UnsafeMutableRawPointer(bitPattern: -1)
    else { return nil }
    base.storeBytes(of: total, as: Int.self)
    return base + 4096
}

private func mappedFree(_ pointer: UnsafeMutableRawPointer) {
    let base = pointer - 4096
    munmap(base, base.load(as: Int.self))
}
