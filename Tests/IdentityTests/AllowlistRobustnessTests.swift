import Identity
import Testing

/// The allowlist and key-file parsers answer any input with a list or an `IdentityError`, never a crash, and in time
/// proportional to the input.
struct AllowlistRobustnessTests {
    /// A deterministic xorshift generator, so a failure reproduces.
    private struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    }

    private static let valid = Array(
        """
        # fleet
        ed25519 A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg= build host 3
        passkey abcdefghijklmnopqrstuvwxyz234567 aria2 on ci-7
        revoked ed25519 1OqEsrH0exPTzgeaKxZhUALmY2GUSG7bqE5Y6x9NgX4= old-laptop

        """.utf8
    )

    @Test func mutatedFilesParseOrFailWithALineNumber() {
        var random = Generator(state: 0x5eed_1d3a_7175_0001)
        let alphabet = Array(" \t\r\n#=+/_-aAzZ09é".utf8) + [0x00, 0xff, 0xc3]
        var parsed = 0
        var refused = 0
        for _ in 0..<3000 {
            var bytes = Self.valid
            for _ in 0..<(1 + random.below(6)) {
                let position = random.below(bytes.count)
                switch random.below(3) {
                case 0: bytes[position] = alphabet[random.below(alphabet.count)]
                case 1: bytes.remove(at: position)
                default: bytes.insert(alphabet[random.below(alphabet.count)], at: position)
                }
            }
            do {
                let list = try Allowlist(parsing: bytes, path: "fuzz")
                parsed += 1
                #expect(list.entries.count <= 3)
            } catch {
                refused += 1
                #expect(error.path == "fuzz")
                #expect(error.line != nil, "\(error)")
                #expect(!error.message.isEmpty)
            }
        }
        // Both outcomes occur, so the mutations exercise the parser rather than always breaking the first line.
        #expect(parsed > 0)
        #expect(refused > 0)
    }

    @Test func randomBytesNeverCrashTheKeyFileParser() {
        var random = Generator(state: 0xfeed_beef_0000_0002)
        for _ in 0..<500 {
            let bytes = (0..<random.below(200)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(throws: IdentityError.self) {
                try NodeKey(parsing: "swtorrent-ed25519-secret " + text, path: "k")
            }
        }
    }

    @Test func aLargeAllowlistParsesAndFindsItsEntries() throws {
        // 5,000 passkeys and 5,000 keys, each found by its own lookup.
        var text = ""
        var tokens = [String]()
        var keys = [NodePublicKey]()
        for index in 0..<5_000 {
            let token = Passkey.generate().token
            tokens.append(token)
            text += "passkey \(token) client \(index)\n"
            let seed = (0..<32).map { UInt8(truncatingIfNeeded: index >> ($0 % 3 * 8)) &+ UInt8($0) }
            let key = try NodeKey(seed: seed, name: "n").publicKey
            keys.append(key)
            text += "ed25519 \(key.base64) node \(index)\n"
        }
        let list = try Allowlist(parsing: text)
        #expect(list.activeCount == 10_000)
        let entry = try #require(list.lookup(passkey: tokens[1_234]).allowedEntry, "passkey in a large list not found")
        #expect(entry.name == "client 1234")
        let node = try #require(list.lookup(nodeKey: keys[4_999]).allowedEntry, "key in a large list not found")
        #expect(node.name == "node 4999")
    }

    @Test func oversizedInputIsRefusedUnparsed() {
        let bytes = [UInt8](repeating: UInt8(ascii: "#"), count: Allowlist.maximumFileSize + 1)
        do {
            _ = try Allowlist(parsing: bytes, path: "huge")
            Issue.record("a file over the size limit parsed")
        } catch {
            #expect(error.code == .fileTooLarge)
        }
    }
}
