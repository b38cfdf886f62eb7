import Foundation
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Rollback protection's memory: per release name, the highest version this node has released from a manifest, in
/// `releases.json` in the node's state directory (Docs/manifest.md, "Rollback").
///
/// The file is replaced atomically (written beside it with `O_EXCL`, fsynced, renamed over it, the directory
/// fsynced), and every read-modify-write holds an exclusive `flock` on `releases.lock`, so two leeches finishing at
/// once never lose a version, and a recorded version never goes down.
public struct VersionLedger: Sendable {
    /// What the ledger remembers about one release name.
    public struct Entry: Sendable, Hashable, Codable {
        public var version: String
        /// Hex SHA-256 of the manifest that was accepted.
        public var manifestSHA256: String
        /// RFC 3339 UTC time it was recorded.
        public var accepted: String

        enum CodingKeys: String, CodingKey {
            case version
            case manifestSHA256 = "manifest_sha256"
            case accepted
        }
    }

    public let directory: String
    public var path: String { directory + "/releases.json" }
    var lockPath: String { directory + "/releases.lock" }
    static let maxBytes = 16 << 20

    /// - Parameter directory: the node's state directory (created with mode 0700 when missing).
    public init(directory: String) {
        self.directory = directory
    }

    /// The highest version recorded for `name`, nil if none.
    ///
    /// - Throws: ``SignatureGateError`` `.io` when the file cannot be read, `.malformedManifest` when it is not a
    ///   ledger (never silently treated as empty: that would disable rollback protection).
    public func highest(_ name: String) throws(SignatureGateError) -> ReleaseVersion? {
        guard let entry = try entries()[name] else { return nil }
        return try ReleaseVersion(entry.version, subject: path)
    }

    /// Every entry.
    public func entries() throws(SignatureGateError) -> [String: Entry] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        let bytes = try BoundedInput.read(path, limit: Self.maxBytes)
        do {
            return try JSONDecoder().decode([String: Entry].self, from: Data(bytes))
        } catch {
            throw SignatureGateError(
                .malformedManifest, path,
                "not a release-version ledger (\(error)); restore it from backup, or remove it to forget every version")
        }
    }

    /// Records that `version` of `name` was released, unless a higher one is already recorded.
    ///
    /// - Returns: the highest version now recorded.
    @discardableResult
    public func record(
        _ name: String, version: ReleaseVersion, manifestSHA256: String
    ) throws(SignatureGateError) -> ReleaseVersion {
        try ReleaseGate.makeDirectory(directory, mode: 0o700)
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw SignatureGateError(.io, lockPath, "cannot open: \(ErrnoText.of())") }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            guard errno == EINTR else { throw SignatureGateError(.io, lockPath, "cannot lock: \(ErrnoText.of())") }
        }
        var all = try entries()
        if let current = all[name], let recorded = try? ReleaseVersion(current.version, subject: path),
            recorded >= version
        {
            return recorded
        }
        all[name] = Entry(version: version.text, manifestSHA256: manifestSHA256, accepted: AuditLog.now())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let bytes: [UInt8]
        do {
            bytes = Array(try encoder.encode(all)) + [UInt8(ascii: "\n")]
        } catch {
            throw SignatureGateError(.io, path, "cannot encode: \(error)")
        }
        try Self.replace(path, with: bytes)
        return version
    }

    /// Writes `bytes` to a new file beside `path`, fsyncs it, renames it over `path` and fsyncs the directory.
    static func replace(_ path: String, with bytes: [UInt8]) throws(SignatureGateError) {
        let temporary = path + ".tmp-" + String(getpid())
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SignatureGateError(.io, temporary, "cannot create: \(ErrnoText.of())") }
        var done = false
        defer {
            close(fd)
            if !done { unlink(temporary) }
        }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw SignatureGateError(.io, temporary, "cannot write: \(ErrnoText.of())")
        }
        guard rename(temporary, path) == 0 else {
            throw SignatureGateError(.io, path, "cannot rename into place: \(ErrnoText.of())")
        }
        done = true
        ReleaseGate.syncDirectory((path as NSString).deletingLastPathComponent)
    }
}
