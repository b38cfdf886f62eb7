import Bencode
import CryptoPrimitives
import Logging
import SwarmPrimitives
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The set of tracked info-hashes: the v1 info-hash of every `.torrent` file in a directory.
public enum TorrentRegistry {
    /// Largest .torrent file read.
    public static let maximumTorrentSize = 64 << 20
    /// Most .torrent files read from one directory.
    public static let maximumTorrentCount = 1_000_000

    /// Reads every `*.torrent` in `directory` and returns their info-hashes (SHA-1 over the raw `info` bytes).
    /// Files that cannot be read or parsed are skipped with a warning naming them.
    /// - Throws: `TrackerError(.configuration)` if the directory cannot be listed.
    public static func scan(directory: String, logger: Logger) throws(TrackerError) -> Set<InfoHash> {
        guard let dir = opendir(directory) else {
            throw TrackerError(
                .configuration, directory,
                "cannot list the torrents directory (\(ErrnoText.of())); check that it exists and is readable")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir), names.count < maximumTorrentCount {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(".torrent") && !name.hasPrefix(".") { names.append(name) }
        }
        var hashes = Set<InfoHash>()
        for name in names.sorted() {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            do {
                hashes.insert(try infoHash(ofTorrentAt: path))
            } catch {
                logger.warning("skipping torrent file", metadata: ["file": "\(path)", "error": "\(error)"])
            }
        }
        return hashes
    }

    /// The v1 info-hash of one .torrent file.
    /// - Throws: `TrackerError(.configuration)` naming the file.
    public static func infoHash(ofTorrentAt path: String) throws(TrackerError) -> InfoHash {
        let bytes = try readFile(path)
        let document: BencodeDocument
        do {
            document = try BencodeDecoder(options: .lenient).decodeDocument(bytes)
        } catch {
            throw TrackerError(.configuration, path, "not a bencoded torrent: \(error)")
        }
        guard let info = document.rawBytes(atPath: ["info"]) else {
            throw TrackerError(.configuration, path, "has no info dictionary")
        }
        return InfoHash(DigestAlgorithm.sha1.hash(info))!
    }

    private static func readFile(_ path: String) throws(TrackerError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TrackerError(.configuration, path, "cannot open (\(ErrnoText.of()))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TrackerError(.configuration, path, "cannot read (\(ErrnoText.of()))")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            guard bytes.count <= maximumTorrentSize else {
                throw TrackerError(.configuration, path, "larger than \(maximumTorrentSize) bytes")
            }
        }
        return bytes
    }
}
