import CryptoPrimitives

/// The allowlist: which node keys and passkeys may use the tracker, as a plain text file an operator edits.
///
/// One entry a line, fields separated by spaces or tabs (format in `Docs/identity.md`):
///
///     # comment; blank lines are ignored
///     ed25519 <base64 of the 32-byte key> <name>
///     passkey <token> <name>
///     revoked ed25519 <base64 key> <name>
///     revoked passkey <token> <name>
///
/// The name is the rest of the line (inner spaces allowed). A key or passkey may appear on one line only. Parse
/// errors name the file, the line number and the line (passkey tokens redacted).
public struct Allowlist: Sendable {
    /// Files larger than this are refused unread.
    public static let maximumFileSize = 16 * 1024 * 1024
    /// Longer lines are a parse error.
    public static let maximumLineLength = 4096

    /// Every entry: file order, then entries carried over as revoked by `carryingRevocations(from:)`.
    public private(set) var entries: [AllowlistEntry] = []
    private var index: [AllowlistEntry.Credential: Int] = [:]

    /// An empty allowlist: every lookup answers `.unknown`.
    public init() {}

    /// Reads and parses an allowlist file.
    /// - Throws: `IdentityError` naming the file (and line): `.fileNotFound`, `.fileUnreadable`, `.notARegularFile`,
    ///   `.fileTooLarge`, `.malformedAllowlist`, `.duplicateEntry` or `.invalidName`.
    public static func load(path: String) throws(IdentityError) -> Allowlist {
        let bytes = try SecureFile.readFile(path: path, maximumSize: maximumFileSize, requirePrivate: false)
        return try Allowlist(parsing: bytes, path: path)
    }

    /// Parses allowlist text.
    /// - Parameter path: the file name used in error messages.
    public init(parsing text: String, path: String = "allowlist") throws(IdentityError) {
        try self.init(parsing: Array(text.utf8), path: path)
    }

    /// Parses allowlist bytes (UTF-8 text; `\n` or `\r\n` line ends).
    /// - Parameter path: the file name used in error messages.
    public init(parsing bytes: [UInt8], path: String = "allowlist") throws(IdentityError) {
        guard bytes.count <= Self.maximumFileSize else {
            throw IdentityError(
                .fileTooLarge, path: path, "\(bytes.count) bytes is more than the limit of \(Self.maximumFileSize)"
            )
        }
        var lineNumber = 0
        var start = 0
        while start < bytes.count {
            lineNumber += 1
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            let next = end + 1
            if end > start, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            guard end - start <= Self.maximumLineLength else {
                throw IdentityError(
                    .malformedAllowlist, path: path, line: lineNumber,
                    "line is \(end - start) bytes long; the limit is \(Self.maximumLineLength)"
                )
            }
            guard let line = String(validating: bytes[start..<end], as: UTF8.self) else {
                throw IdentityError(
                    .malformedAllowlist, path: path, line: lineNumber, "not valid UTF-8 text; save the file as UTF-8"
                )
            }
            if let entry = try Self.parseLine(line, number: lineNumber, path: path) {
                try add(entry, path: path)
            }
            start = next
        }
    }

    private mutating func add(_ entry: AllowlistEntry, path: String) throws(IdentityError) {
        if let existing = index[entry.credential] {
            let first = entries[existing]
            let what = if case .nodeKey = entry.credential { "ed25519 key" } else { "passkey" }
            throw IdentityError(
                .duplicateEntry, path: path, line: entry.line,
                "duplicate \(what): already listed on line \(first.line ?? 0) as \"\(first.name)\"; "
                    + "keep one line per \(what) (to revoke it, change that line to start with `revoked`)"
            )
        }
        index[entry.credential] = entries.count
        entries.append(entry)
    }

    /// Parses one line; nil for blank and comment lines.
    static func parseLine(_ line: String, number: Int, path: String) throws(IdentityError) -> AllowlistEntry? {
        var rest = Substring(line)
        guard let first = nextField(&rest) else { return nil }
        if first.hasPrefix("#") { return nil }

        func failure(_ code: IdentityError.Code, _ message: String) -> IdentityError {
            IdentityError(code, path: path, line: number, "\(message) (in \"\(redacted(line))\")")
        }
        let usage = "expected `ed25519 <base64 key> <name>`, `passkey <token> <name>`, or either one after `revoked`"

        var kind = first
        var status = AllowlistEntry.Status.active
        if kind == "revoked" {
            status = .revokedInFile
            guard let second = nextField(&rest) else {
                throw failure(.malformedAllowlist, "`revoked` needs an entry after it; \(usage)")
            }
            kind = second
        }
        guard kind == "ed25519" || kind == "passkey" else {
            throw failure(.malformedAllowlist, "unknown entry type \"\(kind.prefix(40))\"; \(usage)")
        }
        guard let value = nextField(&rest) else {
            throw failure(.malformedAllowlist, "`\(kind)` needs a \(kind == "ed25519" ? "key" : "token") and a name")
        }
        let name = rest.trimmingSpacesAndTabs()
        if name.isEmpty {
            throw failure(.invalidName, "missing name after the \(kind == "ed25519" ? "key" : "token"); every entry "
                + "needs a name, e.g. the host name")
        }
        if let problem = EntryName.problem(with: name) { throw failure(.invalidName, problem) }

        if kind == "ed25519" {
            guard let key = NodePublicKey(base64: value) else {
                throw failure(
                    .malformedAllowlist,
                    "the ed25519 key is not 32 bytes of padded base64 (44 characters ending in `=`); copy the line "
                        + "from the node's .pub file (`swtorrent keygen` writes it)"
                )
            }
            return AllowlistEntry(credential: .nodeKey(key), name: name, status: status, line: number, passkey: nil)
        }
        if let problem = Passkey.problem(with: value) { throw failure(.malformedAllowlist, problem) }
        let passkey = Passkey(token: value)!
        return AllowlistEntry(
            credential: .passkey(passkey.digest), name: name, status: status, line: number, passkey: passkey
        )
    }

