import NIOCore
import SwarmPrimitives

/// The slot before the BitTorrent handshake in every peer connection's pipeline (``PeerPipeline``): where a TLS
/// handler goes (the PeerTLS module puts NIOSSL there, with mutual authentication by node key: Docs/peer-tls.md).
/// Whatever it adds sees the raw bytes of the connection, in both directions, before the handshake decoder and for
/// the connection's whole life.
public protocol PeerTransportSecurity: Sendable {
    /// Adds the transport's handlers to a new connection. Called on the connection's event loop with an empty
    /// pipeline; the handshake handlers are added after these.
    ///
    /// - Parameters:
    ///   - pipeline: the new connection's pipeline.
    ///   - connection: whether we dialled (the TLS client) or accepted (the TLS server), and for a dial the torrent
    ///     it is for (a transport may protect private torrents only).
    /// - Throws: when the handlers cannot be made; the connection is closed.
    func addHandlers(to pipeline: ChannelPipeline.SynchronousOperations, connection: PeerConnectionSetup) throws

    /// The identity the peer authenticated with. Read on the connection's event loop when the peer's BitTorrent
    /// handshake arrives, which through a transport handshake is only after that handshake completed.
    func authenticatedIdentity(of channel: any Channel) -> PeerIdentity?

    /// Why the transport refused a connection that closed before its BitTorrent handshake, if it did (a certificate
    /// it rejected, a malformed or stalled TLS handshake); nil counts the close as
    /// ``PeerRefusal/handshakeFailed``. Read on the connection's event loop when it closes.
    func refusal(of channel: any Channel) -> PeerRefusal?

    /// Whether every connection of a private torrent is authenticated by this transport: its dials for a private
    /// torrent always run the authenticated handshake, and its admission hook (``HostConfiguration/admission``)
    /// admits only authenticated peers to private torrents. Only then does the host use local discovery for private
    /// torrents (Docs/local-discovery.md): an address heard on the LAN is then worth no more than the key behind it.
    var authenticatesPrivateSwarms: Bool { get }
}

extension PeerTransportSecurity {
    public func refusal(of channel: any Channel) -> PeerRefusal? { nil }
    public var authenticatesPrivateSwarms: Bool { false }
}

/// What the transport slot knows of a connection when it is made.
public struct PeerConnectionSetup: Sendable, Hashable {
    public var direction: PeerDirection
    /// The torrent we dial for; nil for an incoming connection (its torrent is known only from its handshake).
    public var dialled: DialledTorrent?

    public init(direction: PeerDirection, dialled: DialledTorrent?) {
        self.direction = direction
        self.dialled = dialled
    }

    /// The torrent an outgoing connection is for.
    public struct DialledTorrent: Sendable, Hashable {
        public var infoHash: InfoHash
        /// The torrent's BEP 27 private flag.
        public var isPrivate: Bool

        public init(infoHash: InfoHash, isPrivate: Bool) {
            self.infoHash = infoHash
            self.isPrivate = isPrivate
        }
    }
}
