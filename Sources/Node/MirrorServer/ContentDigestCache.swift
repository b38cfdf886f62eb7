import CryptoPrimitives
import Foundation
import SystemSupport

/// SHA-256 digests of served files kept across restarts, keyed by the file's identity and version: device, inode,
/// size and modification time (``FileFingerprint``). One small file per digest in the daemon's state directory,
/// `STATE/sha256/<device>-<inode>-<size>-<mtime-ns>`, holding 64 hex digits; a file that changes gets a new key, so a
/// stale digest is never used. Written to a temporary name and renamed, so a crash never leaves half a digest.
/// ``prune(keeping:)`` deletes the keys of file versions no longer served (the daemon: at start once its torrents
/// settled, and after a torrent file leaves the watch directory or changes).
public struct ContentDigestCache: Sendable {
    /// `STATE/sha256`.
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// The entry's name: `<device>-<inode>-<size>-<mtime-ns>`.
    static func name(of file: FileFingerprint) -> String {
        "\(file.device)-\(file.inode)-\(file.size)-\(file.modificationTime)"
    }

    private func path(_ file: FileFingerprint) -> String {
        "\(directory)/\(Self.name(of: file))"
    }

    /// The digest recorded for this version of the file, if any (anything but 64 hex digits is ignored).
    func digest(of file: FileFingerprint) -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: path(file)), data.count <= 128,
            let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
            text.utf8.count == 64, let bytes = Hex.decode(text)
        else { return nil }
        return bytes
    }

    /// Records the digest (best effort: a cache that cannot be written costs a rehash at the next start).
    func record(_ digest: [UInt8], of file: FileFingerprint) {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let target = path(file)
            let temporary = target + ".tmp-\(getpid())"
            try Data((Hex.encode(digest) + "\n").utf8).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, target) == 0 else {
                unlink(temporary)
                return
            }
        } catch {
            return
        }
    }

    /// Deletes every entry but those of `kept` (the versions of the files served now), and the temporary files of
    /// writers that are gone (another process's `.tmp-<pid>`); names that are neither are not the cache's and are
    /// left alone. One pass over the directory (`readdir`, one `unlink` per entry deleted, nothing held but `kept`):
    /// blocking, so callers run it on a thread pool, never on an event loop.
    ///
    /// - Returns: the number of entries deleted; 0 when the directory does not exist or cannot be read.
    func prune(keeping kept: Set<FileFingerprint>) -> Int {
        let keep = Set(kept.map(Self.name(of:)))
        guard let stream = opendir(directory) else { return 0 }
        defer { closedir(stream) }
        let ownTemporary = ".tmp-\(getpid())"
        var removed = 0
        while let record = readdir(stream) {
            let name = withUnsafeBytes(of: record.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard !keep.contains(name), Self.isCacheName(name), !name.hasSuffix(ownTemporary) else { continue }
            if unlink("\(directory)/\(name)") == 0 { removed += 1 }
        }
        return removed
    }

    /// A key (`<device>-<inode>-<size>-<mtime-ns>`, the time negative before 1970) or a key's temporary file
    /// (`<key>.tmp-<pid>`).
    static func isCacheName(_ name: String) -> Bool {
        let digits = { (text: Substring) in !text.isEmpty && text.allSatisfy { $0.isASCII && $0.isNumber } }
        let parts = name.split(separator: ".tmp-", maxSplits: 1, omittingEmptySubsequences: false)
        var fields = parts[0].split(separator: "-", maxSplits: 3, omittingEmptySubsequences: false)
        if fields.count == 4, fields[3].hasPrefix("-") { fields[3] = fields[3].dropFirst() }
        return fields.count == 4 && fields.allSatisfy(digits) && (parts.count == 1 || digits(parts[1]))
    }
}
