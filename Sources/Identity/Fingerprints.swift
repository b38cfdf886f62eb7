/// Fingerprint listings for `swtorrent keygen --fingerprint FILE`, in the spirit of `ssh-keygen -l -f FILE`.
public enum Fingerprints {
    /// One line per key in the file at `path`, which may be a private key file, a `.pub` file or an allowlist:
    ///
    ///     SHA256:Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw vector-node
    ///     SHA256:… old-laptop (revoked, line 6)
    ///     passkey <redacted> aria2 on ci-7
    ///
    /// A private key file is read with the same permission check as for use (mode 0600 or stricter); passkey tokens
    /// are never printed.
    /// - Throws: `IdentityError` naming the file (and line) if it cannot be read or parsed.
    public static func lines(ofFileAt path: String) throws(IdentityError) -> [String] {
        let bytes = try SecureFile.readFile(path: path, maximumSize: Allowlist.maximumFileSize, requirePrivate: false)
        let isPrivateKey = String(decoding: bytes.prefix(NodeKey.maximumFileSize), as: UTF8.self)
            .split(separator: "\n")
            .contains { $0.drop(while: { $0 == " " || $0 == "\t" }).hasPrefix(NodeKey.secretKeyTag + " ") }
        if isPrivateKey {
            let key = try NodeKey.load(path: path)
            return ["\(key.fingerprint) \(key.name)"]
        }
        let allowlist = try Allowlist(parsing: bytes, path: path)
        return allowlist.entries.map { entry in
            let suffix = entry.isRevoked ? " (revoked, line \(entry.line ?? 0))" : ""
            switch entry.credential {
            case .nodeKey(let key): return "\(key.fingerprint) \(entry.name)\(suffix)"
            case .passkey: return "passkey <redacted> \(entry.name)\(suffix)"
            }
        }
    }
}
