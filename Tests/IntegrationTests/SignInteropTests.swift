import Bencode
import Foundation
import TestSupport
import Testing

/// `swtorrent sign` / `swtorrent verify` against the reference tools: OpenSSL (the bytes `cosign sign-blob --key`
/// writes are base64 of `openssl dgst -sha256 -sign`) and Debian's minisign.
@Suite(.serialized)
struct SignInteropTests {
    struct Workspace {
        let dir: URL
        let file: String
        init(size: Int = 200_000) throws {
            dir = try TestFiles.makeTemporaryDirectory("sign-interop")
            file = dir.appendingPathComponent("artifact.tar").path
            try TestFiles.writeRandomFile(URL(fileURLWithPath: file), size: size)
        }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

        /// An OpenSSL P-256 key pair: `ec.pem` (PKCS #8) and `ec.pub`.
        func opensslKey(_ name: String = "ec") throws {
            try run(
                "openssl",
                ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path("\(name).pem")])
            try run("openssl", ["pkey", "-in", path("\(name).pem"), "-pubout", "-out", path("\(name).pub")])
        }

        /// An unencrypted minisign key pair: `<name>.key`, `<name>.pub`.
        func minisignKey(_ name: String = "m") throws {
            try run("minisign", ["-G", "-W", "-f", "-p", path("\(name).pub"), "-s", path("\(name).key")])
        }

        @discardableResult
        func run(_ tool: String, _ args: [String]) throws -> ProcessResult {
            let result = try TestProcess.run(tool, args, timeout: 30)
            guard result.exitCode == 0 else {
                throw HarnessError("\(tool) \(args.joined(separator: " ")) failed: \(result.stderr)")
            }
            return result
        }

