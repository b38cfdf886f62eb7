import Foundation
import SystemSupport

/// The seed daemon's watch directory, looked at by bounded polling: each scan lists the `.torrent` files (names not
/// starting with `.`, regular files after following a symbolic link) with their fingerprints; comparing two scans
/// tells what was added, changed and removed. The directory is only read, never modified.
///
/// Why polling and not inotify: a scan is one `readdir` and one `stat` per file (a few hundred system calls for
/// hundreds of torrents, well under a millisecond of CPU per scan), it notices files that config management or NFS
/// put in place, which inotify does not always report, and a half-written file needs looking at again anyway.
/// The interval is the config file's `watch.interval` (1 s by default).
enum WatchDirectory {
    /// The `.torrent` files in `path` by file name.
    ///
    /// - Throws: ``NodeError`` `.io` naming the directory when it cannot be listed.
    static func scan(_ path: String) throws(NodeError) -> [String: FileFingerprint] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw NodeError(.io, "watch directory \(path) cannot be listed (\(error.localizedDescription))")
        }
        var found: [String: FileFingerprint] = [:]
        for name in names where name.hasSuffix(".torrent") && !name.hasPrefix(".") {
            guard let fingerprint = FileFingerprint(path: "\(path)/\(name)", followingSymlinks: true),
                fingerprint.isRegularFile
            else { continue }
            found[name] = fingerprint
        }
        return found
    }

    /// What changed between two scans.
    struct Changes: Equatable {
        var added: [String] = []
        /// Still there, with another fingerprint (rewritten or replaced).
        var changed: [String] = []
        var removed: [String] = []
    }

    static func changes(from old: [String: FileFingerprint], to new: [String: FileFingerprint]) -> Changes {
        var changes = Changes()
        for (name, fingerprint) in new {
            if let before = old[name] {
                if before != fingerprint { changes.changed.append(name) }
            } else {
                changes.added.append(name)
            }
        }
        changes.removed = old.keys.filter { new[$0] == nil }
        changes.added.sort()
        changes.changed.sort()
        changes.removed.sort()
        return changes
    }
}
