import CryptoPrimitives
import Foundation
import Logging
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the gate did with a staged file.
public enum ReleaseDecision: Sendable, Hashable {
    /// Verified and moved to `path` in the destination.
    case released(path: String, signers: [Signer], sha256: String)
    /// Refused and moved to `path` in the quarantine directory.
    case quarantined(path: String, reason: GateRefusal)

    public var isReleased: Bool {
        if case .released = self { return true }
        return false
    }
}

/// Why the gate refused a file: a signature verdict, or a change to the file after it was verified.
public enum GateRefusal: Sendable, Hashable, CustomStringConvertible {
    case rejected(RejectionReason)
    /// The staged path no longer names the verified file (swapped), or the file's size or mtime changed while or
    /// after it was hashed (written to).
    case changedAfterVerification(String)

    /// The audit-log name.
    public var name: String {
        switch self {
        case .rejected(let reason): reason.name
        case .changedAfterVerification: "changed-after-verification"
        }
    }

    public var description: String {
        switch self {
        case .rejected(let reason): reason.description
        case .changedAfterVerification(let detail): detail
        }
    }
}

/// The signature gate: staging → verify → release (or quarantine), with an audit log.
///
/// Downloads are written under ``stagingDirectory`` (mode 0700, never the destination).
/// ``release(stagedFile:as:signatures:policy:mode:infoHash:peers:precomputed:)`` opens the staged file once
/// (`O_RDONLY | O_NOFOLLOW`), hashes and verifies the bytes through that descriptor, then renames the staged name
/// to a fresh private name inside the staging directory and checks with `lstat` that it is still the very inode
/// that was verified (same device and inode; size and mtime unchanged) before renaming it into the destination
/// with the intended mode. When the destination is on another file system, the bytes are copied from the verified
/// descriptor into a temporary file in the destination directory, hashed again while copying, fsynced, and renamed
/// into place. Anything refused is moved to ``quarantineDirectory`` with a `.reason`
/// file beside it. Every decision is appended to the ``auditLog``.
///
/// The calls block on disk I/O: run them on a thread pool, not on an event loop.
public struct ReleaseGate: Sendable {
    public let stagingDirectory: String
    public let destinationDirectory: String
    public let quarantineDirectory: String
    public let auditLog: AuditLog
    /// Read staged files with `O_DIRECT` when hashing them. Set it when the writer bypassed the page cache too (the
    /// engine writes whole pieces with `O_DIRECT`): the staged bytes are then read from the disk straight into the
    /// hashing buffers instead of being copied into the page cache first. Falls back to ordinary reads where the
    /// file system refuses direct I/O.
    public var readsBypassPageCache = false
    let logger: Logger

    /// Creates the directories if needed and checks the layout.
    ///
    /// - Throws: ``SignatureGateError`` `.io` when staging and destination are the same directory or nested, or when
    ///   a directory cannot be created.
    public init(
        stagingDirectory: String,
        destinationDirectory: String,
        quarantineDirectory: String,
        auditLogPath: String,
        logger: Logger
    ) throws(SignatureGateError) {
        try Self.makeDirectory(stagingDirectory, mode: 0o700)
        try Self.makeDirectory(destinationDirectory, mode: 0o755)
        try Self.makeDirectory(quarantineDirectory, mode: 0o700)
        let staging = try Self.realPath(stagingDirectory)
        let destination = try Self.realPath(destinationDirectory)
        let quarantine = try Self.realPath(quarantineDirectory)
        guard staging != destination, !staging.hasPrefix(destination + "/"), !destination.hasPrefix(staging + "/")
        else {
            throw SignatureGateError(
                .io, stagingDirectory, "the staging directory must be distinct from (and not inside) the destination"
            )
        }
        guard quarantine != destination, !quarantine.hasPrefix(destination + "/") else {
            throw SignatureGateError(
                .io, quarantineDirectory, "the quarantine directory must not be in the destination")
        }
        // Nothing but this process may reach the staged files.
        guard chmod(staging, 0o700) == 0 else {
            throw SignatureGateError(.io, staging, "cannot set mode 0700: \(ErrnoText.of())")
        }
        self.stagingDirectory = staging
        self.destinationDirectory = destination
        self.quarantineDirectory = quarantine
        self.auditLog = AuditLog(path: auditLogPath)
        self.logger = logger
    }

