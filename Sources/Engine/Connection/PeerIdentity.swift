import Identity

/// Who a peer proved to be while its connection was set up: the node key it authenticated with in the transport
/// handshake (TLS with keys pinned against the allowlist, issue 10). Plain BitTorrent connections carry none.
public struct PeerIdentity: Sendable, Hashable, CustomStringConvertible {
    /// The peer's Ed25519 node key.
    public let publicKey: NodePublicKey

    /// - Parameter publicKey: the node key the peer proved it holds.
    public init(publicKey: NodePublicKey) {
        self.publicKey = publicKey
    }

    public var description: String { publicKey.fingerprint }
}
