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
enum AlignedAllocator {
    static let alignment = 4096

    /// Buffers from this allocator start 4 KiB-aligned (their storage; a buffer's reader index must be 0 to use it).
    static let allocator = ByteBufferAllocator(
        allocate: { size in alignedAllocate(size) },
        reallocate: { pointer, oldSize, newSize in
            let fresh = alignedAllocate(newSize)
            if let pointer {
                if let fresh { memcpy(fresh, pointer, min(oldSize, newSize)) }
                free(pointer)
            }
            return fresh
        },
        deallocate: { pointer in free(pointer) },
        copy: { destination, source, count in _ = memcpy(destination, source, count) }
    )
}

extension Storage {
    /// Allocates buffers whose storage starts 4 KiB-aligned: a whole piece gathered in one (at reader index 0) can be
    /// written with `O_DIRECT` by ``writeVerified(piece:data:on:)``.
    public static var alignedBufferAllocator: ByteBufferAllocator { AlignedAllocator.allocator }
}

/// `aligned_alloc` with the size rounded up to the alignment (as C11 requires).
private func alignedAllocate(_ size: Int) -> UnsafeMutableRawPointer? {
    let rounded = max(4096, (size + 4095) & ~4095)
    return aligned_alloc(4096, rounded)
}
