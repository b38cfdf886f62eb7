import Foundation
import Testing
import TestSupport

/// `swtorrent keygen` as an operator runs it: the real binary, real files.
struct KeygenTests {
    private func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? Int ?? -1) & 0o777
    }

    @Test func writesAKeyPairWithSafeModesAndPrintsTheFingerprint() throws {
        let dir = try TestFiles.makeTemporaryDirectory("keygen")
        defer { TestFiles.cleanup(dir) }
        let path = dir.appendingPathComponent("node.key").path
        let result = try TestProcess.swtorrent(["keygen", "--out", path, "--name", "build host 3"])
        #expect(result.exitCode == 0, "\(result.stderr)")

        #expect(try mode(path) == 0o600)
        #expect(try mode(path + ".pub") & 0o077 != 0o077)
        let pub = try String(contentsOfFile: path + ".pub", encoding: .utf8)
        let lines = pub.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "the .pub file is exactly one line: \(pub)")
        let fields = lines[0].split(separator: " ", maxSplits: 2)
        #expect(fields.count == 3)
        #expect(fields[0] == "ed25519")
        #expect(fields[1].count == 44 && fields[1].hasSuffix("="))
        #expect(fields[2] == "build host 3")

        let fingerprintLine = result.stdout.split(separator: "\n").first { $0.hasPrefix("fingerprint: SHA256:") }
        #expect(fingerprintLine != nil, "stdout: \(result.stdout)")
        // The fingerprint is SHA-256 over the 32 raw key bytes, base64 without padding.
        let keyBytes = try #require(Data(base64Encoded: String(fields[1])))
        let expected = try sha256Base64(keyBytes)
        #expect(fingerprintLine == "fingerprint: SHA256:\(expected) build host 3")

        let secret = try String(contentsOfFile: path, encoding: .utf8)
        #expect(secret.contains("\nswtorrent-ed25519-secret "))
    }

    @Test func theDefaultNameIsTheHostName() throws {
        let dir = try TestFiles.makeTemporaryDirectory("keygen")
        defer { TestFiles.cleanup(dir) }
        let path = dir.appendingPathComponent("node.key").path
        let result = try TestProcess.swtorrent(["keygen", "--out", path])
        #expect(result.exitCode == 0, "\(result.stderr)")
        let pub = try String(contentsOfFile: path + ".pub", encoding: .utf8)
        #expect(pub.hasSuffix(" \(ProcessInfo.processInfo.hostName)\n"))
    }

    @Test func refusesToOverwriteWithoutForce() throws {
        let dir = try TestFiles.makeTemporaryDirectory("keygen")
        defer { TestFiles.cleanup(dir) }
        let path = dir.appendingPathComponent("node.key").path
        #expect(try TestProcess.swtorrent(["keygen", "--out", path, "--name", "a"]).exitCode == 0)
        let before = try String(contentsOfFile: path + ".pub", encoding: .utf8)

        let refused = try TestProcess.swtorrent(["keygen", "--out", path, "--name", "b"])
        #expect(refused.exitCode == 3)
        #expect(refused.stderr.hasPrefix("swtorrent keygen: \(path): already exists"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--force"))
        #expect(try String(contentsOfFile: path + ".pub", encoding: .utf8) == before)

        let forced = try TestProcess.swtorrent(["keygen", "--out", path, "--name", "b", "--force"])
        #expect(forced.exitCode == 0, "\(forced.stderr)")
        let after = try String(contentsOfFile: path + ".pub", encoding: .utf8)
        #expect(after != before)
        #expect(after.hasSuffix(" b\n"))
        #expect(try mode(path) == 0o600)
    }

    @Test func forceDoesNotInheritAWideModeFromTheOldFile() throws {
        let dir = try TestFiles.makeTemporaryDirectory("keygen")
        defer { TestFiles.cleanup(dir) }
        let path = dir.appendingPathComponent("node.key").path
        #expect(try TestProcess.swtorrent(["keygen", "--out", path, "--name", "a"]).exitCode == 0)
        #expect(chmod(path, 0o644) == 0)
        #expect(try TestProcess.swtorrent(["keygen", "--out", path, "--name", "a", "--force"]).exitCode == 0)
        #expect(try mode(path) == 0o600)
    }

    @Test func passkeyPrintsOneAllowlistLine() throws {
        let first = try TestProcess.swtorrent(["keygen", "--passkey", "aria2 on ci-7"])
        let second = try TestProcess.swtorrent(["keygen", "--passkey", "aria2 on ci-7"])
        #expect(first.exitCode == 0 && second.exitCode == 0)
        for output in [first.stdout, second.stdout] {
            let fields = output.dropLast().split(separator: " ", maxSplits: 2)
            #expect(output.hasSuffix("\n") && output.filter { $0 == "\n" }.count == 1)
            #expect(fields.count == 3)
            #expect(fields[0] == "passkey")
            #expect(fields[1].count == 32)
            #expect(fields[1].allSatisfy { "abcdefghijklmnopqrstuvwxyz234567".contains($0) })
            #expect(fields[2] == "aria2 on ci-7")
        }
        #expect(first.stdout != second.stdout)
    }

    @Test(arguments: [
        (["keygen"], "give --out PATH"),
        (["keygen", "--passkey", "x", "--out", "/tmp/never"], "cannot be combined"),
        (["keygen", "--passkey", ""], "the name is empty"),
        (["keygen", "--out", "/tmp/never-written.key", "--name", "tab\tname"], "control character"),
    ])
    func badArgumentsExitTwoWithAMessage(arguments: [String], expected: String) throws {
        let result = try TestProcess.swtorrent(arguments)
        #expect(result.exitCode == 2)
        #expect(result.stderr.hasPrefix("swtorrent keygen: "), "\(result.stderr)")
        #expect(result.stderr.contains(expected), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never-written.key"))
    }

    @Test func fingerprintListsTheKeyOfAKeyFileAndItsPublicHalf() throws {
        let dir = try TestFiles.makeTemporaryDirectory("keygen")
        defer { TestFiles.cleanup(dir) }
        let path = dir.appendingPathComponent("node.key").path
        let made = try TestProcess.swtorrent(["keygen", "--out", path, "--name", "fp node"])
        #expect(made.exitCode == 0)
        let printed = made.stdout.split(separator: "\n").first { $0.hasPrefix("fingerprint: ") }
            .map { String($0.dropFirst("fingerprint: ".count)) }
        let fromKey = try TestProcess.swtorrent(["keygen", "--fingerprint", path])
        let fromPub = try TestProcess.swtorrent(["keygen", "--fingerprint", path + ".pub"])
        #expect(fromKey.exitCode == 0 && fromPub.exitCode == 0)
        #expect(fromKey.stdout == (printed ?? "?") + "\n")
        #expect(fromPub.stdout == fromKey.stdout)

        let missing = try TestProcess.swtorrent(["keygen", "--fingerprint", dir.appendingPathComponent("nope").path])
        #expect(missing.exitCode == 1)
        #expect(missing.stderr.contains("nope: no such file"), "\(missing.stderr)")
    }

    @Test func anUnwritableDirectoryExitsOne() throws {
        let result = try TestProcess.swtorrent(["keygen", "--out", "/nonexistent-dir/node.key", "--name", "x"])
        #expect(result.exitCode == 1)
        #expect(result.stderr.contains("/nonexistent-dir/node.key: cannot create"), "\(result.stderr)")
    }

    private func sha256Base64(_ data: Data) throws -> String {
        // An independent SHA-256 (the openssl tool), as hex: binary output would not survive reading as text.
        let hex = try TestProcess.run("openssl", ["dgst", "-sha256", "-hex", "-r"], stdin: data, timeout: 30)
        let digestHex = String(hex.stdout.prefix(64))
        var bytes = [UInt8]()
        var index = digestHex.startIndex
        while index < digestHex.endIndex {
            let next = digestHex.index(index, offsetBy: 2)
            bytes.append(UInt8(digestHex[index..<next], radix: 16)!)
            index = next
        }
        var text = Data(bytes).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }
}
