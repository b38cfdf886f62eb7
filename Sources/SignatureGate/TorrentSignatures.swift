import Bencode
import CryptoPrimitives
import Foundation

/// A signature embedded in a torrent, outside the info dictionary (so the info-hash does not change).
///
/// Stored under the top-level key ``TorrentSignatures/key`` as a list of dictionaries:
/// `{"format": "cosign"|"minisign", "key-id": <key id>, "path": [<components>], "sha256": <32 bytes>,
/// "signature": <bytes>}` — for cosign the DER signature, for minisign the whole `.minisig` text.
public struct EmbeddedSignature: Sendable, Hashable {
    /// The file's path inside the torrent (for a single-file torrent: `[name]`).
    public var path: [String]
    public var sha256: [UInt8]
    public var format: SignatureFormat
    public var keyID: String
    public var signature: [UInt8]

    public init(path: [String], sha256: [UInt8], format: SignatureFormat, keyID: String, signature: [UInt8]) {
        self.path = path
        self.sha256 = sha256
        self.format = format
        self.keyID = keyID
        self.signature = signature
    }

    var bencoded: BencodeValue {
        .dict([
            "format": .string(format.rawValue),
            "key-id": .string(keyID),
            "path": .list(path.map { .string($0) }),
            "sha256": .bytes(sha256),
            "signature": .bytes(signature),
        ])
    }

    /// The signature as the verifier takes it, bound to the SHA-256 the torrent records.
    public func detached() throws(SignatureGateError) -> DetachedSignature {
        let origin = "torrent:\(path.joined(separator: "/"))[\(keyID)]"
        switch format {
        case .cosign:
            return DetachedSignature(.cosign(signature), origin: origin, expectedSHA256: sha256)
        case .minisign:
            guard let text = String(validating: signature, as: UTF8.self) else {
                throw SignatureGateError(.malformedSignature, origin, "minisign signature is not text")
            }
            let parsed = try MinisignSignature(text: text, subject: origin)
            return DetachedSignature(.minisign(parsed), origin: origin, expectedSHA256: sha256)
        case .sigstoreBundle:
            return DetachedSignature(
                .bundle(try SigstoreBundle(json: signature, subject: origin)), origin: origin, expectedSHA256: sha256
            )
        }
    }
}

/// A file a torrent describes.
public struct TorrentFileEntry: Sendable, Hashable {
    /// The path in the torrent, starting with the torrent's name.
    public var path: [String]
    public var length: Int64

    public init(path: [String], length: Int64) {
        self.path = path
        self.length = length
    }
}

/// Reading and adding signatures embedded in a torrent. The info dictionary's bytes are never touched: the new
/// torrent is spliced together from the raw bytes of every original top-level value.
public enum TorrentSignatures {
    /// Reads a `.torrent` file (at most 128 MiB, the bencode decoder's bound).
    public static func readTorrentFile(_ path: String) throws(SignatureGateError) -> [UInt8] {
        try BoundedInput.read(path, limit: 128 << 20)
    }

    /// The top-level key holding the signatures.
    public static let key = "swtorrent-signatures"
    static let maxSignatures = 100_000

    static func document(_ torrent: [UInt8], subject: String) throws(SignatureGateError) -> BencodeDocument {
        let document: BencodeDocument
        do {
            document = try BencodeDecoder(options: .lenient).decodeDocument(torrent)
        } catch {
            throw SignatureGateError(.malformedTorrent, subject, "not valid bencode: \(error)")
        }
        guard case .dictionary = document.value, document.value["info"]?.entries != nil else {
            throw SignatureGateError(.malformedTorrent, subject, "no info dictionary")
        }
        return document
    }

    /// The files of the torrent (v1 layout: `length`, or `files` with `path` lists), with paths checked for safety.
    public static func files(of torrent: [UInt8], subject: String) throws(SignatureGateError) -> [TorrentFileEntry] {
        let info = try document(torrent, subject: subject).value["info"]!
        func bad(_ detail: String) -> SignatureGateError { SignatureGateError(.malformedTorrent, subject, detail) }
        guard let name = info["name.utf-8"]?.utf8String ?? info["name"]?.utf8String, Self.safeComponent(name) else {
            throw bad("info.name is missing or not a safe file name")
        }
        if let length = info["length"]?.integer {
            guard length >= 0 else { throw bad("negative length") }
            return [TorrentFileEntry(path: [name], length: length)]
        }
        guard let files = info["files"]?.list, !files.isEmpty else { throw bad("neither length nor files in info") }
        var out: [TorrentFileEntry] = []
        for file in files {
            guard let length = file["length"]?.integer, length >= 0,
                let components = (file["path.utf-8"] ?? file["path"])?.list, !components.isEmpty
            else { throw bad("a files entry lacks length or path") }
            var path = [name]
            for component in components {
                guard let text = component.utf8String, Self.safeComponent(text) else {
                    throw bad("unsafe path component in files")
                }
                path.append(text)
            }
            out.append(TorrentFileEntry(path: path, length: length))
        }
        return out
    }

