import CryptoPrimitives
import Foundation
import SystemSupport

/// SHA-256 digests of served files kept across restarts, keyed by the file's identity and version: device, inode,
/// size and modification time (``FileFingerprint``). One small file per digest in the daemon's state directory,
/// `STATE/sha256/<device>-<inode>-<size>-<mtime-ns>`, holding 64 hex digits; a file that changes gets a new key, so a
/// stale digest is never used, and old keys are only a few bytes each. Written to a temporary name and renamed, so
/// a crash never leaves half a digest.
public struct ContentDigestCache: Sendable {
    /// `STATE/sha256`.
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    private func path(_ file: FileFingerprint) -> String {
        "\(directory)/\(file.device)-\(file.inode)-\(file.size)-\(file.modificationTime)"
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
}