    /// Verifies a staged file and releases it into the destination, or quarantines it.
    ///
    /// - Parameters:
    ///   - stagedFile: path relative to the staging directory.
    ///   - destinationName: path relative to the destination (defaults to `stagedFile`).
    ///   - signatures: every signature for the file (detached files and torrent-embedded ones).
    ///   - policy: the trust policy.
    ///   - mode: the released file's mode.
    ///   - infoHash: for the audit log.
    ///   - peers: which peers supplied how many bytes, for the audit log.
    ///   - precomputed: the file's digests, computed by the caller from the very bytes it wrote (a leech hashing
    ///     verified pieces as they reach the file, ``StreamingFileHasher``): used instead of reading the staged file
    ///     again when they cover what the signatures need and the file opened is still the file they were taken of
    ///     (``PrecomputedDigest/describes(_:)``); when it is not, the file was written to or replaced since, and it is
    ///     quarantined (`changed-after-verification`). The identity checks after verification still run.
    /// - Returns: the decision (also appended to the audit log).
    /// - Throws: ``SignatureGateError`` only for I/O failures (the staged file cannot be opened or moved).
    public func release(
        stagedFile: String,
        as destinationName: String? = nil,
        signatures: [DetachedSignature],
        policy: TrustPolicy,
        mode: mode_t = 0o644,
        infoHash: String? = nil,
        peers: [PeerContribution]? = nil,
        precomputed: PrecomputedDigest? = nil
    ) throws(SignatureGateError) -> ReleaseDecision {
        try release(
            stagedFile: stagedFile, as: destinationName, signatures: signatures, policy: policy, mode: mode,
            infoHash: infoHash, peers: peers, precomputed: precomputed, afterVerification: {}
        )
    }

    /// As above, with a hook that runs between verification and release (tests use it to swap or modify the file).
    func release(
        stagedFile: String,
        as destinationName: String?,
        signatures: [DetachedSignature],
        policy: TrustPolicy,
        mode: mode_t,
        infoHash: String?,
        peers: [PeerContribution]?,
        precomputed: PrecomputedDigest? = nil,
        forcedRejection: RejectionReason? = nil,
        expectedSHA256: [UInt8]? = nil,
        manifest: ManifestReference? = nil,
        afterVerification: () -> Void
    ) throws(SignatureGateError) -> ReleaseDecision {
        let name = destinationName ?? stagedFile
        guard Self.safeRelativePath(stagedFile), Self.safeRelativePath(name) else {
            throw SignatureGateError(.io, name, "file names must be relative paths without '..'")
        }
        let stagedPath = stagingDirectory + "/" + stagedFile
        let fd = open(stagedPath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            throw SignatureGateError(.io, stagedPath, "cannot open the staged file: \(ErrnoText.of())")
        }
        defer { close(fd) }
        var before = stat()
        guard fstat(fd, &before) == 0, (before.st_mode & S_IFMT) == S_IFREG else {
            throw SignatureGateError(.io, stagedPath, "the staged file is not a regular file")
        }

        let verifier = Verifier(policy: policy)
        let verdict: VerificationResult
        let digests: FileDigests
        var changed: GateRefusal?
        if let precomputed, precomputed.describes(FileFingerprint(before)),
            precomputed.digests.covers(Verifier.needs(for: signatures))
        {
            // Hashed while it downloaded (StreamingFileHasher), and still that file: no second read.
            digests = precomputed.digests
            verdict = verifier.verify(digests: digests, fileDescriptor: fd, path: stagedPath, signatures: signatures)
        } else {
            (verdict, digests) = try verifier.verify(
                fileDescriptor: fd, path: stagedPath, signatures: signatures, bypassingPageCache: readsBypassPageCache
            )
            if let precomputed, !precomputed.describes(FileFingerprint(before)) {
                changed = .changedAfterVerification(
                    "the staged file was replaced or written to after its pieces were verified and hashed during the "
                        + "download (size, modification time or inode differ)")
            }
        }
        var result = forcedRejection.map { VerificationResult.rejected($0) } ?? verdict
        if forcedRejection == nil, let expectedSHA256, digests.sha256 != expectedSHA256 {
            // The signed release manifest names other bytes: whatever the file's own signatures say, refuse it.
            result = .rejected(.digestMismatch(origin: "release manifest \(manifest?.name ?? "")"))
        }
        let sha256 = digests.sha256.map { Hex.encode($0) }
        afterVerification()

        // Take the staged name away from anyone else first: a fresh private name in the 0700 staging directory.
        let privatePath = stagingDirectory + "/.swtorrent-verified-" + Hex.encode(secureRandomBytes(12))
        guard rename(stagedPath, privatePath) == 0 else {
            throw SignatureGateError(.io, stagedPath, "cannot rename inside the staging directory: \(ErrnoText.of())")
        }
        var refusal: GateRefusal? = changed
        if refusal == nil, case .rejected(let reason) = result { refusal = .rejected(reason) }
        if refusal == nil {
            refusal = Self.identityChange(fd: fd, privatePath: privatePath, before: before, digests: digests)
        }

        let unsigned = Self.unsignedRelease(result, policy: policy, signatureCount: signatures.count)
        let record: (String) -> AuditRecord = { path in
            AuditRecord(
                time: AuditLog.now(), infoHash: infoHash, file: name, sha256: sha256, size: digests.size,
                signers: { if case .verified(let s) = result { s.map(\.keyID) } else { [] } }(),
                result: refusal != nil ? "quarantined" : unsigned == nil ? "released" : "released-unsigned",
                reason: refusal?.name ?? unsigned?.reason,
                message: refusal?.description ?? unsigned?.message ?? "verified", path: path, peers: peers,
                manifest: manifest
            )
        }
        if let refusal {
            let quarantined = try quarantine(privatePath, name: name, reason: refusal)
            logger.warning("quarantined \(name): \(refusal)")
            try auditLog.append(record(quarantined))
            return .quarantined(path: quarantined, reason: refusal)
        }
        guard case .verified(let signers) = result, let sha256 else {
            preconditionFailure("a refusal was handled above")
        }
        let destinationPath = destinationDirectory + "/" + name
        if let change = try moveIntoDestination(
            fd: fd, from: privatePath, to: destinationPath, mode: mode, digests: digests
        ) {
            // The copy across file systems read different bytes: treat like a change after verification.
            refusal = change
            let quarantined = try quarantine(privatePath, name: name, reason: change)
            try auditLog.append(record(quarantined))
            return .quarantined(path: quarantined, reason: change)
        }
        logger.info("released \(name) (sha256 \(sha256), signers \(signers.map(\.keyID)))")
        try auditLog.append(record(destinationPath))
        return .released(path: destinationPath, signers: signers, sha256: sha256)
    }

