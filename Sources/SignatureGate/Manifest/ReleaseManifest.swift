import CryptoPrimitives
import Foundation

/// A release manifest: one small JSON document that says what a release is (name, version, files with size and
/// SHA-256, the torrent) and every place it may come from (mirrors with their site, an origin), valid from its
/// creation time until it expires. It travels signed, inside a ``SignedManifest``; the schema and canonical form are
/// in Docs/manifest.md.
public struct ReleaseManifest: Sendable, Hashable {
    /// The value of the `schema` field this reader understands.
    public static let schema = "swtorrent-release-manifest/1"
    /// Bounds on what a manifest may hold.
    public static let maxBytes = 32 << 20
    public static let maxFiles = 100_000
    public static let maxMirrors = 64
    public static let maxAttestationsPerFile = 8

    /// One file of the release.
    public struct File: Sendable, Hashable {
        /// The path in the torrent, starting with the torrent's name (as the audit log writes it, joined with `/`).
        public var path: [String]
        public var size: Int64
        /// The file's SHA-256: the gate releases the file only if its bytes have this digest.
        public var sha256: [UInt8]
        /// Provenance attestations for the file: DSSE envelopes or sigstore bundles holding one, byte for byte as
        /// `cosign attest-blob` wrote them (``ProvenanceAttestation``).
        public var attestations: [[UInt8]]

        public init(path: [String], size: Int64, sha256: [UInt8], attestations: [[UInt8]] = []) {
            self.path = path
            self.size = size
            self.sha256 = sha256
            self.attestations = attestations
        }

        public var displayPath: String { path.joined(separator: "/") }
        /// ``sha256`` in lower-case hex.
        public var sha256Hex: String { Hex.encode(sha256) }
    }

    /// An HTTP(S) mirror of the release (a BEP 19 web seed: `URL` + the file's path in the torrent), with the site it
    /// is in, when the manifest says.
    public struct Mirror: Sendable, Hashable {
        public var url: String
        public var site: String?

        public init(url: String, site: String? = nil) {
            self.url = url
            self.site = site
        }
    }

    /// The release's name: the key for rollback protection (1 to 128 of `A-Z a-z 0-9 . _ -`).
    public var name: String
    public var version: ReleaseVersion
    /// Creation and expiry times, whole seconds since 1970 (RFC 3339 UTC in the JSON).
    public var created: Int64
    public var expires: Int64
    public var files: [File]
    /// The torrent's v1 info-hash, lower-case hex.
    public var infoHash: String
    /// The `.torrent` bytes, embedded.
    public var torrent: [UInt8]
    public var mirrors: [Mirror]
    /// The origin (CDN) base URL: `URL` + the file's path in the torrent is the file; a last resort.
    public var origin: String?

    public init(
        name: String, version: ReleaseVersion, created: Int64, expires: Int64, files: [File], infoHash: String,
        torrent: [UInt8], mirrors: [Mirror] = [], origin: String? = nil
    ) {
        self.name = name
        self.version = version
        self.created = created
        self.expires = expires
        self.files = files
        self.infoHash = infoHash
        self.torrent = torrent
        self.mirrors = mirrors
        self.origin = origin
    }

    // MARK: Reading

