import ArgumentParser
import Engine
import Foundation
import Logging
import Metainfo
import SignatureGate

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The signature-gate options of `swtorrent leech`. Every download goes through the gate: the torrent is downloaded
/// into a 0700 staging directory and only files whose signatures verify against the trust policy are released into
/// `--out` (see Docs/signing.md, "The gate in leech"). Without a trust policy the command refuses to start unless
/// `--allow-unsigned` says that the torrent's piece hashes are enough.
struct LeechGateOptions: ParsableArguments {
    /// Exit code when at least one file was refused by the gate (quarantined).
    static let refusedExitCode: Int32 = 5

    @Option(name: .long, help: "Trust this public key (cosign.pub PEM or minisign.pub). Repeatable.")
    var trust: [String] = []

    @Option(name: .customLong("trust-dir"), help: "Trust every *.pub key in this directory.")
    var trustDir: [String] = []

    @Option(name: .long, help: "Distinct trusted signers each file needs (M of N; default 1).")
    var require: Int?

    @Option(name: .long, help: "A trust-policy file (trust / trust-dir / require / require-prehashed lines).")
    var policy: String?

    @Flag(
        name: .customLong("allow-unsigned"),
        help: """
            No trust policy: release files that passed the torrent's piece hashes only (still staged and released \
            by rename; the audit log says released-unsigned). Not with --trust/--trust-dir/--require/--policy.
            """)
    var allowUnsigned = false

    @Option(
        name: .long, help: "Gate: download here, not into --out (default OUT/../.NAME.swtorrent-gate/staging/HASH).")
    var staging: String?

    @Option(name: .long, help: "Gate: refused files go here (default OUT/../.NAME.swtorrent-gate/quarantine).")
    var quarantine: String?

    @Option(
        name: .customLong("audit-log"),
        help: "Gate: JSON-lines audit log (default OUT/../.NAME.swtorrent-gate/audit.jsonl).")
    var auditLog: String?

    /// True when any trust option was given.
    var hasTrustPolicy: Bool { !trust.isEmpty || !trustDir.isEmpty || require != nil || policy != nil }

    /// Nothing unverified is released by default: a leech needs a trust policy or an explicit `--allow-unsigned`
    /// (exit 2 otherwise, before any network activity).
    func validate() throws {
        if !hasTrustPolicy && !allowUnsigned {
            throw ExitCode(
                fail(
                    "no trust policy: give --trust PUBKEY, --trust-dir DIR or --policy FILE (a trust-policy file), "
                        + "or pass --allow-unsigned to release files that only passed the torrent's piece hashes",
                    code: 2))
        }
        if hasTrustPolicy && allowUnsigned {
            throw ExitCode(
                fail(
                    "--allow-unsigned means no trust policy; it cannot be combined with --trust, --trust-dir, "
                        + "--require or --policy (to let unsigned files through a policy, use --require 0)",
                    code: 2))
        }
        if let require, require < 0 { throw ExitCode(fail("--require must be 0 or more", code: 2)) }
    }

    /// The trust policy from --trust, --trust-dir, --require and --policy (the larger --require wins, as in verify);
    /// with --allow-unsigned, no key and no signer required.
    func trustPolicy() throws(SignatureGateError) -> TrustPolicy {
        if allowUnsigned { return TrustPolicy(keys: [], requiredSigners: 0) }
        var policy = try TrustPolicy.load(keyFiles: trust, directories: trustDir, requiredSigners: require ?? 1)
        if let file = self.policy {
            let fromFile = try TrustPolicy.load(policyFile: file)
            policy.keys += fromFile.keys.filter { !policy.keys.contains($0) }
            policy.requiredSigners = max(require ?? 0, fromFile.requiredSigners)
            policy.requirePrehashedMinisign = fromFile.requirePrehashedMinisign
        }
        return policy
    }

