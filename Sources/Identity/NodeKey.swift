import CryptoPrimitives

/// A node's Ed25519 identity: the private key with its name.
///
/// On disk (see `Docs/identity.md`) the private key file holds one line
/// `swtorrent-ed25519-secret <base64 of the 32-byte seed> <name>` (and optional `#` comment lines), mode 0600; the
/// public key file beside it (`PATH.pub`) holds exactly one allowlist line `ed25519 <base64 key> <name>`.
public struct NodeKey: Sendable {
    /// The first word of the key line in a private key file.
    public static let secretKeyTag = "swtorrent-ed25519-secret"
    /// Private key files larger than this are refused unread.
    public static let maximumFileSize = 64 * 1024

    /// The libsodium key pair.
    public let keyPair: Ed25519.KeyPair
    /// The node's name, carried into the `.pub` line.
    public let name: String

    /// The public half.
    public var publicKey: NodePublicKey { NodePublicKey(bytes: keyPair.publicKey)! }

    /// The public key's fingerprint, `SHA256:…`.
    public var fingerprint: String { publicKey.fingerprint }

    /// Makes a new random key.
    /// - Throws: `IdentityError.invalidName` if the name breaks the rules of `EntryName`.
    public static func generate(name: String) throws(IdentityError) -> NodeKey {
        try EntryName.validate(name)
        return NodeKey(keyPair: .generate(), name: name)
    }

    /// Derives the key from a 32-byte seed (deterministic; for tests and for loading key files).
    /// - Throws: `IdentityError.malformedKeyFile` for a seed of the wrong length, `.invalidName` for a bad name.
    public init(seed: [UInt8], name: String) throws(IdentityError) {
        guard let pair = Ed25519.KeyPair(seed: seed) else {
            throw IdentityError(.malformedKeyFile, "an Ed25519 seed is 32 bytes, not \(seed.count)")
        }
        try EntryName.validate(name)
        self.init(keyPair: pair, name: name)
    }

    private init(keyPair: Ed25519.KeyPair, name: String) {
        self.keyPair = keyPair
        self.name = name
    }

    /// Signs `message` (a detached 64-byte Ed25519 signature).
    public func sign(_ message: [UInt8]) -> [UInt8] { keyPair.sign(message) }

    /// The allowlist line for this node, without a newline: `ed25519 <base64 key> <name>`.
    public var allowlistLine: String { "ed25519 \(publicKey.base64) \(name)" }

    /// The full text of the private key file.
    public var secretFileContents: String {
        """
        # swtorrent node private key. Keep it secret: mode 0600, never copy it off this host.
        # The public half is the allowlist line in the .pub file beside it. Fingerprint: \(fingerprint)
        \(Self.secretKeyTag) \(Base64.encode(keyPair.seed)) \(name)

        """
    }

    /// Parses the text of a private key file; `path` is used in error messages only.
    /// - Throws: `IdentityError.malformedKeyFile` or `.invalidName`, naming the path and line.
    public init(parsing text: String, path: String) throws(IdentityError) {
        var found: (seed: [UInt8], name: String, line: Int)?
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = offset + 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(maxSplits: 2, whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == Self.secretKeyTag else {
                throw IdentityError(
                    .malformedKeyFile, path: path, line: lineNumber,
                    "not a swtorrent private key line (expected \"\(Self.secretKeyTag) <base64 seed> <name>\"); "
                        + "replace the file with a new key (`swtorrent keygen` makes one)"
                )
            }
            if let found {
                throw IdentityError(
                    .malformedKeyFile, path: path, line: lineNumber,
                    "a second key line (the first is line \(found.line)); a key file holds exactly one key"
                )
            }
            guard let seed = Base64.decode(fields[1]), seed.count == Ed25519.seedByteCount else {
                throw IdentityError(
                    .malformedKeyFile, path: path, line: lineNumber,
                    "the seed is not 32 bytes of padded base64 (44 characters); the file is damaged, restore it or "
                        + "replace it with a new key (`swtorrent keygen` makes one)"
                )
            }
            let name = fields.count == 3 ? String(fields[2]).trimmingSpacesAndTabs() : ""
            if let problem = EntryName.problem(with: name) {
                throw IdentityError(.invalidName, path: path, line: lineNumber, problem)
            }
            found = (seed, name, lineNumber)
        }
        guard let found else {
            throw IdentityError(
                .malformedKeyFile, path: path,
                "no key line found; make a key there (`swtorrent keygen` makes one)"
            )
        }
        try self.init(seed: found.seed, name: found.name)
    }

    /// Reads a private key file, refusing one that group or others can access.
    /// - Throws: `IdentityError` with `.insecurePermissions` (the message says `chmod 600 PATH`), `.fileNotFound`,
    ///   `.fileUnreadable`, `.notARegularFile`, `.fileTooLarge`, `.malformedKeyFile` or `.invalidName`.
    public static func load(path: String) throws(IdentityError) -> NodeKey {
        let bytes = try SecureFile.readFile(path: path, maximumSize: maximumFileSize, requirePrivate: true)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw IdentityError(.malformedKeyFile, path: path, "not UTF-8 text; this is not a swtorrent key file")
        }
        return try NodeKey(parsing: text, path: path)
    }

    /// Writes the private key to `path` (mode 0600, created that way, never widened) and the allowlist line to
    /// `path.pub` (mode 0644 less the umask).
    ///
    /// Without `force`, refuses if either file exists and creates each with `O_EXCL`-like no-clobber semantics. With
    /// `force`, replaces both atomically (a new file is written beside the old one and renamed over it).
    /// - Throws: `IdentityError.fileExists` (the caller decides how replacing is asked for) or `.writeFailed`.
    public func write(to path: String, force: Bool) throws(IdentityError) {
        let publicPath = path + ".pub"
        if !force {
            for existing in [path, publicPath] where SecureFile.exists(existing) {
                throw IdentityError(
                    .fileExists, path: existing,
                    "already exists; refusing to overwrite a key (replace it explicitly, or write the new key elsewhere)"
                )
            }
        }
        try SecureFile.writeFile(Array(secretFileContents.utf8), to: path, mode: 0o600, replace: force)
        try SecureFile.writeFile(Array((allowlistLine + "\n").utf8), to: publicPath, mode: 0o644, replace: force)
    }
}

extension StringProtocol {
    func trimmingSpacesAndTabs() -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}

extension NodeKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// `NodeKey(SHA256:…, "name")`: the secret never reaches logs through interpolation, `dump` or the debugger.
    public var description: String { "NodeKey(\(fingerprint), \"\(name)\")" }

    /// The same as `description`.
    public var debugDescription: String { description }

    /// Shows the fingerprint and name only.
    public var customMirror: Mirror {
        Mirror(self, children: ["fingerprint": fingerprint, "name": name], displayStyle: .struct)
    }
}
