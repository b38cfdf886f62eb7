import Foundation
import TestSupport
import Testing

/// `swtorrent keygen --signing minisign|cosign`: the key files it writes are the tools' own, proved with the real
/// `minisign` and OpenSSL, and with our own `sign` / `verify`.
@Suite(.serialized)
struct SigningKeygenTests {
    struct Workspace {
        let dir: URL
        let file: String
        init() throws {
            dir = try TestFiles.makeTemporaryDirectory("signing-keygen")
            file = dir.appendingPathComponent("artifact.tar").path
            try TestFiles.writeRandomFile(URL(fileURLWithPath: file), size: 100_000)
        }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

        func keygen(_ args: [String], environment: [String: String] = [:]) throws -> ProcessResult {
            try TestProcess.swtorrent(["keygen"] + args, environment: environment, timeout: 60)
        }

        func mode(_ path: String) throws -> Int {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            return try #require(attributes[.posixPermissions] as? Int) & 0o777
        }
    }

    @Test func anEncryptedMinisignKeySignsWithMinisignAndWithSwtorrent() throws {
        try TestProcess.requireTool("minisign")
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        let made = try w.keygen(
            ["--signing", "minisign", "--out", w.path("minisign.key")], environment: ["MINISIGN_PASSWORD": "s3cret"])
        #expect(made.exitCode == 0, "\(made.stderr)")
        #expect(made.stdout.contains("public key: \(w.path("minisign.pub"))"), "\(made.stdout)")
        #expect(made.stdout.contains("key id:     minisign:"), "\(made.stdout)")
        #expect(try w.mode(w.path("minisign.key")) == 0o600)
        #expect(try w.mode(w.path("minisign.pub")) & 0o044 == 0o044, "the public key is readable by others")
        let secret = try String(contentsOfFile: w.path("minisign.key"), encoding: .utf8)
        #expect(secret.hasPrefix("untrusted comment: minisign encrypted secret key\n"))

        // The real minisign opens it with the password on stdin, and verifies with our .pub.
        let signed = try TestProcess.run(
            "minisign", ["-S", "-s", w.path("minisign.key"), "-m", w.file], stdin: Data("s3cret\n".utf8), timeout: 60)
        #expect(signed.exitCode == 0, "\(signed.stderr)")
        let checked = try TestProcess.run(
            "minisign", ["-V", "-p", w.path("minisign.pub"), "-m", w.file], timeout: 30)
        #expect(checked.exitCode == 0, "\(checked.stderr)")
        #expect(checked.stdout.contains("Signature and comment signature verified"))

        // A wrong password: minisign refuses it, and so does swtorrent sign, naming the key and the reason.
        let minisignWrong = try TestProcess.run(
            "minisign", ["-S", "-s", w.path("minisign.key"), "-m", w.file, "-x", w.path("wrong.minisig")],
            stdin: Data("nope\n".utf8), timeout: 60)
        #expect(minisignWrong.exitCode != 0)
        let wrong = try TestProcess.swtorrent(
            ["sign", "--key", w.path("minisign.key"), w.file], environment: ["MINISIGN_PASSWORD": "nope"])
        #expect(wrong.exitCode == 3)
        #expect(wrong.stderr.contains(w.path("minisign.key")), "\(wrong.stderr)")
        #expect(wrong.stderr.contains("wrong password"), "\(wrong.stderr)")

        // Our sign / verify round trip with the same key; minisign verifies our signature too.
        try FileManager.default.removeItem(atPath: w.file + ".minisig")
        let ours = try TestProcess.swtorrent(
            ["sign", "--key", w.path("minisign.key"), w.file], environment: ["MINISIGN_PASSWORD": "s3cret"])
        #expect(ours.exitCode == 0, "\(ours.stderr)")
        let verified = try TestProcess.swtorrent(["verify", "--key", w.path("minisign.pub"), w.file])
        #expect(verified.exitCode == 0, "\(verified.stderr)")
        let minisignChecksOurs = try TestProcess.run(
            "minisign", ["-V", "-p", w.path("minisign.pub"), "-m", w.file], timeout: 30)
        #expect(minisignChecksOurs.exitCode == 0, "\(minisignChecksOurs.stderr)")
    }

    @Test func anUnencryptedMinisignKeySignsWithoutAPassword() throws {
        try TestProcess.requireTool("minisign")
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        let made = try w.keygen(["--signing", "minisign", "--unencrypted", "--out", w.path("m.key")])
        #expect(made.exitCode == 0, "\(made.stderr)")
        #expect(made.stdout.contains("unencrypted"))
        // minisign asks nothing for a key without a kdf: stdin is closed and empty.
        let signed = try TestProcess.run("minisign", ["-S", "-s", w.path("m.key"), "-m", w.file], timeout: 30)
        #expect(signed.exitCode == 0, "\(signed.stderr)")
        #expect(try TestProcess.swtorrent(["verify", "--key", w.path("m.pub"), w.file]).exitCode == 0)
    }

