import Identity

/// Who a peer proved to be while its connection was set up: the node key it authenticated with in the transport
/// handshake (TLS with keys pinned against the allowlist, Docs/peer-tls.md). Plain BitTorrent connections carry
/// none.
public struct PeerIdentity: Sendable, Hashable, CustomStringConvertible {
    /// The peer's Ed25519 node key.
    public let publicKey: NodePublicKey
    /// The key's name on the allowlist when the peer authenticated (nil when the transport has no allowlist).
    public let name: String?

    /// - Parameters:
    ///   - publicKey: the node key the peer proved it holds.
    ///   - name: its allowlist name.
    public init(publicKey: NodePublicKey, name: String? = nil) {
        self.publicKey = publicKey
        self.name = name
    }

    /// The key's fingerprint (`SHA256:…`).
    public var fingerprint: String { publicKey.fingerprint }

    public var description: String { name.map { "\($0) (\(publicKey.fingerprint))" } ?? publicKey.fingerprint }
}

extension PeerIdentity: Codable {
    private enum CodingKeys: String, CodingKey {
        case key, name
    }

    /// `{"key": "<base64 Ed25519 key>", "name": "<allowlist name>"}`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let text = try container.decode(String.self, forKey: .key)
        guard let key = NodePublicKey(base64: text) else {
            throw DecodingError.dataCorruptedError(
                forKey: .key, in: container, debugDescription: "not a base64 Ed25519 public key")
        }
        self.init(publicKey: key, name: try container.decodeIfPresent(String.self, forKey: .name))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(publicKey.base64, forKey: .key)
        try container.encodeIfPresent(name, forKey: .name)
    }
}
