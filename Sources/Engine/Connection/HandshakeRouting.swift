import NIOCore
import PeerWire

/// A connection we dialled for a torrent: the peer, and the handshake we send as soon as TCP is up.
struct OutgoingDial {
    let record: PeerRecord
    let ours: Handshake
    /// The torrent's private flag (the transport slot may protect private torrents only).
    let isPrivate: Bool
}

/// Why a connection was closed before it reached a session. Counted per reason (``HostStatistics/refusals``).
public enum PeerRefusal: String, Sendable, Hashable, CaseIterable, Codable {
    /// The handshake names a torrent this node does not serve (or no longer serves).
    case unknownInfoHash = "unknown info-hash"
    /// The admission hook (``HostConfiguration/admission``) refused it.
    case admission = "refused by admission"
    /// The session refused it: itself, a banned peer, a peer already connected, the session's connection limit.
    case session = "refused by session"
    /// The node-wide connection limit was reached when the connection was accepted.
    case connectionLimit = "connection limit"
    /// The handshake did not arrive within the handshake timeout, or was malformed.
    case handshakeFailed = "handshake failed"
    /// A private torrent on a node with a node key and an allowlist: a connection without an authenticated node key
    /// (plain BitTorrent), unless `--allow-plain-peers`.
    case plainPeer = "plain peer for a private torrent"
    /// The peer's certificate key is not on the allowlist, or was revoked.
    case unlistedKey = "key not on the allowlist"
    /// The peer's certificate carries a key that is not Ed25519 (RSA, P-256...), or does not parse.
    case certificateKey = "certificate key not Ed25519"
    /// The peer's certificate is expired or not yet valid.
    case certificateDates = "certificate outside its validity"
    /// The TLS handshake failed: not TLS after a TLS record byte, a malformed or truncated hello, no common
    /// parameters, a record that fails its authentication.
    case tlsFailed = "TLS handshake failed"
    /// The TLS handshake did not finish within the handshake timeout (a peer that stalls mid-handshake).
    case tlsIncomplete = "TLS handshake incomplete"
}

/// What the router says about a handshake.
enum HandshakeRoute {
    /// The connection joins a session: send `ours` (if not sent yet), then install the message codec and
    /// `connection` as the last handler.
    case accept(ours: Handshake, limits: PeerWireLimits, connection: any ChannelHandler)
    case refuse(PeerRefusal, String)
}

/// Where ``HandshakeHandler`` takes a connection once it knows which torrent the peer wants: the host, which knows
/// every session on the node. The handshake handler never sees a session itself. Called on the connection's loop.
protocol HandshakeRouting: AnyObject {
    /// How long a connection may take to complete the handshake.
    var handshakeTimeout: TimeAmount { get }

    /// Routes a connection whose peer handshake arrived to the session named by its info-hash.
    ///
    /// - Parameters:
    ///   - theirs: the peer's handshake.
    ///   - dial: the dial this connection answers, or nil for an incoming connection.
    ///   - remote: the connection's remote address.
    ///   - identity: what the transport handshake authenticated, if there was one.
    func route(_ theirs: Handshake, dial: OutgoingDial?, remote: SocketAddress?, identity: PeerIdentity?)
        -> HandshakeRoute

    /// A connection closed before its handshake finished.
    ///
    /// - Parameter refusal: why, when the transport slot knows (``PeerTransportSecurity/refusal(of:)``); nil for
    ///   ``PeerRefusal/handshakeFailed``.
    func handshakeFailed(dial: OutgoingDial?, remote: SocketAddress?, refusal: PeerRefusal?)
}