    @Test func aCosignKeySignsAndOpenSSLVerifiesWithItsPublicKey() throws {
        try TestProcess.requireTool("openssl")
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        let made = try w.keygen(
            ["--signing", "cosign", "--out", w.path("cosign.key")], environment: ["COSIGN_PASSWORD": "hunter2"])
        #expect(made.exitCode == 0, "\(made.stderr)")
        #expect(made.stdout.contains("key id:     sha256:"), "\(made.stdout)")
        #expect(try w.mode(w.path("cosign.key")) == 0o600)
        let secret = try String(contentsOfFile: w.path("cosign.key"), encoding: .utf8)
        #expect(secret.hasPrefix("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"))
        let body = secret.split(separator: "\n").dropFirst().dropLast().joined()
        let json = try #require(Data(base64Encoded: body))
        let container = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        let kdf = try #require(container["kdf"] as? [String: Any])
        let params = try #require(kdf["params"] as? [String: Any])
        #expect(kdf["name"] as? String == "scrypt")
        #expect(params["N"] as? Int == 32768 && params["r"] as? Int == 8 && params["p"] as? Int == 1)
        #expect((container["cipher"] as? [String: Any])?["name"] as? String == "nacl/secretbox")

        // OpenSSL reads the public key and verifies a signature made with the key.
        let pub = try TestProcess.run("openssl", ["pkey", "-pubin", "-in", w.path("cosign.pub"), "-noout", "-text"])
        #expect(pub.exitCode == 0, "\(pub.stderr)")
        #expect(pub.stdout.contains("prime256v1") || pub.stdout.contains("P-256"), "\(pub.stdout)")
        let signed = try TestProcess.swtorrent(
            ["sign", "--key", w.path("cosign.key"), w.file], environment: ["COSIGN_PASSWORD": "hunter2"])
        #expect(signed.exitCode == 0, "\(signed.stderr)")
        let signature = try String(contentsOfFile: w.file + ".sig", encoding: .utf8)
        try #require(Data(base64Encoded: signature)).write(to: URL(fileURLWithPath: w.path("sig.der")))
        let check = try TestProcess.run(
            "openssl", ["dgst", "-sha256", "-verify", w.path("cosign.pub"), "-signature", w.path("sig.der"), w.file])
        #expect(check.exitCode == 0, "\(check.stderr)")
        #expect(check.stdout.contains("Verified OK"))
        #expect(try TestProcess.swtorrent(["verify", "--key", w.path("cosign.pub"), w.file]).exitCode == 0)

        let wrong = try TestProcess.swtorrent(
            ["sign", "--key", w.path("cosign.key"), w.file], environment: ["COSIGN_PASSWORD": "hunter3"])
        #expect(wrong.exitCode == 3)
        #expect(wrong.stderr.contains(w.path("cosign.key")), "\(wrong.stderr)")
        #expect(wrong.stderr.contains("COSIGN_PASSWORD"), "\(wrong.stderr)")
    }

    @Test func refusesToOverwriteWithoutForceAndReplacesWithIt() throws {
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        let args = ["--signing", "cosign", "--out", w.path("release.key")]
        let password = ["COSIGN_PASSWORD": "pw"]
        #expect(try w.keygen(args, environment: password).exitCode == 0)
        let before = try String(contentsOfFile: w.path("release.pub"), encoding: .utf8)

        let refused = try w.keygen(args, environment: password)
        #expect(refused.exitCode == 3)
        #expect(refused.stderr.hasPrefix("swtorrent keygen: \(w.path("release.key")): "), "\(refused.stderr)")
        #expect(refused.stderr.contains("--force"))
        #expect(try String(contentsOfFile: w.path("release.pub"), encoding: .utf8) == before)

        // Only the public key left over is refused too, naming it.
        try FileManager.default.removeItem(atPath: w.path("release.key"))
        let halfRefused = try w.keygen(args, environment: password)
        #expect(halfRefused.exitCode == 3)
        #expect(halfRefused.stderr.contains(w.path("release.pub")), "\(halfRefused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: w.path("release.key")))

        #expect(chmod(w.path("release.pub"), 0o666) == 0)
        let forced = try w.keygen(args + ["--force"], environment: password)
        #expect(forced.exitCode == 0, "\(forced.stderr)")
        #expect(try String(contentsOfFile: w.path("release.pub"), encoding: .utf8) != before)
        #expect(try w.mode(w.path("release.key")) == 0o600)
    }

    @Test func badArgumentsAreRefusedWithTheFix() throws {
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        let unknown = try w.keygen(["--signing", "gpg", "--out", w.path("k.key")])
        #expect(unknown.exitCode == 2)
        #expect(unknown.stderr.contains("minisign") && unknown.stderr.contains("cosign"), "\(unknown.stderr)")
        let named = try w.keygen(["--signing", "minisign", "--out", w.path("k.key"), "--name", "x"])
        #expect(named.exitCode == 2)
        #expect(named.stderr.contains("--name"))
        let loose = try w.keygen(["--unencrypted", "--out", w.path("node.key"), "--name", "n"])
        #expect(loose.exitCode == 2)
        #expect(loose.stderr.contains("--signing"))
        #expect(!FileManager.default.fileExists(atPath: w.path("k.key")))
        #expect(!FileManager.default.fileExists(atPath: w.path("node.key")))
    }
}