    /// Removes and returns the next space- or tab-separated field, leaving the rest (with its leading blanks).
    private static func nextField(_ rest: inout Substring) -> Substring? {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = rest.firstIndex(where: { !isBlank($0) }) else { return nil }
        let end = rest[start...].firstIndex(where: isBlank) ?? rest.endIndex
        let field = rest[start..<end]
        rest = rest[end...]
        return field
    }

    /// The line for an error message: at most 80 characters, and passkey tokens replaced by `<redacted>`.
    private static func redacted(_ line: String) -> String {
        var fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if let position = fields.prefix(2).firstIndex(of: "passkey"), position + 1 < fields.count {
            fields[position + 1] = "<redacted>"
        }
        let shown = fields.joined(separator: " ")
        return shown.count > 80 ? String(shown.prefix(77)) + "..." : shown
    }

    // MARK: Lookups

    /// Looks up a node key (a signed announce's `swt_key`).
    public func lookup(nodeKey: NodePublicKey) -> AllowlistLookup {
        status(of: .nodeKey(nodeKey))
    }

    /// Looks up a passkey token as it came in the URL (percent-decoded bytes).
    ///
    /// The token is located by its SHA-256, then confirmed with a constant-time comparison of the whole token, so
    /// response timing does not reveal how much of a guess matched a real passkey.
    public func lookup(passkey token: some Collection<UInt8>) -> AllowlistLookup {
        guard token.count <= Passkey.maximumLength else { return .unknown }
        let bytes = Array(token)
        guard let position = index[.passkey(PasskeyDigest(token: bytes))],
            let stored = entries[position].passkey,
            constantTimeEquals(Array(stored.token.utf8), bytes)
        else { return .unknown }
        return Self.answer(entries[position])
    }

    /// Looks up a passkey token given as text.
    public func lookup(passkey token: String) -> AllowlistLookup {
        lookup(passkey: Array(token.utf8))
    }

    /// The current standing of a credential remembered from an earlier lookup (for example with a tracker's peer
    /// entry): `.allowed`, `.revoked` or `.unknown`.
    public func status(of credential: AllowlistEntry.Credential) -> AllowlistLookup {
        guard let position = index[credential] else { return .unknown }
        return Self.answer(entries[position])
    }

    private static func answer(_ entry: AllowlistEntry) -> AllowlistLookup {
        entry.isRevoked ? .revoked(entry) : .allowed(entry)
    }

    /// The number of active entries.
    public var activeCount: Int { entries.count { !$0.isRevoked } }

    /// The number of revoked entries (listed as revoked or carried over as removed).
    public var revokedCount: Int { entries.count { $0.isRevoked } }

    // MARK: Reloads

    /// This allowlist (a freshly parsed new version of the file), plus every credential that `previous` knew and
    /// this version no longer lists, carried over as revoked (`.removedOnReload`).
    ///
    /// A tracker that reloads its file calls `new.carryingRevocations(from: current)`: a key deleted from the file
    /// then answers `.revoked` rather than `.unknown`, and keeps doing so over later reloads until the key is
    /// listed again (re-adding a key's line makes it active again). The memory of removed keys lasts for the life
    /// of the process; after a restart only `revoked` lines in the file say "revoked".
    public func carryingRevocations(from previous: Allowlist) -> Allowlist {
        var result = self
        for old in previous.entries where result.index[old.credential] == nil {
            let carried = AllowlistEntry(
                credential: old.credential, name: old.name, status: .removedOnReload, line: nil, passkey: old.passkey
            )
            result.index[carried.credential] = result.entries.count
            result.entries.append(carried)
        }
        return result
    }

    /// The entries that are active in `previous` and not active here: what a reload revoked (for logging and for
    /// dropping the peers they registered).
    public func revokedSince(_ previous: Allowlist) -> [AllowlistEntry] {
        previous.entries.filter { old in
            guard !old.isRevoked else { return false }
            if case .allowed = status(of: old.credential) { return false }
            return true
        }
    }
}