    /// Parses manifest JSON (the bytes a ``SignedManifest`` carries) and checks the schema.
    ///
    /// - Throws: ``SignatureGateError`` `.malformedManifest` naming `subject` and the field, or `.inputTooLarge`.
    public init(json bytes: [UInt8], subject: String) throws(SignatureGateError) {
        func bad(_ detail: String) -> SignatureGateError { SignatureGateError(.malformedManifest, subject, detail) }
        let object = try BoundedInput.jsonObject(
            bytes, limit: Self.maxBytes, subject: subject, code: .malformedManifest, expected: "a release manifest")
        guard object["schema"] as? String == Self.schema else {
            throw bad("schema must be \"\(Self.schema)\" (got \(object["schema"].map { "\($0)" } ?? "none"))")
        }
        let known: Set<String> = [
            "schema", "name", "version", "created", "expires", "files", "info_hash", "torrent", "mirrors", "origin",
        ]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw bad("unknown field '\(unknown)' (this reader knows \(Self.schema))")
        }
        guard let name = object["name"] as? String, Self.isValidName(name) else {
            throw bad("name must be 1 to 128 characters of A-Z a-z 0-9 . _ -")
        }
        guard let versionText = object["version"] as? String else { throw bad("version must be a string") }
        version = try ReleaseVersion(versionText, subject: subject)
        guard let createdText = object["created"] as? String, let created = Self.parseTime(createdText) else {
            throw bad("created must be an RFC 3339 UTC time like 2026-12-02T18:00:00Z")
        }
        guard let expiresText = object["expires"] as? String, let expires = Self.parseTime(expiresText) else {
            throw bad("expires must be an RFC 3339 UTC time like 2026-12-09T18:00:00Z")
        }
        guard expires > created else { throw bad("expires (\(expiresText)) is not after created (\(createdText))") }
        guard let infoHash = object["info_hash"] as? String, infoHash.utf8.count == 40,
            let hashBytes = Hex.decode(infoHash), hashBytes.count == 20
        else { throw bad("info_hash must be 40 hex digits (the torrent's v1 info-hash)") }
        guard let torrentText = object["torrent"] as? String, let torrent = Base64.decode(torrentText),
            !torrent.isEmpty
        else { throw bad("torrent must be the base64 of the .torrent file") }
        guard let fileList = object["files"] as? [Any], (1...Self.maxFiles).contains(fileList.count) else {
            throw bad("files must be a list of 1 to \(Self.maxFiles) entries")
        }
        var files: [File] = []
        for (index, entry) in fileList.enumerated() {
            files.append(try Self.file(entry, index: index, bad: bad))
        }
        var mirrors: [Mirror] = []
        if let mirrorList = object["mirrors"] {
            guard let list = mirrorList as? [Any], list.count <= Self.maxMirrors else {
                throw bad("mirrors must be a list of at most \(Self.maxMirrors) entries")
            }
            for entry in list {
                guard let mirror = entry as? [String: Any], let url = mirror["url"] as? String, Self.isHTTPURL(url),
                    Set(mirror.keys).isSubset(of: ["url", "site"]), mirror["site"] == nil || mirror["site"] is String
                else { throw bad("each mirror must be {\"url\": \"http(s)://…\", \"site\": optional string}") }
                mirrors.append(Mirror(url: url, site: mirror["site"] as? String))
            }
        }
        if let origin = object["origin"] {
            guard let url = origin as? String, Self.isHTTPURL(url) else { throw bad("origin must be an http(s) URL") }
            self.origin = url
        } else {
            self.origin = nil
        }
        self.name = name
        self.created = created
        self.expires = expires
        self.infoHash = infoHash.lowercased()
        self.torrent = torrent
        self.files = files
        self.mirrors = mirrors
    }

    private static func file(
        _ entry: Any, index: Int, bad: (String) -> SignatureGateError
    ) throws(SignatureGateError) -> File {
        let at = "files[\(index)]"
        guard let file = entry as? [String: Any], Set(file.keys).isSubset(of: ["path", "size", "sha256", "attestations"])
        else { throw bad("\(at) must be an object with path, size, sha256 and optional attestations") }
        guard let path = file["path"] as? String else { throw bad("\(at).path must be a string") }
        let components = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard components.allSatisfy(TorrentSignatures.safeComponent) else {
            throw bad("\(at).path '\(path)' is not a safe relative path")
        }
        guard let size = (file["size"] as? NSNumber).flatMap({ Int64(exactly: $0.doubleValue) }), size >= 0,
            !(file["size"] is Bool)
        else { throw bad("\(at).size must be a whole number ≥ 0") }
        guard let hex = file["sha256"] as? String, hex.utf8.count == 64, let sha256 = Hex.decode(hex) else {
            throw bad("\(at).sha256 must be 64 hex digits")
        }
        var attestations: [[UInt8]] = []
        if let list = file["attestations"] {
            guard let texts = list as? [String], texts.count <= maxAttestationsPerFile else {
                throw bad("\(at).attestations must be a list of at most \(maxAttestationsPerFile) base64 strings")
            }
            for text in texts {
                guard let bytes = Base64.decode(text), bytes.count <= BoundedInput.smallFileLimit else {
                    throw bad("\(at).attestations: not base64 of at most 1 MiB")
                }
                attestations.append(bytes)
            }
        }
        return File(path: components, size: size, sha256: sha256, attestations: attestations)
    }

    // MARK: Writing

    /// The manifest in canonical form (Docs/manifest.md): UTF-8 JSON, object keys sorted, no whitespace outside
    /// strings, `/` not escaped, optional fields left out when empty. The same manifest always gives the same bytes.
    public var canonicalJSON: [UInt8] {
        struct FileJSON: Encodable {
            var path: String
            var size: Int64
            var sha256: String
            var attestations: [String]?
        }
        struct MirrorJSON: Encodable {
            var url: String
            var site: String?
        }
        struct ManifestJSON: Encodable {
            var schema: String
            var name: String
            var version: String
            var created: String
            var expires: String
            var files: [FileJSON]
            var info_hash: String
            var torrent: String
            var mirrors: [MirrorJSON]?
            var origin: String?
        }
        let document = ManifestJSON(
            schema: Self.schema, name: name, version: version.text, created: Self.formatTime(created),
            expires: Self.formatTime(expires),
            files: files.map {
                FileJSON(
                    path: $0.displayPath, size: $0.size, sha256: Hex.encode($0.sha256),
                    attestations: $0.attestations.isEmpty ? nil : $0.attestations.map { Base64.encode($0) })
            },
            info_hash: infoHash, torrent: Base64.encode(torrent),
            mirrors: mirrors.isEmpty ? nil : mirrors.map { MirrorJSON(url: $0.url, site: $0.site) }, origin: origin)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings, integers, lists and objects cannot fail.
        return Array((try? encoder.encode(document)) ?? Data())
    }

    // MARK: Helpers

    public static func isValidName(_ name: String) -> Bool {
        (1...128).contains(name.utf8.count)
            && name.utf8.allSatisfy {
                (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
                    || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
            }
    }

    public static func isHTTPURL(_ text: String) -> Bool {
        guard text.utf8.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
        else { return false }
        return true
    }

    /// `2026-12-02T18:00:00Z` → seconds since 1970; nil for anything else (fractional seconds and offsets other than
    /// `Z` are refused, so each time has one spelling).
    public static func parseTime(_ text: String) -> Int64? {
        guard text.utf8.count == 20, text.hasSuffix("Z") else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        guard let date = formatter.date(from: text) else { return nil }
        return Int64(date.timeIntervalSince1970)
    }

    public static func formatTime(_ seconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