    /// Downloads `torrentPath` into staging, runs every file through the gate, releases into `out`, then seeds from
    /// `out` for `seedAfter` if every file was released. Returns the exit code.
    func run(
        torrentPath: String, out: String, common: TransferOptions, configuration: SessionConfiguration
    ) async -> Int32 {
        let policy: TrustPolicy
        let torrentBytes: [UInt8]
        let infoHash: String
        do {
            policy = try trustPolicy()
            torrentBytes = try TorrentSignatures.readTorrentFile(torrentPath)
        } catch {
            return fail("\(error)", code: error.code == .io ? 1 : 2)
        }
        if policy.keys.isEmpty && policy.requiredSigners > 0 {
            return fail(
                "no trusted key: give --trust PUB, --trust-dir DIR or a policy file with 'trust' lines", code: 2)
        }
        do {
            infoHash = try Torrent(bytes: torrentBytes).infoHash.hex
        } catch {
            return fail("\(torrentPath): \(error)", code: 2)
        }

        var logger = Logger(label: "swtorrent.leech.gate")
        logger.logLevel = common.verbose ? .info : .error
        var gate: ReleaseGate
        do {
            let layout = try Self.defaultLayout(out: out)
            gate = try ReleaseGate(
                stagingDirectory: staging ?? layout + "/staging/" + infoHash,
                destinationDirectory: out,
                quarantineDirectory: quarantine ?? layout + "/quarantine",
                auditLogPath: auditLog ?? layout + "/audit.jsonl",
                logger: logger)
            // The engine writes whole pieces with O_DIRECT, so the staged data is on disk, not in the page cache:
            // hash it the same way rather than paying for a page-cache fill (more CPU than the SHA-256 here).
            gate.readsBypassPageCache = true
        } catch {
            return fail("\(error)", code: 1)
        }

        // A re-run over files already released into OUT: start staging from private copies of them, so only missing
        // or damaged pieces are fetched and OUT is never written in place.
        do {
            try Self.prefillStaging(
                files: TorrentSignatures.files(of: torrentBytes, subject: torrentPath), from: out,
                into: gate.stagingDirectory)
        } catch {
            return fail("\(error)", code: 1)
        }

        // Download into staging and stop at completion: seeding (if asked) starts from the released files.
        var download = configuration
        download.seedAfterComplete = nil
        var supplied: [String: [String: Int64]] = [:]
        let code = await common.runTransfer(
            command: "leech", mode: .leech, torrentPath: torrentPath, directory: gate.stagingDirectory,
            configuration: download
        ) { outcome in
            if case .complete(let final) = outcome { supplied = final.suppliedBytes }
        }
        guard code == 0 else { return code }

        // The session has ended and closed its files; the gate's blocking I/O runs on this task (no event loop).
        let decisions: [TorrentFileDecision]
        do {
            decisions = try gate.releaseTorrent(
                torrentBytes, subject: torrentPath, policy: policy, infoHash: infoHash,
                peers: Self.contributions(supplied))
        } catch {
            return fail("signature gate: \(error)", code: 1)
        }
        var refused = 0
        for decision in decisions {
            let name = decision.path.joined(separator: "/")
            if common.json { Self.printJSON(decision, name: name) }
            switch decision.decision {
            case .released(_, let signers, _):
                let how =
                    signers.isEmpty
                    ? (policy.keys.isEmpty
                        ? "unsigned (--allow-unsigned: checked against the torrent's piece hashes only)"
                        : "unsigned (the policy requires 0 signers)")
                    : "signed by " + signers.map(\.keyID).joined(separator: ", ")
                FileHandle.standardError.write(Data("swtorrent leech: released \(name): \(how)\n".utf8))
            case .quarantined(let path, let reason):
                refused += 1
                FileHandle.standardError.write(
                    Data(
                        "swtorrent leech: \(name): refused (\(reason.name)): \(reason); quarantined at \(path)\n"
                            .utf8))
            }
        }
        Self.removeEmptyDirectories(gate.stagingDirectory)
        if refused > 0 {
            FileHandle.standardError.write(
                Data("swtorrent leech: \(refused) of \(decisions.count) files refused by the signature gate\n".utf8))
            return Self.refusedExitCode
        }
        guard configuration.seedAfterComplete != nil else { return 0 }
        // Seed the released bytes from --out, read-only (the seed mode never writes).
        var seeding = configuration
        seeding.seedUntilStopped = false
        return await common.runTransfer(
            command: "leech", mode: .seed, torrentPath: torrentPath, directory: out, configuration: seeding)
    }

    /// The engine's verified bytes per file per peer address, as the audit log records them (largest first).
    static func contributions(_ supplied: [String: [String: Int64]]) -> [String: [PeerContribution]] {
        supplied.mapValues { byPeer in
            byPeer.map { PeerContribution(peer: $0.key, bytes: $0.value) }
                .sorted { $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.peer < $1.peer }
        }
    }

