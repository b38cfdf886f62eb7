import CryptoPrimitives
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

@testable import SignatureGate

struct ReleaseGateTests {
    struct Setup {
        let root: URL
        let gate: ReleaseGate
        let key: SigningKey
        var policy: TrustPolicy { TrustPolicy(keys: [.cosign(key.publicKey)]) }

        init(destination: URL? = nil) throws {
            root = try TestFiles.makeTemporaryDirectory("gate-release")
            key = try SigningKey.generateP256()
            gate = try ReleaseGate(
                stagingDirectory: root.appendingPathComponent("staging").path,
                destinationDirectory: (destination ?? root.appendingPathComponent("dest")).path,
                quarantineDirectory: root.appendingPathComponent("quarantine").path,
                auditLogPath: root.appendingPathComponent("audit.jsonl").path,
                logger: Logger(label: "test.gate")
            )
        }

        /// Writes a staged file and returns a valid cosign signature for it.
        func stage(_ name: String, _ content: [UInt8]) throws -> DetachedSignature {
            let url = URL(fileURLWithPath: gate.stagingDirectory).appendingPathComponent(name)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content).write(to: url)
            return DetachedSignature(.cosign(try key.sign(sha256: DigestAlgorithm.sha256.hash(content))), origin: "sig")
        }

