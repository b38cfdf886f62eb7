import CSHA1NI

/// SHA-1 of several messages of the same length at once, on the CPU's SHA unit where it has one.
///
/// One SHA-1 is a chain of dependent `SHA1RNDS4` instructions that leaves the SHA unit idle most of the time, so two
/// or four independent messages hashed in lock-step (`CSHA1NI`) run about 1.7 or 2.2 times as fast on one core as a
/// single stream. BitTorrent v1 piece hashes are exactly that workload: `make` hashes whole pieces four at a time,
/// the engine verifies two received pieces of the same length together. Without the SHA extensions (or on another
/// architecture) every message is hashed on its own with OpenSSL, with the same results.
public enum MultiLaneSHA1 {
    /// Whether this CPU has the SHA extensions (with SSSE3 and SSE4.1) that the interleaved lanes need.
    public static let hasSHAExtensions = swt_sha1ni_available() != 0

    /// The SHA-1 digest length in bytes.
    public static let digestByteCount = 20

    /// SHA-1 of one message (the SHA extensions where present, else OpenSSL).
    public static func hash(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: digestByteCount)
        digest.withUnsafeMutableBytes { hash([message], into: $0, useSHAExtensions: hasSHAExtensions) }
        return digest
    }

    /// SHA-1 of each of `messages`, which must all have the same length, into `digests` (20 bytes per message, in
    /// order): pairs in lock-step on the SHA unit, an odd one alone.
    /// - Precondition: the messages have one length, and `digests` holds 20 × `messages.count` bytes.
    public static func hash(_ messages: [UnsafeRawBufferPointer], into digests: UnsafeMutableRawBufferPointer) {
        hash(messages, into: digests, useSHAExtensions: hasSHAExtensions)
    }

    /// SHA-1 of `count` consecutive messages of `length` bytes each starting at `base` (the whole pieces of a read
    /// buffer), into `digests` (20 × `count` bytes): groups of four, then two, then one, on the SHA unit.
    /// - Precondition: `base` holds at least `count` × `length` bytes and `digests` 20 × `count`.
    public static func hash(
        consecutive base: UnsafeRawBufferPointer, length: Int, count: Int, into digests: UnsafeMutableRawBufferPointer
    ) {
        hash(consecutive: base, length: length, count: count, into: digests, useSHAExtensions: hasSHAExtensions)
    }

    // The implementations take `useSHAExtensions` so the tests can check both paths against each other.

    static func hash(
        _ messages: [UnsafeRawBufferPointer], into digests: UnsafeMutableRawBufferPointer, useSHAExtensions: Bool
    ) {
        precondition(digests.count >= digestByteCount * messages.count, "room for \(messages.count) digests")
        let length = messages.first?.count ?? 0
        precondition(messages.allSatisfy { $0.count == length }, "multi-lane SHA-1 needs messages of one length")
        let out = digests.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard useSHAExtensions, length > 0 else {
            for (index, message) in messages.enumerated() { scalar(message, into: out + index * digestByteCount) }
            return
        }
        var index = 0
        while index + 1 < messages.count {
            swt_sha1ni_x2(
                pointer(messages[index]), pointer(messages[index + 1]), length, out + index * digestByteCount,
                out + (index + 1) * digestByteCount)
            index += 2
        }
        if index < messages.count {
            swt_sha1ni(pointer(messages[index]), length, out + index * digestByteCount)
        }
    }

    static func hash(
        consecutive base: UnsafeRawBufferPointer, length: Int, count: Int, into digests: UnsafeMutableRawBufferPointer,
        useSHAExtensions: Bool
    ) {
        precondition(base.count >= length * count, "\(count) messages of \(length) bytes")
        precondition(digests.count >= digestByteCount * count, "room for \(count) digests")
        let out = digests.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard useSHAExtensions, length > 0 else {
            for index in 0..<count {
                scalar(UnsafeRawBufferPointer(rebasing: base[(index * length)..<((index + 1) * length)]),
                    into: out + index * digestByteCount)
            }
            return
        }
        let first = pointer(base)
        var index = 0
        while index + 4 <= count {
            swt_sha1ni_x4(first + index * length, length, out + index * digestByteCount)
            index += 4
        }
        if index + 2 <= count {
            swt_sha1ni_x2(
                first + index * length, first + (index + 1) * length, length, out + index * digestByteCount,
                out + (index + 1) * digestByteCount)
            index += 2
        }
        if index < count {
            swt_sha1ni(first + index * length, length, out + index * digestByteCount)
        }
    }

    private static func pointer(_ buffer: UnsafeRawBufferPointer) -> UnsafePointer<UInt8> {
        buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
    }

    private static func scalar(_ message: UnsafeRawBufferPointer, into digest: UnsafeMutablePointer<UInt8>) {
        let bytes = DigestAlgorithm.sha1.hash(message)
        for index in 0..<digestByteCount { digest[index] = bytes[index] }
    }
}
