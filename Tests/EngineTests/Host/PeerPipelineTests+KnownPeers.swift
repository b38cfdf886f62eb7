import NIOCore
import PeerWire
import SwarmPrimitives
import Testing

@testable import Engine

/// A peer connected already, reached at another address (PeerDirectory.sameConnection), through the session.
extension PeerPipelineTests {
    /// An incoming peer names its listening port in its extended handshake: the session's directory holds that
    /// address as the incoming connection (not dialled while it lasts, no failure). A dial of another address whose
    /// handshake names the same peer id is refused without counting as a failure. Both are released, to be dialled
    /// again later, when the incoming connection closes.
    @Test func anIncomingPeersListeningPortAndADuplicateDialCountAsItsConnection() async throws {
        try await withNode { node, fixtures in
            let session = node.sessions[0]
            let infoHash = fixtures[0].torrent.infoHash
            let listening = PeerAddress(host: "192.0.2.7", port: 6881)
            let other = PeerAddress(host: "192.0.2.7", port: 6882)
            let incoming = PeerAddress(host: "192.0.2.7", port: 51413)
            for address in [listening, other] {
                session.addPeer(PeerRecord(address: address, source: .lsd, locality: .lan))
            }
            let channel = try node.accept()
            try channel.writeInbound(handshakeBytes(infoHash))
            var extended = ByteBuffer()
            try ExtendedHandshake(client: "test", listenPort: 6881).message().write(to: &extended)
            try channel.writeInbound(extended)
            node.loop.run()
            #expect(channel.isActive && session.progress().peers == 1)
            let named = try #require(session.directory.entry(listening))
            #expect(named.state == .connected && named.connectedAs == incoming && named.failures == 0)

            let dialled = PeerRecord(address: other, source: .lsd, locality: .lan)
            let refused = session.admit(
                Handshake(infoHash: infoHash, peerID: Self.peerID), dialled: dialled,
                remote: try SocketAddress(ipAddress: other.host, port: other.port))
            #expect(refused == nil, "the peer is connected already")
            let duplicate = try #require(session.directory.entry(other))
            #expect(duplicate.state == .connected && duplicate.connectedAs == incoming && duplicate.failures == 0)
            #expect(session.progress().peers == 1)

            _ = try? channel.finish()
            #expect(session.progress().peers == 0)
            for address in [listening, other] {
                let released = try #require(session.directory.entry(address))
                #expect(released.state == .idle && released.connectedAs == nil && released.hasConnected, "\(address)")
            }
        }
    }
}
