import Foundation
import SignatureGate
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension GatedLeech {
    /// Copies each torrent file that is already in `output` at its full length, and not yet in staging, into
    /// staging. The engine then checks those bytes like any resumed download. Staging never shares an inode with a
    /// released file, so the output is only ever replaced by rename.
    static func prefillStaging(files: [TorrentFileEntry], from output: String, into staging: String) throws(NodeError) {
        for file in files {
            let relative = file.path.joined(separator: "/")
            let source = output + "/" + relative
            let target = staging + "/" + relative
            guard let found = FileFingerprint(path: source), found.isRegularFile, found.size == file.length,
                file.length > 0, FileFingerprint(path: target) == nil
            else { continue }
            try copy(source, to: target, length: file.length)
        }
    }

    /// Copies `length` bytes of `source` to `target` through a temporary name, renamed into place when complete.
    private static func copy(_ source: String, to target: String, length: Int64) throws(NodeError) {
        let directory = (target as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw NodeError(.io, "\(directory): cannot create the staging directory: \(error)")
        }
        let input = open(source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard input >= 0 else { throw NodeError(.io, "\(source): cannot open: \(ErrnoText.of())") }
        defer { close(input) }
        let temporary = target + ".swtorrent-copy"
        let output = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw NodeError(.io, "\(temporary): cannot create: \(ErrnoText.of())") }
        do {
            try FileCopy.copy(from: input, source, to: output, temporary, length: length)
        } catch {
            close(output)
            unlink(temporary)
            throw NodeError(.io, "\(source): cannot copy into staging: \(error.reason)")
        }
        close(output)
        guard rename(temporary, target) == 0 else {
            let reason = ErrnoText.of()
            unlink(temporary)
            throw NodeError(.io, "\(target): cannot rename into staging: \(reason)")
        }
    }

    /// Removes the directories the download left in staging once their files were released or quarantined (only
    /// empty ones; `rmdir` refuses anything else).
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
