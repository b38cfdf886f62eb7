import Foundation
import Identity
import Testing
import TestSupport

struct NodeKeyTests {
    private func mode(_ path: String) -> mode_t {
        var info = stat()
        #expect(stat(path, &info) == 0)
        return info.st_mode & 0o777
    }

    @Test func writesAPrivateFileWithMode0600AndAOneLinePublicFile() throws {
        let dir = try TestFiles.makeTemporaryDirectory("identity")
        defer { TestFiles.cleanup(dir) }
        let path = dir.appendingPathComponent("node.key").path
        let key = try NodeKey.generate(name: "build host 3")
        try key.write(to: path, force: false)

        #expect(mode(path) == 0o600)
        let pub = try String(contentsOfFile: path + ".pub", encoding: .utf8)
        #expect(pub == "ed25519 \(key.publicKey.base64) build host 3\n")
        let allowlist = try Allowlist(parsing: pub, path: path + ".pub")
        let entry = try #require(
            allowlist.lookup(nodeKey: key.publicKey).allowedEntry,
            ".pub line does not admit its key")
        #expect(entry.name == "build host 3")

        let loaded = try NodeKey.load(path: path)
        #expect(loaded.publicKey == key.publicKey)
        #expect(loaded.name == "build host 3")
        #expect(loaded.fingerprint == key.fingerprint)
    }

    @Test func refusesToOverwriteWithoutForceAndReplacesWithIt() throws {
        let dir = try TestFiles.makeTemporaryDirectory("identity")
        defer { TestFiles.cleanup(dir) }
        let path = dir.appendingPathComponent("node.key").path
        let first = try NodeKey.generate(name: "one")
        try first.write(to: path, force: false)
        let second = try NodeKey.generate(name: "two")
        do {
            try second.write(to: path, force: false)
            Issue.record("overwrote a key without force")
        } catch {
            #expect(error.code == .fileExists)
            #expect(error.description.contains("refusing to overwrite"))
            #expect(!error.description.contains("--"), "a library error names no CLI flag: \(error)")
        }
        #expect(try NodeKey.load(path: path).publicKey == first.publicKey)

        // Only the .pub exists: still refused, and the private key is not written.
        try FileManager.default.removeItem(atPath: path)
        #expect(throws: IdentityError.self) { try second.write(to: path, force: false) }
        #expect(!FileManager.default.fileExists(atPath: path))

        try second.write(to: path, force: true)
        #expect(try NodeKey.load(path: path).publicKey == second.publicKey)
        #expect(mode(path) == 0o600)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o660, 0o700 | 0o004])
    func refusesAKeyFileOthersCanRead(permissions: Int) throws {
        let dir = try TestFiles.makeTemporaryDirectory("identity")
        defer { TestFiles.cleanup(dir) }
        let path = dir.appendingPathComponent("node.key").path
        try NodeKey.generate(name: "n").write(to: path, force: false)
        #expect(chmod(path, mode_t(permissions)) == 0)
        do {
            _ = try NodeKey.load(path: path)
            Issue.record("loaded a key with mode \(String(permissions, radix: 8))")
        } catch {
            #expect(error.code == .insecurePermissions)
            #expect(error.description.contains("chmod 600 \(path)"), "\(error)")
            #expect(error.description.contains("0\(String(permissions, radix: 8))"), "\(error)")
        }
        #expect(chmod(path, 0o600) == 0)
        #expect(throws: Never.self) { try NodeKey.load(path: path) }
    }

    @Test(arguments: [
        ("", "no key line found"),
        ("# only a comment\n", "no key line found"),
        ("ed25519 A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg= x\n", "not a swtorrent private key line"),
        ("swtorrent-ed25519-secret AAAA n\n", "the seed is not 32 bytes"),
        ("swtorrent-ed25519-secret AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "the name is empty"),
        (
            "swtorrent-ed25519-secret AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= a\n"
                + "swtorrent-ed25519-secret AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= b\n",
            "a second key line (the first is line 1)"
        ),
    ])
    func malformedKeyFilesAreRefusedWithTheReason(text: String, expected: String) throws {
        let dir = try TestFiles.makeTemporaryDirectory("identity")
        defer { TestFiles.cleanup(dir) }
        let path = dir.appendingPathComponent("bad.key").path
        let created = FileManager.default.createFile(
            atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]
        )
        #expect(created)
        do {
            _ = try NodeKey.load(path: path)
            Issue.record("loaded a malformed key file")
        } catch {
            #expect(error.path == path)
            #expect(error.description.contains(expected), "\(error)")
        }
    }

    @Test func theDocumentedKeyFileLoads() throws {
        let text = "swtorrent-ed25519-secret AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= vector-node\n"
        let key = try NodeKey(parsing: text, path: "vector.key")
        #expect(key.publicKey.base64 == Vector.publicKeyBase64)
        #expect(key.fingerprint == Vector.fingerprint)
        // What write() produces parses back to the same key.
        #expect(try NodeKey(parsing: key.secretFileContents, path: "x").publicKey == key.publicKey)
        #expect(key.allowlistLine == "ed25519 \(Vector.publicKeyBase64) vector-node")
    }

    @Test func missingAndNonRegularFilesAreNamed() throws {
        do {
            _ = try NodeKey.load(path: "/nonexistent/node.key")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.code == .fileNotFound)
            #expect(error.description.hasPrefix("/nonexistent/node.key: "))
        }
        let dir = try TestFiles.makeTemporaryDirectory("identity")
        defer { TestFiles.cleanup(dir) }
        #expect(chmod(dir.path, 0o700) == 0)
        do {
            _ = try NodeKey.load(path: dir.path)
            Issue.record("loaded a directory")
        } catch {
            #expect(error.code == .notARegularFile)
        }
    }

    @Test func namesAreValidated() {
        #expect(throws: IdentityError.self) { try NodeKey.generate(name: "") }
        #expect(throws: IdentityError.self) { try NodeKey.generate(name: "tab\there") }
        #expect(throws: IdentityError.self) { try NodeKey.generate(name: " padded") }
        #expect(throws: Never.self) { try NodeKey.generate(name: "ünïcode host 7") }
    }

    @Test func fingerprintsLookLikeOpenSSHs() throws {
        let key = try NodeKey.generate(name: "n")
        #expect(key.fingerprint.hasPrefix("SHA256:"))
        #expect(key.fingerprint.count == 7 + 43)
        #expect(!key.fingerprint.hasSuffix("="))
    }
}