        func destinationEntries() throws -> [String] {
            (FileManager.default.enumerator(atPath: gate.destinationDirectory)?.allObjects as? [String] ?? []).sorted()
        }
    }

    @Test func verifiedFileIsReleasedWithItsModeAndAudited() throws {
        let s = try Setup()
        defer { TestFiles.cleanup(s.root) }
        var info = stat()
        #expect(stat(s.gate.stagingDirectory, &info) == 0 && info.st_mode & 0o777 == 0o700)
        let content = Array("payload\n".utf8)
        let signature = try s.stage("dir/app.tar", content)
        let decision = try s.gate.release(
            stagedFile: "dir/app.tar", signatures: [signature], policy: s.policy, mode: 0o640,
            infoHash: String(repeating: "ab", count: 20), peers: [PeerContribution(peer: "127.0.0.1:6881", bytes: 8)]
        )
        let (path, signers, sha256) = try #require(decision.releasedFile, "expected release, got \(decision)")
        #expect(path == s.gate.destinationDirectory + "/dir/app.tar")
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) == content)
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o640)
        #expect(sha256 == Hex.encode(DigestAlgorithm.sha256.hash(content)))
        #expect(!FileManager.default.fileExists(atPath: s.gate.stagingDirectory + "/dir/app.tar"))
        let records = try s.gate.auditLog.records()
        #expect(records.count == 1)
        #expect(records[0].result == "released")
        #expect(records[0].sha256 == sha256)
        #expect(records[0].signers == signers.map(\.keyID))
        #expect(records[0].infoHash == String(repeating: "ab", count: 20))
        #expect(records[0].peers == [PeerContribution(peer: "127.0.0.1:6881", bytes: 8)])
        // The log is JSON lines with the documented field names.
        let line = try String(contentsOfFile: s.gate.auditLog.path, encoding: .utf8)
        for field in ["\"time\"", "\"info_hash\"", "\"file\"", "\"sha256\"", "\"signers\"", "\"result\"", "\"peers\""] {
            #expect(line.contains(field))
        }
    }

    @Test func refusedFilesGoToQuarantineWithDistinctReasonsAndNeverToTheDestination() throws {
        let s = try Setup()
        defer { TestFiles.cleanup(s.root) }
        let good = try s.stage("tampered.bin", Array("original".utf8))
        try Data("modified".utf8).write(to: URL(fileURLWithPath: s.gate.stagingDirectory + "/tampered.bin"))
        _ = try s.stage("unsigned.bin", Array("x".utf8))
        let d1 = try s.gate.release(stagedFile: "tampered.bin", signatures: [good], policy: s.policy)
        let d2 = try s.gate.release(stagedFile: "unsigned.bin", signatures: [], policy: s.policy)
        let (p1, r1) = try #require(d1.quarantinedFile, "a tampered file must be quarantined: \(d1)")
        let (p2, r2) = try #require(d2.quarantinedFile, "an unsigned file must be quarantined: \(d2)")
        #expect(r1.name == "invalid-signature")
        #expect(r2.name == "missing-signature")
        #expect(p1.hasPrefix(s.gate.quarantineDirectory + "/"))
        #expect(FileManager.default.fileExists(atPath: p2))
        #expect(try String(contentsOfFile: p1 + ".reason", encoding: .utf8).contains("invalid-signature"))
        #expect(try s.destinationEntries().isEmpty)
        #expect(try s.gate.auditLog.records().map(\.reason) == ["invalid-signature", "missing-signature"])
    }

    /// The staged path is swapped for other bytes after the verified file was hashed: the replacement is not
    /// released (and neither is the original, whose name was taken).
    @Test func fileSwappedAfterVerificationIsNotReleased() throws {
        let s = try Setup()
        defer { TestFiles.cleanup(s.root) }
        let signature = try s.stage("app.bin", Array("signed bytes".utf8))
        let staged = s.gate.stagingDirectory + "/app.bin"
        let decision = try s.gate.release(
            stagedFile: "app.bin", as: nil, signatures: [signature], policy: s.policy, mode: 0o644, infoHash: nil,
            peers: nil,
            afterVerification: {
                // An attacker (or a bug) replaces the path with a new inode holding other bytes.
                _ = unlink(staged)
                _ = FileManager.default.createFile(atPath: staged, contents: Data("evil bytes!!".utf8))
            }
        )
        let reason = try #require(decision.quarantinedFile?.reason, "a swapped file must not be released: \(decision)")
        #expect(reason.name == "changed-after-verification")
        #expect(try s.destinationEntries().isEmpty)
    }

    /// The verified inode itself is written to after hashing: size/mtime changed, not released.
    @Test func fileModifiedInPlaceAfterVerificationIsNotReleased() throws {
        let s = try Setup()
        defer { TestFiles.cleanup(s.root) }
        let signature = try s.stage("app.bin", Array("signed bytes".utf8))
        let staged = s.gate.stagingDirectory + "/app.bin"
        let decision = try s.gate.release(
            stagedFile: "app.bin", as: nil, signatures: [signature], policy: s.policy, mode: 0o644, infoHash: nil,
            peers: nil,
            afterVerification: {
                let handle = FileHandle(forWritingAtPath: staged)!
                handle.seekToEndOfFile()
                handle.write(Data("+appended".utf8))
                try? handle.close()
            }
        )
        #expect(!decision.isReleased)
        if case .quarantined(_, let reason) = decision { #expect(reason.name == "changed-after-verification") }
        #expect(try s.destinationEntries().isEmpty)
    }

    @Test func symlinkedStagedFileIsNotFollowed() throws {
        let s = try Setup()
        defer { TestFiles.cleanup(s.root) }
        let outside = s.root.appendingPathComponent("outside.bin")
        try Data("signed".utf8).write(to: outside)
        try FileManager.default.createSymbolicLink(
            atPath: s.gate.stagingDirectory + "/link.bin", withDestinationPath: outside.path
        )
        let signature = DetachedSignature(
            .cosign(try s.key.sign(sha256: DigestAlgorithm.sha256.hash(Array("signed".utf8)))), origin: "sig"
        )
        #expect(throws: SignatureGateError.self) {
            _ = try s.gate.release(stagedFile: "link.bin", signatures: [signature], policy: s.policy)
        }
        #expect(try s.destinationEntries().isEmpty)
    }

    @Test func stagingMustBeDistinctFromTheDestination() throws {
        let root = try TestFiles.makeTemporaryDirectory("gate-layout")
        defer { TestFiles.cleanup(root) }
        for staging in [root.path + "/dest", root.path + "/dest/staging"] {
            #expect(throws: SignatureGateError.self) {
                _ = try ReleaseGate(
                    stagingDirectory: staging, destinationDirectory: root.path + "/dest",
                    quarantineDirectory: root.path + "/q", auditLogPath: root.path + "/audit.jsonl",
                    logger: Logger(label: "test")
                )
            }
        }
    }

    /// Destination on another file system (tmpfs /dev/shm): copied from the verified descriptor, re-hashed,
    /// fsynced and renamed into place.
    @Test func releaseAcrossFileSystemsCopiesTheVerifiedBytes() throws {
        let shm = URL(fileURLWithPath: "/dev/shm")
        guard access(shm.path, W_OK) == 0 else {
            let why = "/dev/shm is not writable, so a release across file systems cannot be tried"
            try Conformance.labMissing("releaseAcrossFileSystemsCopiesTheVerifiedBytes", why)
            try Test.cancel("DID NOT RUN: \(why)")
        }
        let destination = shm.appendingPathComponent("swt-gate-\(UUID().uuidString)")
        defer { TestFiles.cleanup(destination) }
        let s = try Setup(destination: destination)
        defer { TestFiles.cleanup(s.root) }
        var a = stat()
        var b = stat()
        guard stat(s.gate.stagingDirectory, &a) == 0, stat(destination.path, &b) == 0, a.st_dev != b.st_dev else {
            let why = "/dev/shm is on the staging directory's file system, so nothing crosses file systems"
            try Conformance.labMissing("releaseAcrossFileSystemsCopiesTheVerifiedBytes", why)
            try Test.cancel("DID NOT RUN: \(why)")
        }
        let content = [UInt8](repeating: 0x5a, count: 3 << 20)
        let signature = try s.stage("big.bin", content)
        let decision = try s.gate.release(stagedFile: "big.bin", signatures: [signature], policy: s.policy)
        #expect(decision.isReleased)
        #expect([UInt8](try Data(contentsOf: destination.appendingPathComponent("big.bin"))) == content)
        #expect(try s.destinationEntries() == ["big.bin"])
        #expect((try FileManager.default.contentsOfDirectory(atPath: s.gate.stagingDirectory)).isEmpty)
    }

    /// A whole torrent through the gate: embedded signatures, a shipped `.minisig`, an unsigned file and a garbled
    /// shipped signature file.
    @Test func completedTorrentIsReleasedFileByFile() throws {
        let s = try Setup()
        defer { TestFiles.cleanup(s.root) }
        let staging = URL(fileURLWithPath: s.gate.stagingDirectory)
        var torrent = try TorrentSignaturesTests.makeTorrent(
            in: staging, name: "rel",
            files: [("app.tar", 3000), ("app.tar.minisig", 10), ("lib.so", 500), ("junk.bin", 20), ("odd.bin", 30),
                    ("odd.bin.sig", 5)]
        )
        let minisign = MinisignSecretKey.generate()
        let signer = ArtifactSigningKey.minisign(minisign)
        let app = staging.appendingPathComponent("rel/app.tar").path
        _ = try signer.signFile(app)
        let cosign = ArtifactSigningKey.cosign(s.key)
        let lib = try FileDigests.compute(path: staging.appendingPathComponent("rel/lib.so").path, needs: .all)
        torrent = try TorrentSignatures.adding(
            [try TorrentSignatures.embedded(for: ["rel", "lib.so"], digests: lib, key: cosign)],
            to: torrent, subject: "t"
        )
        try "garbage".write(toFile: staging.appendingPathComponent("rel/odd.bin.sig").path, atomically: true,
                            encoding: .utf8)
        let policy = TrustPolicy(keys: [.cosign(s.key.publicKey), .minisign(minisign.publicKey)])
        let decisions = try s.gate.releaseTorrent(torrent, subject: "t", policy: policy, infoHash: "00ff")
        let summary = decisions.map { d -> String in
            switch d.decision {
            case .released: "\(d.path.last!): released"
            case .quarantined(_, let reason): "\(d.path.last!): \(reason.name)"
            }
        }
        #expect(summary == [
            "app.tar: released", "lib.so: released", "junk.bin: missing-signature", "odd.bin: refused-by-policy",
        ])
        #expect(try s.destinationEntries() == ["rel", "rel/app.tar", "rel/app.tar.minisig", "rel/lib.so"])
        #expect(try s.gate.auditLog.records().count == 4)
        #expect(try s.gate.auditLog.records().allSatisfy { $0.infoHash == "00ff" })
    }

    /// Concurrent writers (several leeches, one log) never interleave records.
    @Test func auditLogAppendsFromManyThreadsStayWholeLines() throws {
        let dir = try TestFiles.makeTemporaryDirectory("gate-audit")
        defer { TestFiles.cleanup(dir) }
        let log = AuditLog(path: dir.appendingPathComponent("audit.jsonl").path)
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 64) { index in
            let record = AuditRecord(
                time: "2026-11-21T00:00:00Z", infoHash: nil, file: "f\(index)",
                sha256: String(repeating: "a", count: 64),
                size: Int64(index), signers: ["sha256:" + String(repeating: "b", count: 64)], result: "released",
                reason: nil, message: String(repeating: "m", count: 2000), path: "/dest/f\(index)", peers: nil
            )
            do { try log.append(record) } catch { failures.withLock { $0 += 1 } }
        }
        #expect(failures.withLock { $0 } == 0)
        let records = try log.records()
        #expect(records.count == 64)
        #expect(Set(records.map(\.file)).count == 64)
        var info = stat()
        #expect(stat(log.path, &info) == 0 && info.st_mode & 0o777 == 0o600)
    }
}
