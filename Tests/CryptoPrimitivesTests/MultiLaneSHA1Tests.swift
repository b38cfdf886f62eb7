import Testing

@testable import CryptoPrimitives

struct MultiLaneSHA1Tests {
    /// Deterministic bytes (xorshift), different for each message.
    static func message(_ index: Int, length: Int) -> [UInt8] {
        var state = UInt64(0x9E37_79B9_7F4A_7C15) &* UInt64(index + 1)
        return (0..<length).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    /// Lengths around SHA-1's 64-byte block and 56-byte padding boundary, and piece sizes.
    static let lengths = [0, 1, 55, 56, 63, 64, 65, 119, 120, 16_384, 262_144 + 7]

    /// Separate buffers, one to five of them (pairs, an odd one), both with and without the SHA extensions, agree
    /// with OpenSSL's SHA-1 of each message.
    @Test(arguments: lengths)
    func separateMessagesMatchOpenSSL(length: Int) {
        for count in 1...5 {
            let messages = (0..<count).map { Self.message($0, length: length) }
            let expected = messages.flatMap { DigestAlgorithm.sha1.hash($0) }
            for useSHAExtensions in [false, MultiLaneSHA1.hasSHAExtensions] {
                var digests = [UInt8](repeating: 0, count: 20 * count)
                withPointers(messages) { pointers in
                    digests.withUnsafeMutableBytes {
                        MultiLaneSHA1.hash(pointers, into: $0, useSHAExtensions: useSHAExtensions)
                    }
                }
                #expect(digests == expected, "length \(length), \(count) messages, SHA-NI \(useSHAExtensions)")
            }
        }
    }

    /// Consecutive messages in one buffer (groups of four, two and one) agree with OpenSSL, both paths.
    @Test(arguments: lengths)
    func consecutiveMessagesMatchOpenSSL(length: Int) {
        for count in 1...7 {
            let messages = (0..<count).map { Self.message($0, length: length) }
            let joined: [UInt8] = Array(messages.joined()) + [0xAB]  // a trailing byte that is not part of any message
            let expected = messages.flatMap { DigestAlgorithm.sha1.hash($0) }
            for useSHAExtensions in [false, MultiLaneSHA1.hasSHAExtensions] {
                var digests = [UInt8](repeating: 0, count: 20 * count)
                joined.withUnsafeBytes { base in
                    digests.withUnsafeMutableBytes {
                        MultiLaneSHA1.hash(
                            consecutive: base, length: length, count: count, into: $0,
                            useSHAExtensions: useSHAExtensions)
                    }
                }
                #expect(digests == expected, "length \(length), \(count) messages, SHA-NI \(useSHAExtensions)")
            }
        }
    }

    @Test func oneMessageMatchesOpenSSL() {
        let message = Self.message(3, length: 1 << 20)
        #expect(message.withUnsafeBytes { MultiLaneSHA1.hash($0) } == DigestAlgorithm.sha1.hash(message))
        print("MultiLaneSHA1Tests: SHA extensions on this CPU: \(MultiLaneSHA1.hasSHAExtensions)")
    }

    private func withPointers(_ messages: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) -> Void) {
        var pointers: [UnsafeRawBufferPointer] = []
        func next(_ index: Int) {
            guard index < messages.count else { return body(pointers) }
            messages[index].withUnsafeBytes { raw in
                pointers.append(raw)
                next(index + 1)
            }
        }
        next(0)
    }
}
