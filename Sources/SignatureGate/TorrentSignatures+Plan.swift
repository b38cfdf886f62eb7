/// Which signatures apply to which file of a torrent.
public struct ArtifactSignatures: Sendable, Hashable {
    /// The artifact (a file of the torrent that is not itself a shipped signature file).
    public var file: TorrentFileEntry
    /// Signatures embedded in the torrent for this file.
    public var embedded: [EmbeddedSignature]
    /// Detached signature files shipped in the torrent next to the artifact (`NAME.sig`, `NAME.minisig`,
    /// `NAME.sigstore.json`), as paths in the torrent.
    public var shipped: [[String]]

    /// Loads every signature for the artifact: the embedded ones, and the shipped files read from under
    /// `dataDirectory` (the directory that holds the torrent's top-level name).
    public func signatures(dataDirectory: String) throws(SignatureGateError) -> [DetachedSignature] {
        var out: [DetachedSignature] = []
        for entry in embedded { out.append(try entry.detached()) }
        for path in shipped {
            out.append(try DetachedSignature.load(TorrentSignatures.contentPath(path, dataDirectory: dataDirectory)))
        }
        return out
    }
}

extension TorrentSignatures {
    /// Extensions of detached signature files that count when shipped next to an artifact inside a torrent.
    public static let shippedSignatureExtensions = [".sig", ".minisig", ".sigstore.json"]

    /// Groups a torrent's files into artifacts and their signatures. A file named `X.sig`, `X.minisig` or
    /// `X.sigstore.json` whose `X` is also in the torrent is a signature of `X`, not an artifact of its own.
    public static func plan(files: [TorrentFileEntry], embedded: [EmbeddedSignature]) -> [ArtifactSignatures] {
        let paths = Set(files.map(\.path))
        func signedTarget(_ path: [String]) -> [String]? {
            guard let last = path.last else { return nil }
            for ext in shippedSignatureExtensions where last.hasSuffix(ext) && last.count > ext.count {
                let target = Array(path.dropLast()) + [String(last.dropLast(ext.count))]
                if paths.contains(target) { return target }
            }
            return nil
        }
        var shipped: [[String]: [[String]]] = [:]
        for file in files {
            if let target = signedTarget(file.path) { shipped[target, default: []].append(file.path) }
        }
        return files.filter { signedTarget($0.path) == nil }.map { file in
            ArtifactSignatures(
                file: file, embedded: embedded.filter { $0.path == file.path }, shipped: shipped[file.path] ?? []
            )
        }
    }
}
