import CryptoPrimitives

/// Announces signed with a node key: the client side (the extra query parameters) and the tracker side (checking
/// them against the allowlist).
///
/// A signed announce is an ordinary BEP 3 announce with three more query parameters:
/// `swt_key` (hex of the 32-byte Ed25519 public key), `swt_ts` (decimal Unix seconds) and `swt_sig` (hex of the
/// 64-byte Ed25519 signature over `canonicalMessage(...)`). `Docs/identity.md` specifies the message byte by byte,
/// with a test vector.
public enum SignedAnnounce {
    /// Query parameter: the node's public key, 64 lower-case hex digits.
    public static let keyParameter = "swt_key"
    /// Query parameter: the signing time, decimal Unix seconds.
    public static let timestampParameter = "swt_ts"
    /// Query parameter: the signature, 128 lower-case hex digits.
    public static let signatureParameter = "swt_sig"
    /// The domain-separation prefix that starts every signed message; the `v1` names the message layout.
    public static let domain: [UInt8] = Array("swtorrent-announce-v1\n".utf8)
    /// How far `swt_ts` may be from the tracker's clock, either way, by default (seconds).
    public static let defaultWindow: Int64 = 300
    /// The longest host (after normalisation) a signed message can carry.
    public static let maximumHostLength = 255
    /// The longest path a signed message can carry.
    public static let maximumPathLength = 2048

    // MARK: Canonical form

