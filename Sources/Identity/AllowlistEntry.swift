/// One credential of the allowlist: a node key or a passkey, with its name and whether it is revoked.
public struct AllowlistEntry: Sendable, CustomStringConvertible {
    /// What the entry admits, as a hashable handle. The tracker can remember it with each peer and ask the current
    /// allowlist about it (`Allowlist.status(of:)`) before handing the peer out.
    public enum Credential: Sendable, Hashable, CustomStringConvertible {
        /// A node's Ed25519 key (signed announces).
        case nodeKey(NodePublicKey)
        /// A passkey, by the SHA-256 of its token (the token itself stays out of logs and maps).
        case passkey(PasskeyDigest)

        /// `ed25519 SHA256:…` or `passkey` — safe for logs.
        public var description: String {
            switch self {
            case .nodeKey(let key): "ed25519 \(key.fingerprint)"
            case .passkey: "passkey"
            }
        }
    }

    /// Whether the entry admits its holder.
    public enum Status: Sendable, Hashable {
        /// An `ed25519` or `passkey` line: admitted.
        case active
        /// A `revoked ed25519` or `revoked passkey` line: refused as revoked.
        case revokedInFile
        /// Listed before a reload and absent after it (`Allowlist.carryingRevocations(from:)`): refused as revoked.
        case removedOnReload
    }

    /// The credential.
    public let credential: Credential
    /// The name given on the line.
    public let name: String
    /// Active or revoked (and how).
    public let status: Status
    /// The 1-based line of the file it came from; nil for `.removedOnReload`.
    public let line: Int?
    /// The token, for constant-time confirmation of passkey lookups.
    let passkey: Passkey?

    init(credential: Credential, name: String, status: Status, line: Int?, passkey: Passkey?) {
        self.credential = credential
        self.name = name
        self.status = status
        self.line = line
        self.passkey = passkey
    }

    /// True unless the status is `.active`.
    public var isRevoked: Bool { status != .active }

    /// `"name" (ed25519 SHA256:…, line 3)`, with `revoked` when revoked — never a passkey token.
    public var description: String {
        var parts = [credential.description]
        if let line { parts.append("line \(line)") }
        switch status {
        case .active: break
        case .revokedInFile: parts.append("revoked")
        case .removedOnReload: parts.append("revoked: removed from the allowlist")
        }
        return "\"\(name)\" (\(parts.joined(separator: ", ")))"
    }
}

/// The answer to an allowlist lookup. Unknown and revoked are distinct so the tracker can say which.
public enum AllowlistLookup: Sendable {
    /// Listed and not revoked.
    case allowed(AllowlistEntry)
    /// Listed as revoked, or removed from the file since an earlier version.
    case revoked(AllowlistEntry)
    /// Never listed (in this process's view).
    case unknown
}
