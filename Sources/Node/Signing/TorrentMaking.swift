import Foundation
import Metainfo
import SignatureGate

/// `make` as a library call: scans the content, hashes it (the pieces, and each file's SHA-256 — plus BLAKE2b-512
/// for minisign keys — in the same read pass when there are signing keys), embeds the signatures and writes the
/// torrent.
public struct TorrentMaking: Sendable {
    public var options: TorrentOptions
    public var signingKeys: [ArtifactSigningKey]

    /// - Parameters:
    ///   - options: the torrent's options; the whole-file digests the keys need are added to them.
    ///   - signingKeys: keys that sign every file (``MakeSigning/loadKeys(_:)``); none for an unsigned torrent.
    public init(options: TorrentOptions, signingKeys: [ArtifactSigningKey] = []) {
        self.options = options
        self.signingKeys = signingKeys
        if !signingKeys.isEmpty { self.options.fileDigests = MakeSigning.fileDigests(for: signingKeys) }
    }

    /// What was written where.
    public struct Written: Sendable {
        public var made: MadeTorrent
        public var destination: String
        /// The torrent's bytes as written (with the embedded signatures).
        public var bytes: [UInt8]
    }

    /// Makes the torrent of `path` and writes it to `destination` (default: `NAME.torrent` in the current
    /// directory).
    ///
    /// - Parameters:
    ///   - overwrite: replace an existing file (atomically); otherwise an existing destination is an error.
    ///   - progress: bytes hashed so far and in all, from the hashing threads.
    /// - Throws: ``NodeError`` `.outputExists` (checked before hashing), `.io` when the content cannot be read or
    ///   the torrent written, `.malformedInput` for unusable content or options, or a signing error.
    public func make(
        path: String, destination: String?, overwrite: Bool, progress: ((Int64, Int64) -> Void)? = nil
    ) throws(NodeError) -> Written {
        do {
            let content = try TorrentContent.scan(path)
            let destination = destination ?? content.name + ".torrent"
            if !overwrite, FileManager.default.fileExists(atPath: destination) {
                throw NodeError(.outputExists, "\(destination): already exists")
            }
            let made = try TorrentBuilder(options: options).make(content: content, progress: progress)
            let bytes = signingKeys.isEmpty ? made.bytes : try MakeSigning.embed(made: made, keys: signingKeys)
            do {
                try Data(bytes).write(
                    to: URL(fileURLWithPath: destination), options: overwrite ? [.atomic] : [.withoutOverwriting])
            } catch {
                throw NodeError(.io, "\(destination): cannot write: \(error.localizedDescription)")
            }
            return Written(made: made, destination: destination, bytes: bytes)
        } catch let error as MetainfoError {
            throw NodeError(error.code == .fileSystem ? .io : .malformedInput, error.description)
        } catch let error as NodeError {
            throw error
        } catch {
            throw NodeError(.io, "\(error)")
        }
    }
}