struct FingerprintListingTests {
    @Test func listsPrivateKeysPublicFilesAndAllowlists() throws {
        let dir = try TestFiles.makeTemporaryDirectory("fingerprints")
        defer { TestFiles.cleanup(dir) }
        let path = dir.appendingPathComponent("node.key").path
        let key = try NodeKey(seed: Vector.seed, name: "vector-node")
        try key.write(to: path, force: false)
        #expect(try Fingerprints.lines(ofFileAt: path) == ["\(Vector.fingerprint) vector-node"])
        #expect(try Fingerprints.lines(ofFileAt: path + ".pub") == ["\(Vector.fingerprint) vector-node"])

        let allowlist = dir.appendingPathComponent("allowlist").path
        let text = """
            # fleet
            ed25519 \(Vector.publicKeyBase64) vector-node
            passkey abcdefghijklmnopqrstuvwxyz234567 aria2 on ci-7
            revoked ed25519 1OqEsrH0exPTzgeaKxZhUALmY2GUSG7bqE5Y6x9NgX4= old laptop

            """
        #expect(FileManager.default.createFile(atPath: allowlist, contents: Data(text.utf8)))
        let lines = try Fingerprints.lines(ofFileAt: allowlist)
        #expect(lines.count == 3)
        #expect(lines[0] == "\(Vector.fingerprint) vector-node")
        #expect(lines[1] == "passkey <redacted> aria2 on ci-7")
        #expect(lines[2].hasPrefix("SHA256:") && lines[2].hasSuffix(" old laptop (revoked, line 4)"))
    }

    @Test func aWideOpenPrivateKeyIsRefusedHereToo() throws {
        let dir = try TestFiles.makeTemporaryDirectory("fingerprints")
        defer { TestFiles.cleanup(dir) }
        let path = dir.appendingPathComponent("node.key").path
        try NodeKey.generate(name: "n").write(to: path, force: false)
        #expect(chmod(path, 0o644) == 0)
        do {
            _ = try Fingerprints.lines(ofFileAt: path)
            Issue.record("listed a private key that others can read")
        } catch {
            #expect(error.code == .insecurePermissions)
        }
    }
}

struct NodeKeySecrecyTests {
    @Test func printingAKeyNeverShowsTheSecret() throws {
        let key = try NodeKey(seed: Vector.seed, name: "vector-node")
        let seedBase64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        var dumped = ""
        dump(key, to: &dumped)
        let renderings = ["\(key)", String(reflecting: key), String(describing: key), dumped]
        for text in renderings {
            #expect(text.contains(Vector.fingerprint), "\(text)")
            // Neither the seed's bytes (as the array 0, 1, 2, …) nor its base64 appear.
            #expect(!text.contains("secretKey"), "\(text)")
            #expect(!text.contains("0, 1, 2, 3") && !text.contains(seedBase64), "\(text)")
        }
    }
}
