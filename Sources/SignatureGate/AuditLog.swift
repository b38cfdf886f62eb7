import Foundation
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Bytes one peer supplied for a file (from the engine), recorded in the audit log.
public struct PeerContribution: Sendable, Hashable, Codable {
    /// The peer's address (`ip:port`) or node key id.
    public var peer: String
    public var bytes: Int64
    /// The peer's allowlist name, when it authenticated with a node key (private swarms over TLS).
    public var name: String?
    /// The fingerprint (`SHA256:…`) of the node key it authenticated with.
    public var key: String?

    public init(peer: String, bytes: Int64, name: String? = nil, key: String? = nil) {
        self.peer = peer
        self.bytes = bytes
        self.name = name
        self.key = key
    }
}

/// The release manifest a decision was made under, as the audit log names it.
public struct ManifestReference: Sendable, Hashable, Codable {
    public var name: String
    public var version: String
    /// Hex SHA-256 of the manifest bytes that were verified.
    public var sha256: String
    /// Key ids of the trusted signers whose signatures over the manifest verified.
    public var signers: [String]
    /// Where the manifest was read from (a path or a URL).
    public var source: String

    public init(name: String, version: String, sha256: String, signers: [String], source: String) {
        self.name = name
        self.version = version
        self.sha256 = sha256
        self.signers = signers
        self.source = source
    }
}

/// One line of the audit log (JSON). See Docs/signing.md for the schema.
public struct AuditRecord: Sendable, Hashable, Codable {
    /// RFC 3339 UTC time of the decision.
    public var time: String
    /// Hex info-hash of the torrent the file came from, when known.
    public var infoHash: String?
    /// The file's name relative to the destination.
    public var file: String
    /// Lower-case hex SHA-256 of the bytes that were verified.
    public var sha256: String?
    public var size: Int64?
    /// Key ids of the trusted signers whose signatures verified.
    public var signers: [String]
    /// `released` (enough trusted signers verified), `released-unsigned` (the policy required no signer and none
    /// verified; see ``reason``) or `quarantined`.
    public var result: String
    /// The rejection reason's name (`invalid-signature`, …) when quarantined; `no-trust-policy` or
    /// `unsigned-allowed` when released unsigned; nil for a signed release.
    public var reason: String?
    /// Human-readable detail.
    public var message: String
    /// Where the file went: the destination path or the quarantine path.
    public var path: String
    public var peers: [PeerContribution]?
    /// The release manifest the file (or the manifest itself, for a refused manifest) was decided under.
    public var manifest: ManifestReference?

    public init(
        time: String, infoHash: String?, file: String, sha256: String?, size: Int64?, signers: [String],
        result: String, reason: String?, message: String, path: String, peers: [PeerContribution]?,
        manifest: ManifestReference? = nil
    ) {
        self.time = time
        self.infoHash = infoHash
        self.file = file
        self.sha256 = sha256
        self.size = size
        self.signers = signers
        self.result = result
        self.reason = reason
        self.message = message
        self.path = path
        self.peers = peers
        self.manifest = manifest
    }

    enum CodingKeys: String, CodingKey {
        case time
        case infoHash = "info_hash"
        case file, sha256, size, signers, result, reason, message, path, peers, manifest
    }
}

/// An append-only JSON-lines audit log. Each record is written with a single `write(2)` on an `O_APPEND`
/// descriptor and fsynced, so concurrent writers never interleave and a crash loses at most the record being
/// written.
public struct AuditLog: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Appends one record.
    public func append(_ record: AuditRecord) throws(SignatureGateError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line: [UInt8]
        do {
            line = Array(try encoder.encode(record))
        } catch {
            throw SignatureGateError(.io, path, "cannot encode audit record: \(error)")
        }
        line.append(UInt8(ascii: "\n"))
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SignatureGateError(.io, path, "cannot open the audit log: \(ErrnoText.of())") }
        defer { close(fd) }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else {
            throw SignatureGateError(.io, path, "short write to the audit log: \(ErrnoText.of())")
        }
        guard fsync(fd) == 0 else { throw SignatureGateError(.io, path, "fsync failed: \(ErrnoText.of())") }
    }

    /// Reads all records (for tests and `swtorrent` tooling); bounded to 64 MiB.
    public func records() throws(SignatureGateError) -> [AuditRecord] {
        let bytes = try BoundedInput.read(path, limit: 64 << 20)
        var out: [AuditRecord] = []
        for line in bytes.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            do {
                out.append(try JSONDecoder().decode(AuditRecord.self, from: Data(line)))
            } catch {
                throw SignatureGateError(.io, path, "audit log line is not a record: \(error)")
            }
        }
        return out
    }

    public static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date())
    }
}