    /// For a file that passes without any verified signer (the policy requires none), the audit log's reason and
    /// message: `no-trust-policy` when the policy has no key at all (`leech --allow-unsigned`), `unsigned-allowed`
    /// when it has keys but `require 0` and the file carries no signature. Nil for a signed release or a refusal.
    static func unsignedRelease(
        _ result: VerificationResult, policy: TrustPolicy, signatureCount: Int
    ) -> (reason: String, message: String)? {
        guard case .verified(let signers) = result, signers.isEmpty else { return nil }
        if policy.keys.isEmpty {
            let unchecked =
                signatureCount == 0
                ? "" : "; \(signatureCount) signature(s) present but not checked (no trusted key)"
            return (
                "no-trust-policy",
                "released without signature verification (no trust policy, and unsigned releases allowed): only the "
                    + "download's own integrity check (the torrent's piece hashes) vouches for it" + unchecked
            )
        }
        return (
            "unsigned-allowed",
            "no signature; released because the trust policy requires 0 signers (require 0): only the download's "
                + "own integrity check (the torrent's piece hashes) vouches for it"
        )
    }

    /// Checks that `privatePath` is the inode that was verified and that it was not written to since.
    static func identityChange(fd: Int32, privatePath: String, before: stat, digests: FileDigests) -> GateRefusal? {
        let verified = FileFingerprint(before)
        guard let now = try? FileFingerprint(descriptor: fd, path: privatePath),
            let named = FileFingerprint(path: privatePath)
        else {
            return .changedAfterVerification("cannot stat the staged file after verification: \(ErrnoText.of())")
        }
        if !named.isSameFile(as: verified) {
            return .changedAfterVerification(
                "the staged file was replaced after verification (different inode); the replacement is not released"
            )
        }
        if !now.hasSameContentStamp(as: verified) || now.size != digests.size {
            return .changedAfterVerification("the staged file was written to during or after verification")
        }
        return nil
    }