    static func safeComponent(_ text: String) -> Bool {
        !text.isEmpty && text != "." && text != ".." && !text.contains("/") && !text.contains("\0")
    }

    /// The signatures embedded in a torrent (empty when there are none).
    public static func read(_ torrent: [UInt8], subject: String) throws(SignatureGateError) -> [EmbeddedSignature] {
        let doc = try document(torrent, subject: subject)
        guard let list = doc.value[key] else { return [] }
        func bad(_ detail: String) -> SignatureGateError {
            SignatureGateError(.malformedTorrent, subject, "\(key): \(detail)")
        }
        guard let entries = list.list, entries.count <= maxSignatures else { throw bad("must be a list") }
        var out: [EmbeddedSignature] = []
        for entry in entries {
            guard let formatText = entry["format"]?.utf8String, let format = SignatureFormat(rawValue: formatText),
                let keyID = entry["key-id"]?.utf8String, let sha256 = entry["sha256"]?.bytes, sha256.count == 32,
                let signature = entry["signature"]?.bytes, let components = entry["path"]?.list
            else { throw bad("each entry needs format, key-id, path, sha256 (32 bytes) and signature") }
            let path = components.compactMap(\.utf8String)
            guard path.count == components.count, !path.isEmpty else { throw bad("path must be a list of strings") }
            out.append(
                EmbeddedSignature(path: path, sha256: sha256, format: format, keyID: keyID, signature: signature))
        }
        return out
    }

    /// Returns a torrent with `signatures` added (an existing signature for the same file by the same key is
    /// replaced). Every other top-level value, including `info`, is copied byte for byte.
    public static func adding(
        _ signatures: [EmbeddedSignature], to torrent: [UInt8], subject: String
    )
        throws(SignatureGateError) -> [UInt8]
    {
        let doc = try document(torrent, subject: subject)
        var all = try read(torrent, subject: subject)
        for signature in signatures {
            all.removeAll { $0.path == signature.path && $0.keyID == signature.keyID }
            all.append(signature)
        }
        let keyBytes = Array(key.utf8)
        let newValue = BencodeValue.list(all.map(\.bencoded)).encoded()
        guard let entries = doc.value.entries else {
            throw SignatureGateError(.malformedTorrent, subject, "not a dict")
        }
        var out: [UInt8] = [UInt8(ascii: "d")]
        var inserted = false
        func appendKey(_ k: [UInt8]) {
            out.append(contentsOf: Array(String(k.count).utf8))
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: k)
        }
        for (index, entry) in entries.enumerated() {
            if entry.key == keyBytes { continue }
            if !inserted, keyBytes.lexicographicallyPrecedes(entry.key) {
                appendKey(keyBytes)
                out.append(contentsOf: newValue)
                inserted = true
            }
            appendKey(entry.key)
            out.append(contentsOf: doc.bytes[doc.span.children[index].range])
        }
        if !inserted {
            appendKey(keyBytes)
            out.append(contentsOf: newValue)
        }
        out.append(UInt8(ascii: "e"))
        return out
    }

    /// Where a torrent file's content lies under `dataDirectory` (the directory holding the torrent's top-level
    /// name, as a client's download directory does).
    public static func contentPath(_ path: [String], dataDirectory: String) -> String {
        ([dataDirectory] + path).joined(separator: "/")
    }

    /// Hashes each file of the torrent under `dataDirectory`, signs it with `key`, and returns the torrent with the
    /// signatures embedded.
    public static func sign(
        torrent: [UInt8], subject: String, dataDirectory: String, key: ArtifactSigningKey
    )
        throws(SignatureGateError) -> (torrent: [UInt8], signed: [EmbeddedSignature])
    {
        var made: [EmbeddedSignature] = []
        for file in try files(of: torrent, subject: subject) {
            let path = contentPath(file.path, dataDirectory: dataDirectory)
            let digests = try FileDigests.compute(path: path, needs: key.needs)
            guard digests.size == file.length else {
                throw SignatureGateError(
                    .io, path, "is \(digests.size) bytes but the torrent says \(file.length); is this the torrent's data directory?"
                )
            }
            made.append(try embedded(for: file.path, digests: digests, key: key))
        }
        return (try adding(made, to: torrent, subject: subject), made)
    }

    /// Signs one file given its digests, as an embedded signature (used by `make --sign`, which computes the
    /// digests in its hashing pass).
    public static func embedded(
        for path: [String], digests: FileDigests, key: ArtifactSigningKey
    )
        throws(SignatureGateError) -> EmbeddedSignature
    {
        guard let sha256 = digests.sha256 else {
            throw SignatureGateError(.signingFailed, path.joined(separator: "/"), "SHA-256 was not computed")
        }
        let text = try key.sign(digests: digests, fileName: path.last ?? "")
        let signature: [UInt8]
        switch key {
        case .cosign: signature = Base64.decode(lenient: text) ?? []
        case .minisign: signature = Array(text.utf8)
        }
        return EmbeddedSignature(path: path, sha256: sha256, format: key.format, keyID: key.keyID, signature: signature)
    }
}
