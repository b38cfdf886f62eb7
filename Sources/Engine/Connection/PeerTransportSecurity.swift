import NIOCore

/// The slot before the BitTorrent handshake in every peer connection's pipeline (``PeerPipeline``): where a TLS
/// handler goes (issue 10 puts NIOSSL there, with mutual authentication by node key). Whatever it adds sees the
/// raw bytes of the connection, in both directions, before the handshake decoder and for the connection's whole
/// life.
public protocol PeerTransportSecurity: Sendable {
    /// Adds the transport's handlers to a new connection. Called on the connection's event loop with an empty
    /// pipeline; the handshake handlers are added after these.
    ///
    /// - Parameters:
    ///   - pipeline: the new connection's pipeline.
    ///   - direction: whether we dialled (the TLS client) or accepted (the TLS server).
    /// - Throws: when the handlers cannot be made; the connection is closed.
    func addHandlers(to pipeline: ChannelPipeline.SynchronousOperations, direction: PeerDirection) throws

    /// The identity the peer authenticated with. Read on the connection's event loop when the peer's BitTorrent
    /// handshake arrives, which through a transport handshake is only after that handshake completed.
    func authenticatedIdentity(of channel: any Channel) -> PeerIdentity?
}