    /// Renames (or copies, across file systems) the verified file into place. Returns a refusal if the bytes copied
    /// are not the bytes verified.
    private func moveIntoDestination(
        fd: Int32,
        from privatePath: String,
        to destinationPath: String,
        mode: mode_t,
        digests: FileDigests
    ) throws(SignatureGateError) -> GateRefusal? {
        try Self.makeDirectory((destinationPath as NSString).deletingLastPathComponent, mode: 0o755)
        guard fchmod(fd, mode) == 0 else {
            throw SignatureGateError(.io, privatePath, "cannot set mode \(String(mode, radix: 8)): \(ErrnoText.of())")
        }
        if rename(privatePath, destinationPath) == 0 {
            Self.syncDirectory((destinationPath as NSString).deletingLastPathComponent)
            return nil
        }
        guard errno == EXDEV else {
            throw SignatureGateError(.io, destinationPath, "cannot move the verified file: \(ErrnoText.of())")
        }
        // Another file system: copy from the verified descriptor, re-hash while copying, fsync, rename.
        let directory = (destinationPath as NSString).deletingLastPathComponent
        let temporary = directory + "/.swtorrent-release-" + Hex.encode(secureRandomBytes(8)) + ".part"
        let out = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard out >= 0 else { throw SignatureGateError(.io, temporary, "cannot create: \(ErrnoText.of())") }
        var keep = false
        defer {
            close(out)
            if !keep { unlink(temporary) }
        }
        let digest = IncrementalDigest(.sha256)
        let offset: Int64
        do {
            offset = try FileCopy.copy(from: fd, privatePath, to: out, temporary) { digest.update($0) }
        } catch {
            throw SignatureGateError(.io, error.path, error.reason)
        }
        guard digest.finalize() == digests.sha256, offset == digests.size else {
            return .changedAfterVerification("the bytes copied to the destination differ from the bytes verified")
        }
        guard fchmod(out, mode) == 0, fsync(out) == 0 else {
            throw SignatureGateError(.io, temporary, "cannot set mode / fsync: \(ErrnoText.of())")
        }
        guard rename(temporary, destinationPath) == 0 else {
            throw SignatureGateError(.io, destinationPath, "cannot rename into place: \(ErrnoText.of())")
        }
        keep = true
        Self.syncDirectory(directory)
        unlink(privatePath)
        return nil
    }

    /// Moves a refused file into quarantine (copying across file systems) with a `.reason` file beside it.
    private func quarantine(
        _ privatePath: String, name: String, reason: GateRefusal
    ) throws(SignatureGateError)
        -> String
    {
        let stamp = AuditLog.now().replacingOccurrences(of: ":", with: "")
        let base = name.replacingOccurrences(of: "/", with: "_")
        let target = quarantineDirectory + "/" + base + "." + stamp + "-" + Hex.encode(secureRandomBytes(4))
        if rename(privatePath, target) != 0 {
            guard errno == EXDEV else {
                throw SignatureGateError(.io, target, "cannot move into quarantine: \(ErrnoText.of())")
            }
            do {
                try FileManager.default.copyItem(atPath: privatePath, toPath: target)
            } catch {
                throw SignatureGateError(.io, target, "cannot copy into quarantine: \(error)")
            }
            unlink(privatePath)
        }
        _ = chmod(target, 0o600)
        let note = "\(name): \(reason.name): \(reason)\n"
        _ = FileManager.default.createFile(atPath: target + ".reason", contents: Data(note.utf8), attributes: nil)
        return target
    }

    static func safeRelativePath(_ path: String) -> Bool {
        !path.isEmpty && !path.hasPrefix("/")
            && !path.split(separator: "/", omittingEmptySubsequences: false).contains {
                $0.isEmpty || $0 == ".." || $0 == "."
            }
    }

    static func makeDirectory(_ path: String, mode: mode_t) throws(SignatureGateError) {
        var info = stat()
        if stat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else { throw SignatureGateError(.io, path, "not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: Int(mode)]
            )
        } catch {
            throw SignatureGateError(.io, path, "cannot create directory: \(error)")
        }
    }

    static func realPath(_ path: String) throws(SignatureGateError) -> String {
        guard let resolved = realpath(path, nil) else {
            throw SignatureGateError(.io, path, "cannot resolve: \(ErrnoText.of())")
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