    /// Normalises the tracker's authority for signing: ASCII lower case, and a `:80` or `:443` suffix removed.
    ///
    /// `Tracker.Example:8080` → `tracker.example:8080`; `tracker.example:80` → `tracker.example`;
    /// `[::1]:443` → `[::1]`. Nil if the result is empty, longer than 255 bytes, or holds a byte outside printable
    /// ASCII (space excluded).
    public static func canonicalHost(_ authority: some StringProtocol) -> String? {
        var bytes = authority.utf8.map { byte -> UInt8 in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
        }
        for suffix in [":80", ":443"] {
            let tail = Array(suffix.utf8)
            guard bytes.count > tail.count, bytes.suffix(tail.count).elementsEqual(tail) else { continue }
            let head = bytes.dropLast(tail.count)
            // Strip only a real port: after a bracketed IPv6 literal, or after a name/IPv4 without colons.
            if head.last == UInt8(ascii: "]") || !head.contains(UInt8(ascii: ":")) { bytes = Array(head) }
        }
        guard !bytes.isEmpty, bytes.count <= maximumHostLength, bytes.allSatisfy({ (0x21...0x7e).contains($0) })
        else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The authority to sign for a tracker URL's host and port (port nil when the URL has none): IPv6 addresses
    /// are bracketed, then `canonicalHost` applies.
    public static func canonicalHost(host: String, port: Int?) -> String? {
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return canonicalHost(port.map { "\(bracketed):\($0)" } ?? bracketed)
    }

    /// The exact bytes that are signed. Layout (all integers big-endian):
    ///
    ///     22 bytes  "swtorrent-announce-v1\n"
    ///     20 bytes  info_hash (raw)
    ///     20 bytes  peer_id (raw)
    ///      2 bytes  port
    ///      1 byte   event code (AnnounceEvent.rawValue)
    ///      8 bytes  timestamp, Unix seconds, unsigned
    ///      1 byte   length H of the host, then H bytes of canonicalHost(...)
    ///      2 bytes  length P of the path, then P bytes of the path
    ///
    /// - Parameters:
    ///   - host: the tracker's authority; normalised here with `canonicalHost`.
    ///   - path: the request path as sent, percent-encoding and all, without the `?` and query (e.g. `/announce`).
    /// - Throws: `IdentityError.invalidAnnounce` if a field cannot be encoded.
    public static func canonicalMessage(
        infoHash: [UInt8],
        peerID: [UInt8],
        port: UInt16,
        event: AnnounceEvent,
        host: String,
        path: String,
        timestamp: Int64
    ) throws(IdentityError) -> [UInt8] {
        guard infoHash.count == 20 else {
            throw IdentityError(.invalidAnnounce, "info_hash is \(infoHash.count) bytes; it must be 20")
        }
        guard peerID.count == 20 else {
            throw IdentityError(.invalidAnnounce, "peer_id is \(peerID.count) bytes; it must be 20")
        }
        guard timestamp >= 0 else {
            throw IdentityError(.invalidAnnounce, "timestamp \(timestamp) is negative")
        }
        guard let canonical = canonicalHost(host) else {
            throw IdentityError(
                .invalidAnnounce, "host \"\(host.prefix(80))\" is empty, too long or holds a space or control byte"
            )
        }
        let pathBytes = Array(path.utf8)
        guard pathBytes.first == UInt8(ascii: "/"), pathBytes.count <= maximumPathLength,
            pathBytes.allSatisfy({ (0x21...0x7e).contains($0) && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") })
        else {
            throw IdentityError(
                .invalidAnnounce,
                "path \"\(path.prefix(80))\" must start with `/`, be at most \(maximumPathLength) bytes of printable "
                    + "ASCII and hold no `?` or `#` (pass the path without the query)"
            )
        }
        let hostBytes = Array(canonical.utf8)
        var message = [UInt8]()
        message.reserveCapacity(domain.count + 20 + 20 + 2 + 1 + 8 + 1 + hostBytes.count + 2 + pathBytes.count)
        message.append(contentsOf: domain)
        message.append(contentsOf: infoHash)
        message.append(contentsOf: peerID)
        message.append(UInt8(port >> 8))
        message.append(UInt8(port & 0xff))
        message.append(event.rawValue)
        let time = UInt64(timestamp)
        for shift in stride(from: 56, through: 0, by: -8) {
            message.append(UInt8(truncatingIfNeeded: time >> UInt64(shift)))
        }
        message.append(UInt8(hostBytes.count))
        message.append(contentsOf: hostBytes)
        message.append(UInt8(pathBytes.count >> 8))
        message.append(UInt8(pathBytes.count & 0xff))
        message.append(contentsOf: pathBytes)
        return message
    }

    // MARK: Client side

    /// Signs an announce and returns the three query items to append to it, in the order
    /// `swt_key`, `swt_ts`, `swt_sig`. Their values need no percent-encoding.
    /// - Parameter timestamp: Unix seconds, normally the current time.
    /// - Throws: `IdentityError.invalidAnnounce` (see `canonicalMessage`).
    public static func sign(
        infoHash: [UInt8],
        peerID: [UInt8],
        port: UInt16,
        event: AnnounceEvent,
        host: String,
        path: String,
        key: NodeKey,
        timestamp: Int64
    ) throws(IdentityError) -> [(name: String, value: String)] {
        let message = try canonicalMessage(
            infoHash: infoHash, peerID: peerID, port: port, event: event, host: host, path: path, timestamp: timestamp
        )
        return [
            (keyParameter, key.publicKey.hex),
            (timestampParameter, String(timestamp)),
            (signatureParameter, Hex.encode(key.sign(message))),
        ]
    }

    /// `swt_key=…&swt_ts=…&swt_sig=…`, ready to append to an announce query with `&`.
    public static func queryString(_ items: [(name: String, value: String)]) -> String {
        items.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    }

    // MARK: Tracker side

    /// Checks a signed announce. Pure: no I/O, no clock (pass `now`); about one Ed25519 verification of work.
    ///
    /// Checks, in order: the three parameters are present and well-formed (else `.malformed`), the key is listed
    /// (`.unknownKey`) and not revoked (`.revokedKey`), the timestamp is within `window` seconds of `now` either way
    /// (`.staleTimestamp`), the signature verifies (`.badSignature`).
    ///
    /// - Parameters:
    ///   - key: the `swt_key` value (nil if absent).
    ///   - timestamp: the `swt_ts` value (nil if absent).
    ///   - signature: the `swt_sig` value (nil if absent).
    ///   - infoHash: the percent-decoded `info_hash` (20 bytes).
    ///   - peerID: the percent-decoded `peer_id` (20 bytes).
    ///   - port: the `port` value.
    ///   - event: the `event` value.
    ///   - host: the tracker's own public name as configured, or else the request's `Host` header (normalised here).
    ///     A configured name is better: it stops an announce signed for another tracker being replayed here.
    ///   - path: the request path without the query, as received (e.g. `/announce`).
    ///   - allowlist: the current allowlist.
    ///   - now: the tracker's clock, Unix seconds.
    ///   - window: the accepted clock difference in seconds (default 300).
    public static func verify(
        key: String?,
        timestamp: String?,
        signature: String?,
        infoHash: [UInt8],
        peerID: [UInt8],
        port: UInt16,
        event: AnnounceEvent,
        host: String,
        path: String,
        allowlist: Allowlist,
        now: Int64,
        window: Int64 = defaultWindow
    ) -> SignedAnnounceResult {
        guard let key else { return .malformed("missing \(keyParameter)") }
        guard let publicKey = NodePublicKey(hex: key) else {
            return .malformed("\(keyParameter) must be 64 hex digits (a 32-byte Ed25519 key)")
        }
        guard let timestamp else { return .malformed("missing \(timestampParameter)") }
        guard let time = parseTimestamp(timestamp) else {
            return .malformed("\(timestampParameter) must be decimal Unix seconds (1 to 18 digits)")
        }
        guard let signature else { return .malformed("missing \(signatureParameter)") }
        guard signature.utf8.count == 2 * Ed25519.signatureByteCount, let signatureBytes = Hex.decode(signature) else {
            return .malformed("\(signatureParameter) must be 128 hex digits (a 64-byte Ed25519 signature)")
        }
        let entry: AllowlistEntry
        switch allowlist.lookup(nodeKey: publicKey) {
        case .unknown: return .unknownKey
        case .revoked(let revoked): return .revokedKey(revoked)
        case .allowed(let allowed): entry = allowed
        }
        guard abs(now - time) <= window else { return .staleTimestamp }
        let message: [UInt8]
        do {
            message = try canonicalMessage(
                infoHash: infoHash, peerID: peerID, port: port, event: event, host: host, path: path, timestamp: time
            )
        } catch {
            return .malformed(error.message)
        }
        guard publicKey.verify(signature: signatureBytes, message: message) else { return .badSignature }
        return .valid(entry)
    }

    /// Decimal digits only, 1 to 18 of them (so the value fits comfortably in Int64 and `now - time` cannot
    /// overflow).
    static func parseTimestamp(_ text: String) -> Int64? {
        let digits = text.utf8
        guard (1...18).contains(digits.count) else { return nil }
        var value: Int64 = 0
        for digit in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
            value = value * 10 + Int64(digit - UInt8(ascii: "0"))
        }
        return value
    }
}

/// The outcome of checking a signed announce; each refusal is distinct so the tracker can name the cause.
public enum SignedAnnounceResult: Sendable {
    /// Listed, not revoked, in time, signature good.
    case valid(AllowlistEntry)
    /// The key is not on the allowlist.
    case unknownKey
    /// The key is on the allowlist as revoked (or was removed from it since an earlier version).
    case revokedKey(AllowlistEntry)
    /// The signature does not verify for this announce's fields.
    case badSignature
    /// `swt_ts` is further from the tracker's clock than the window allows.
    case staleTimestamp
    /// A parameter is missing or not in the required form; the text says which.
    case malformed(String)

    /// A `failure reason` for the tracker's bencoded refusal; nil for `.valid`.
    public var failureReason: String? {
        switch self {
        case .valid: nil
        case .unknownKey: "unknown node key: this key is not on the tracker's allowlist"
        case .revokedKey: "revoked node key: this key has been removed from the tracker's allowlist"
        case .badSignature: "bad signature: swt_sig does not match this announce"
        case .staleTimestamp: "stale timestamp: swt_ts is too far from the tracker's clock; check the node's clock"
        case .malformed(let why): "malformed signed announce: \(why)"
        }
    }
}
