import Identity
import Testing

struct AllowlistTests {
    static let keyA = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
    static let keyB = "1OqEsrH0exPTzgeaKxZhUALmY2GUSG7bqE5Y6x9NgX4="
    static let passA = "abcdefghijklmnopqrstuvwxyz234567"
    static let passB = "Zm9vYmFyYmF6cXV4LV9mb29iYXI"

    @Test func parsesEntriesCommentsAndBlankLines() throws {
        let text = """
            # fleet allowlist
              # indented comment

            ed25519 \(Self.keyA) build host 3 (rack 4)
            passkey\t\(Self.passA)\taria2 on ci-7\r
            revoked ed25519 \(Self.keyB) old-laptop
            revoked passkey \(Self.passB) leaked token
            """
        let list = try Allowlist(parsing: text, path: "fleet.allow")
        #expect(list.entries.count == 4)
        #expect(list.activeCount == 2)
        #expect(list.revokedCount == 2)
        #expect(list.entries.map(\.name) == ["build host 3 (rack 4)", "aria2 on ci-7", "old-laptop", "leaked token"])
        #expect(list.entries.map(\.line) == [4, 5, 6, 7])

        let a = try #require(
            list.lookup(nodeKey: NodePublicKey(base64: Self.keyA)!).allowedEntry,
            "listed key not allowed")
        #expect(a.name == "build host 3 (rack 4)")
        let b = try #require(
            list.lookup(nodeKey: NodePublicKey(base64: Self.keyB)!).revokedEntry,
            "revoked key not reported revoked")
        #expect(b.status == .revokedInFile)
        let p = try #require(list.lookup(passkey: Self.passA).allowedEntry, "listed passkey not allowed")
        #expect(p.name == "aria2 on ci-7")
        #expect(list.lookup(passkey: Self.passB).revokedEntry != nil, "revoked passkey not reported revoked")
    }

    @Test func unknownCredentialsAreUnknown() throws {
        let list = try Allowlist(parsing: "ed25519 \(Self.keyA) a\npasskey \(Self.passA) p\n")
        #expect(list.lookup(nodeKey: NodePublicKey(base64: Self.keyB)!).isUnknown, "unlisted key not unknown")
        for guess in [String(Self.passA.dropLast()) + "8", String(Self.passA.dropLast()), Self.passA + "a", "", "x"] {
            #expect(list.lookup(passkey: guess).isUnknown, "near-miss passkey \(guess) accepted")
        }
        #expect(list.lookup(passkey: String(repeating: "a", count: 10_000)).isUnknown, "oversized passkey accepted")
        #expect(Allowlist().lookup(passkey: Self.passA).isUnknown, "empty allowlist allowed a passkey")
    }

    @Test(arguments: [
        ("rsa \(keyA) host", 1, "unknown entry type \"rsa\""),
        ("ed25519 \(keyA)", 1, "missing name"),
        ("ed25519", 1, "needs a key and a name"),
        ("revoked", 1, "`revoked` needs an entry"),
        ("ed25519 AAAA host", 1, "not 32 bytes of padded base64"),
        ("ed25519 A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg host", 1, "padded base64"),
        ("ed25519 A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbh= host", 1, "padded base64"),
        ("# ok\n\npasskey short host", 3, "at least 22 characters"),
        ("passkey abcdefghijklmnopqrstuvwxyz+/ host", 1, "URL-safe characters"),
        ("passkey \(String(repeating: "a", count: 129)) host", 1, "at most 128"),
        ("ed25519 \(keyA) a\u{7}bell", 1, "control character"),
        ("ed25519 \(keyA) \(String(repeating: "n", count: 201))", 1, "the limit is 200"),
        ("ed25519 \(keyA) a\ned25519 \(keyA) b", 2, "duplicate ed25519 key: already listed on line 1 as \"a\""),
        ("passkey \(passA) a\nrevoked passkey \(passA) b", 2, "duplicate passkey"),
        ("ed25519 \(keyA) a\nrevoked ed25519 \(keyA) a", 2, "duplicate ed25519 key"),
        ("ed25519 \(keyA) \(String(repeating: "x", count: 4100))", 1, "the limit is 4096"),
    ] as [(String, Int, String)])
    func parseErrorsNameTheLineAndTheProblem(text: String, line: Int, expected: String) {
        do {
            _ = try Allowlist(parsing: text, path: "nodes.allow")
            Issue.record("parsed: \(text.prefix(60))")
        } catch {
            #expect(error.line == line)
            #expect(error.path == "nodes.allow")
            #expect(error.description.hasPrefix("nodes.allow:\(line): "), "\(error)")
            #expect(error.description.contains(expected), "\(error)")
        }
    }

    @Test func parseErrorsQuoteTheLineButNeverAPasskey() {
        do {
            _ = try Allowlist(parsing: "passkey \(Self.passA)")
            Issue.record("a passkey line without a name parsed")
        } catch {
            #expect(error.code == .invalidName)
            #expect(error.description.contains("passkey <redacted>"), "\(error)")
            #expect(!error.description.contains(Self.passA))
        }
        do {
            _ = try Allowlist(parsing: "ed25519 AAAA some host")
            Issue.record("a bad key parsed")
        } catch {
            #expect(error.description.contains("(in \"ed25519 AAAA some host\")"), "\(error)")
        }
    }

    @Test func invalidUTF8IsAParseError() {
        var bytes = Array("# fine\n".utf8)
        bytes += [0x65, 0xff, 0x0a]
        #expect(throws: IdentityError.self) { try Allowlist(parsing: bytes, path: "x") }
    }

    @Test func removedEntriesAreRevokedAfterAReloadUntilListedAgain() throws {
        let before = try Allowlist(parsing: "ed25519 \(Self.keyA) a\npasskey \(Self.passA) p\n")
        let after = try Allowlist(parsing: "ed25519 \(Self.keyB) b\n").carryingRevocations(from: before)
        let keyA = NodePublicKey(base64: Self.keyA)!
        let entry = try #require(after.lookup(nodeKey: keyA).revokedEntry, "removed key not revoked after reload")
        #expect(entry.status == .removedOnReload)
        #expect(entry.name == "a")
        #expect(entry.line == nil)
        #expect(after.lookup(passkey: Self.passA).revokedEntry != nil, "removed passkey not revoked after reload")
        #expect(Set(after.revokedSince(before).map(\.name)) == ["a", "p"])
        #expect(after.revokedSince(after).isEmpty)

        // A second reload without the key keeps it revoked.
        let later = try Allowlist(parsing: "ed25519 \(Self.keyB) b\n").carryingRevocations(from: after)
        #expect(later.lookup(nodeKey: keyA).revokedEntry != nil, "removed key forgotten after a second reload")
        // Listing it again makes it active.
        let readded = try Allowlist(parsing: "ed25519 \(Self.keyA) a-again\n").carryingRevocations(from: later)
        let again = try #require(readded.lookup(nodeKey: keyA).allowedEntry, "re-added key not allowed")
        #expect(again.name == "a-again")
        #expect(
            readded.lookup(nodeKey: NodePublicKey(base64: Self.keyB)!).revokedEntry != nil,
            "key B, removed in the last reload, not revoked")
    }

    @Test func credentialsCanBeRecheckedAfterAReload() throws {
        let before = try Allowlist(parsing: "passkey \(Self.passA) p\n")
        let entry = try #require(before.lookup(passkey: Self.passA).allowedEntry, "passkey not allowed")
        let after = try Allowlist(parsing: "# empty now\n").carryingRevocations(from: before)
        #expect(
            after.status(of: entry.credential).revokedEntry != nil,
            "remembered credential not revoked after reload")
        #expect(!entry.description.contains(Self.passA))
        #expect(!"\(entry.credential)".contains(Self.passA))
    }

    @Test func generatedPasskeysAreValidDistinctAndLongEnough() throws {
        var seen = Set<String>()
        for _ in 0..<100 {
            let passkey = Passkey.generate()
            #expect(passkey.token.count == 32)
            #expect(passkey.token.utf8.allSatisfy { "abcdefghijklmnopqrstuvwxyz234567".utf8.contains($0) })
            #expect(Passkey(token: passkey.token) == passkey)
            seen.insert(passkey.token)
        }
        #expect(seen.count == 100)
        let line = "passkey \(Passkey.generate().token) aria2 on ci-7"
        #expect(try Allowlist(parsing: line).activeCount == 1)
        #expect("\(Passkey.generate())" == "passkey(<redacted>)")
    }
}