        func verify(_ args: [String]) throws -> ProcessResult {
            try TestProcess.swtorrent(["verify"] + args, timeout: 60)
        }
    }

    @Test func opensslSignatureVerifiesInTheGateAndNamesTheKey() throws {
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        try w.opensslKey()
        let der = try w.run(
            "openssl", ["dgst", "-sha256", "-sign", w.path("ec.pem"), "-out", w.path("sig.der"), w.file])
        _ = der
        let sig = try Data(contentsOf: URL(fileURLWithPath: w.path("sig.der"))).base64EncodedString()
        try Data(sig.utf8).write(to: URL(fileURLWithPath: w.file + ".sig"))
        let spki = try w.run("sh", ["-c", "openssl pkey -pubin -in '\(w.path("ec.pub"))' -outform DER | sha256sum"])
        let keyID = String(spki.stdout.prefix(64))

        let result = try w.verify(["--key", w.path("ec.pub"), "--signature", w.file + ".sig", w.file])
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(result.stdout.contains("sha256:\(keyID)"))
        // Found next to the file without --signature too.
        #expect(try w.verify(["--key", w.path("ec.pub"), w.file]).exitCode == 0)
    }

    @Test func ourCosignSignatureVerifiesWithOpenSSL() throws {
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        try w.opensslKey()
        let signed = try TestProcess.swtorrent(["sign", "--key", w.path("ec.pem"), w.file])
        #expect(signed.exitCode == 0, "\(signed.stderr)")
        let text = try String(contentsOfFile: w.file + ".sig", encoding: .utf8)
        try Data(base64Encoded: text)!.write(to: URL(fileURLWithPath: w.path("sig.der")))
        let check = try TestProcess.run(
            "openssl", ["dgst", "-sha256", "-verify", w.path("ec.pub"), "-signature", w.path("sig.der"), w.file]
        )
        #expect(check.exitCode == 0)
        #expect(check.stdout.contains("Verified OK"))
    }

    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"))
    func encryptedCosignKeyFromCosignsTestsSignsWithCOSIGN_PASSWORD() throws {
        let root = try Conformance.requireDirectory("signing/cosign-keys-test-go")
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        let key = root.appendingPathComponent("pemsigstorekey.key").path
        let pub = root.appendingPathComponent("pemsigstorekey.derived.pub").path
        let signed = try TestProcess.swtorrent(
            ["sign", "--key", key, w.file], environment: ["COSIGN_PASSWORD": "hello"])
        #expect(signed.exitCode == 0, "\(signed.stderr)")
        #expect(try w.verify(["--key", pub, w.file]).exitCode == 0)
        let wrong = try TestProcess.swtorrent(["sign", "--key", key, w.file], environment: ["COSIGN_PASSWORD": "nope"])
        #expect(wrong.exitCode == 3)
        #expect(wrong.stderr.contains("swtorrent sign: "))
    }

    @Test func minisignSignaturesVerifyInTheGate() throws {
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        try w.minisignKey()
        // Prehashed (minisign's default) and legacy (-l).
        try w.run("minisign", ["-S", "-s", w.path("m.key"), "-m", w.file, "-x", w.file + ".minisig"])
        let prehashed = try w.verify(["--key", w.path("m.pub"), "--signature", w.file + ".minisig", w.file])
        #expect(prehashed.exitCode == 0, "\(prehashed.stderr)")
        #expect(prehashed.stdout.contains("minisign:"))
        try w.run("minisign", ["-S", "-l", "-s", w.path("m.key"), "-m", w.file, "-x", w.path("legacy.minisig")])
        #expect(
            try w.verify(["--key", w.path("m.pub"), "--signature", w.path("legacy.minisig"), w.file]).exitCode == 0)
        let refused = try w.verify(
            ["--key", w.path("m.pub"), "--signature", w.path("legacy.minisig"), "--require-prehashed", w.file]
        )
        #expect(refused.exitCode == 9)
    }

    @Test func ourMinisignSignatureVerifiesWithMinisign() throws {
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        try w.minisignKey()
        let signed = try TestProcess.swtorrent(["sign", "--key", w.path("m.key"), w.file])
        #expect(signed.exitCode == 0, "\(signed.stderr)")
        let check = try TestProcess.run("minisign", ["-V", "-H", "-p", w.path("m.pub"), "-m", w.file], timeout: 30)
        #expect(check.exitCode == 0, "\(check.stderr)")
        #expect(check.stdout.contains("Signature and comment signature verified"))
    }

    /// Each way a file can fail has its own exit code.
    @Test func refusalsExitWithDistinctCodes() throws {
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        try w.opensslKey()
        try w.opensslKey("other")
        try w.minisignKey()
        try w.minisignKey("stranger")
        #expect(try TestProcess.swtorrent(["sign", "--key", w.path("ec.pem"), w.file]).exitCode == 0)
        try w.run("minisign", ["-S", "-s", w.path("m.key"), "-m", w.file, "-x", w.path("good.minisig")])
        try w.run("minisign", ["-S", "-s", w.path("stranger.key"), "-m", w.file, "-x", w.path("stranger.minisig")])
        // A trusted comment edited by hand.
        var lines = try String(contentsOfFile: w.path("good.minisig"), encoding: .utf8).components(separatedBy: "\n")
        lines[2] += " (edited)"
        try lines.joined(separator: "\n").write(toFile: w.path("edited.minisig"), atomically: true, encoding: .utf8)
        try "this is not a signature".write(toFile: w.path("garbage.sig"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: w.file, toPath: w.path("tampered.tar"))
        let handle = FileHandle(forUpdatingAtPath: w.path("tampered.tar"))!
        handle.seek(toFileOffset: 1000)
        handle.write(Data([0xff]))
        try handle.close()

        let ec = w.path("ec.pub")
        let m = w.path("m.pub")
        let cases: [(String, [String], Int32)] = [
            ("verified", ["--key", ec, "--signature", w.file + ".sig", w.file], 0),
            ("tampered file", ["--key", ec, "--signature", w.file + ".sig", w.path("tampered.tar")], 3),
            ("wrong cosign key", ["--key", w.path("other.pub"), "--signature", w.file + ".sig", w.file], 3),
            ("untrusted minisign key", ["--key", m, "--signature", w.path("stranger.minisig"), w.file], 5),
            ("stripped signature", ["--key", ec, w.path("tampered.tar")], 6),
            (
                "not enough signers",
                ["--key", ec, "--key", m, "--require", "2", "--signature", w.file + ".sig", w.file], 7
            ),
            ("edited trusted comment", ["--key", m, "--signature", w.path("edited.minisig"), w.file], 8),
            ("malformed signature", ["--key", ec, "--signature", w.path("garbage.sig"), w.file], 2),
            ("no trusted key", ["--signature", w.file + ".sig", w.file], 2),
            (
                "two signers",
                [
                    "--key", ec, "--key", m, "--require", "2", "--signature", w.file + ".sig",
                    "--signature", w.path("good.minisig"), w.file,
                ], 0
            ),
        ]
        for (label, args, code) in cases {
            let result = try w.verify(args)
            #expect(result.exitCode == code, "\(label): \(result.stdout) \(result.stderr)")
            if code != 0 { #expect(result.stderr.hasPrefix("swtorrent verify: "), "\(label)") }
        }
    }

    @Test(.enabled(if: Conformance.shouldRun, "DID NOT RUN: no ../shared/conformance"))
    func realCosignBundleVerifiesAndSaysTheLogIsNotChecked() throws {
        let root = try Conformance.requireDirectory("signing/sigstore-c-cosign-v3")
        let key = root.appendingPathComponent("cosign.pub").path
        let bundle = root.appendingPathComponent("simple.sigstore.json").path
        let ok = try TestProcess.swtorrent([
            "verify", "--key", key, "--bundle", bundle, root.appendingPathComponent("a.txt").path,
        ])
        #expect(ok.exitCode == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("transparency log"))
        let bad = try TestProcess.swtorrent(
            [
                "verify", "--key", key, "--bundle", bundle,
                root.appendingPathComponent("NEG-derived-a-modified.txt").path,
            ]
        )
        #expect(bad.exitCode == 4)
    }

    /// A torrent made by mktorrent gets signatures from two signers; its info-hash does not change and
    /// `verify --torrent` checks every file.
    @Test func signaturesEmbeddedInAMktorrentTorrentKeepItsInfoHash() throws {
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        let content = w.dir.appendingPathComponent("data/release")
        try FileManager.default.createDirectory(at: content, withIntermediateDirectories: true)
        try TestFiles.writeRandomFile(content.appendingPathComponent("a.bin"), size: 300_000, seed: 1)
        try TestFiles.writeRandomFile(content.appendingPathComponent("b.bin"), size: 1234, seed: 2)
        try w.run("mktorrent", ["-p", "-a", "http://127.0.0.1:1/announce", "-o", w.path("r.torrent"), content.path])
        try w.opensslKey()
        try w.minisignKey()
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: w.path("r.torrent"))))
        let data = w.dir.appendingPathComponent("data").path
        for key in [w.path("ec.pem"), w.path("m.key")] {
            let r = try TestProcess.swtorrent(["sign", "--torrent", w.path("r.torrent"), "--key", key, "--data", data])
            #expect(r.exitCode == 0, "\(r.stderr)")
        }
        let signed = [UInt8](try Data(contentsOf: URL(fileURLWithPath: w.path("r.torrent"))))
        let before = try BencodeDecoder().decodeDocument(original).rawBytes(atPath: ["info"]).map(Array.init)
        let after = try BencodeDecoder().decodeDocument(signed).rawBytes(atPath: ["info"]).map(Array.init)
        #expect(before != nil && before == after)
        #expect(signed.count > original.count)
        let verify = try TestProcess.swtorrent(
            [
                "verify", "--torrent", w.path("r.torrent"), "--data", data, "--key", w.path("ec.pub"),
                "--key", w.path("m.pub"), "--require", "2",
            ]
        )
        #expect(verify.exitCode == 0, "\(verify.stderr)")
        #expect(verify.stdout.components(separatedBy: "verified ").count == 3)
        // transmission-show still reads it (unknown top-level keys are ignored by clients).
        let show = try TestProcess.run("transmission-show", [w.path("r.torrent")], timeout: 30)
        #expect(show.exitCode == 0)
        try TestFiles.writeRandomFile(content.appendingPathComponent("b.bin"), size: 1234, seed: 40)
        let tampered = try TestProcess.swtorrent(
            ["verify", "--torrent", w.path("r.torrent"), "--data", data, "--key", w.path("ec.pub")]
        )
        #expect(tampered.exitCode == 4)
    }

    /// `make --sign` signs in the hashing pass; the info-hash equals an unsigned `make` of the same input.
    @Test func makeSignEmbedsVerifiableSignaturesWithTheSameInfoHash() throws {
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        let content = w.dir.appendingPathComponent("data/bundle")
        try FileManager.default.createDirectory(at: content, withIntermediateDirectories: true)
        try TestFiles.writeRandomFile(content.appendingPathComponent("x.bin"), size: 70_000, seed: 11)
        try TestFiles.writeRandomFile(content.appendingPathComponent("y.bin"), size: 5, seed: 12)
        try w.opensslKey()
        try w.minisignKey()
        let common = ["make", content.path, "-a", "http://127.0.0.1:1/announce", "--no-date", "--private"]
        let plain = try TestProcess.swtorrent(common + ["-o", w.path("plain.torrent")])
        let signed = try TestProcess.swtorrent(
            common + ["-o", w.path("signed.torrent"), "--sign", w.path("ec.pem"), "--sign", w.path("m.key")]
        )
        #expect(plain.exitCode == 0 && signed.exitCode == 0, "\(plain.stderr) \(signed.stderr)")
        let hash = { (out: String) in out.components(separatedBy: "\n").first { $0.hasPrefix("info-hash:") } }
        #expect(hash(plain.stdout) != nil && hash(plain.stdout) == hash(signed.stdout))
        let verify = try TestProcess.swtorrent(
            ["verify", "--torrent", w.path("signed.torrent"), "--data", w.dir.appendingPathComponent("data").path,
             "--key", w.path("ec.pub"), "--key", w.path("m.pub"), "--require", "2"]
        )
        #expect(verify.exitCode == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.components(separatedBy: "verified ").count == 3)
    }

    /// A `.minisig` shipped inside the torrent next to its artifact counts as a signature of that artifact.
    @Test func signatureFilesShippedInsideTheTorrentCount() throws {
        let w = try Workspace()
        defer { TestFiles.cleanup(w.dir) }
        let content = w.dir.appendingPathComponent("data/rel")
        try FileManager.default.createDirectory(at: content, withIntermediateDirectories: true)
        let artifact = content.appendingPathComponent("app.tar").path
        try TestFiles.writeRandomFile(URL(fileURLWithPath: artifact), size: 50_000, seed: 21)
        try w.minisignKey()
        try w.run("minisign", ["-S", "-s", w.path("m.key"), "-m", artifact])
        try w.run("mktorrent", ["-a", "http://127.0.0.1:1/announce", "-o", w.path("rel.torrent"), content.path])
        let data = w.dir.appendingPathComponent("data").path
        let ok = try TestProcess.swtorrent(
            ["verify", "--torrent", w.path("rel.torrent"), "--data", data, "--key", w.path("m.pub")]
        )
        #expect(ok.exitCode == 0, "\(ok.stdout) \(ok.stderr)")
        #expect(ok.stdout.contains("app.tar: signed by minisign:"))
        #expect(!ok.stdout.contains("app.tar.minisig:"))
        try TestFiles.writeRandomFile(URL(fileURLWithPath: artifact), size: 50_000, seed: 22)
        let bad = try TestProcess.swtorrent(
            ["verify", "--torrent", w.path("rel.torrent"), "--data", data, "--key", w.path("m.pub")]
        )
        #expect(bad.exitCode == 3)
    }
}