    /// With --json: one `{"event":"gate",...}` line on stdout per file, after the download's `complete` line.
    private static func printJSON(_ decision: TorrentFileDecision, name: String) {
        struct Event: Encodable {
            var event = "gate"
            var file: String
            var result: String
            var reason: String?
            var message: String?
            var path: String
            var signers: [String]
            var sha256: String?
        }
        let event: Event
        switch decision.decision {
        case .released(let path, let signers, let sha256):
            event = Event(
                file: name, result: signers.isEmpty ? "released-unsigned" : "released", path: path,
                signers: signers.map(\.keyID), sha256: sha256)
        case .quarantined(let path, let reason):
            event = Event(
                file: name, result: "quarantined", reason: reason.name, message: reason.description, path: path,
                signers: [])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(event) else { return }
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    private func fail(_ message: String, code: Int32) -> Int32 {
        FileHandle.standardError.write(Data("swtorrent leech: \(message)\n".utf8))
        return code
    }

    /// `.NAME.swtorrent-gate` beside `out` (same file system in the usual case), created with mode 0700.
    static func defaultLayout(out: String) throws(SignatureGateError) -> String {
        guard let resolved = realpath(out, nil) else {
            let reason = String(cString: strerror(errno))
            throw SignatureGateError(.io, out, "cannot resolve the output directory: \(reason)")
        }
        let path = String(cString: resolved)
        free(resolved)
        let parent = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let layout = (parent == "/" ? "" : parent) + "/." + (name == "/" ? "root" : name) + ".swtorrent-gate"
        if mkdir(layout, 0o700) != 0 && errno != EEXIST {
            let reason = String(cString: strerror(errno))
            throw SignatureGateError(.io, layout, "cannot create the gate directory: \(reason)")
        }
        return layout
    }

    /// Copies each torrent file that is already in `out` at its full length, and not yet in staging, into staging.
    /// The engine then checks those bytes like any resumed download. Staging never shares an inode with a released
    /// file, so OUT is only ever replaced by rename.
    static func prefillStaging(
        files: [TorrentFileEntry], from out: String, into staging: String
    ) throws(SignatureGateError) {
        for file in files {
            let relative = file.path.joined(separator: "/")
            let source = out + "/" + relative
            let target = staging + "/" + relative
            var info = stat()
            guard lstat(source, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, Int64(info.st_size) == file.length,
                file.length > 0, lstat(target, &info) != 0
            else { continue }
            try copyFile(source, to: target, length: file.length)
        }
    }

    private static func copyFile(_ source: String, to target: String, length: Int64) throws(SignatureGateError) {
        let directory = (target as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw SignatureGateError(.io, directory, "cannot create the staging directory: \(error)")
        }
        let input = open(source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard input >= 0 else { throw SignatureGateError(.io, source, "cannot open: \(Self.errorText())") }
        defer { close(input) }
        let temporary = target + ".swtorrent-copy"
        let output = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw SignatureGateError(.io, temporary, "cannot create: \(Self.errorText())") }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        var copied: Int64 = 0
        var failure: String?
        copying: while copied < length {
            let n = pread(input, buffer.baseAddress, min(buffer.count, Int(length - copied)), off_t(copied))
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                failure = n == 0 ? "the file shrank while it was copied" : "read failed: \(Self.errorText())"
                break
            }
            var done = 0
            while done < n {
                let w = write(output, buffer.baseAddress! + done, n - done)
                if w < 0, errno == EINTR { continue }
                guard w > 0 else {
                    failure = "write failed: \(Self.errorText())"
                    break copying
                }
                done += w
            }
            copied += Int64(n)
        }
        if let failure {
            close(output)
            unlink(temporary)
            throw SignatureGateError(.io, source, "cannot copy into staging: \(failure)")
        }
        close(output)
        guard rename(temporary, target) == 0 else {
            unlink(temporary)
            throw SignatureGateError(.io, target, "cannot rename into staging: \(Self.errorText())")
        }
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }

    /// Removes the directories the download left in staging once their files were released or quarantined (only empty
    /// ones; `rmdir` refuses anything else).
    static func removeEmptyDirectories(_ directory: String) {
        if let names = try? FileManager.default.contentsOfDirectory(atPath: directory) {
            for name in names {
                let path = directory + "/" + name
                var info = stat()
                if lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { removeEmptyDirectories(path) }
            }
        }
        _ = rmdir(directory)
    }
}
