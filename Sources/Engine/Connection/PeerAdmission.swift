import SwarmPrimitives

/// Whether we dialled the peer or it dialled us.
public enum PeerDirection: String, Sendable, Hashable {
    case incoming
    case outgoing
}

/// What the admission hook (``HostConfiguration/admission``) sees of a connection whose BitTorrent handshake (and
/// transport handshake, when there is one) is done, before the torrent's session takes it.
public struct PeerAdmissionRequest: Sendable, Hashable {
    /// The address we dialled, or the remote address of an incoming connection.
    public var address: PeerAddress
    public var direction: PeerDirection
    /// The info-hash the peer's handshake names.
    public var infoHash: InfoHash
    /// The peer id from its handshake.
    public var peerID: PeerID
    /// Whether the torrent is private (BEP 27 flag): a transport may admit only authenticated peers to those.
    public var isPrivate: Bool
    /// The identity the peer authenticated with in the transport handshake; nil on plain BitTorrent connections
    /// (no ``PeerTransportSecurity``).
    public var identity: PeerIdentity?

    public init(
        address: PeerAddress, direction: PeerDirection, infoHash: InfoHash, peerID: PeerID, identity: PeerIdentity?,
        isPrivate: Bool = false
    ) {
        self.address = address
        self.direction = direction
        self.infoHash = infoHash
        self.peerID = peerID
        self.identity = identity
        self.isPrivate = isPrivate
    }
}

/// The admission hook's answer.
public enum PeerAdmissionDecision: Sendable, Hashable {
    case admit
    /// The connection is closed; the reason is logged and the refusal counted (``HostStatistics/refusals``) under
    /// `counted` (``PeerRefusal/admission`` unless the hook names a more precise one).
    case refuse(reason: String, counted: PeerRefusal = .admission)
}

/// Decides whether a connection may join its torrent. Called on the host's event loop for every connection, so it
/// must answer at once (a lookup in a table, not I/O).
public typealias PeerAdmission = @Sendable (PeerAdmissionRequest) -> PeerAdmissionDecision
