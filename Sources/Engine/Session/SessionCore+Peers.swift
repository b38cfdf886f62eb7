import NIOCore
import PeerWire
import SwarmPrimitives

/// Peers: the directory every source feeds, dialling through the host, admission of routed connections.
extension SessionCore {
    /// Learns of a peer (tracker, manual, discovery); it is dialled when there is room.
    func addPeer(_ record: PeerRecord) {
        let replaced = directory.localAddressesReplaced
        directory.add(record)
        host.localAddressesReplaced += directory.localAddressesReplaced - replaced
    }

    /// Our listening port on loopback, the listen address and every interface address: never dialled.
    func learnOwnAddresses() {
        var hosts: Set<String> = ["127.0.0.1", "::1", "localhost", configuration.listenHost]
        for bytes in classifier.interfaceAddresses {
            hosts.insert(bytes.count == 4 ? IPAddressText.ipv4(bytes) : IPAddressText.ipv6(bytes))
        }
        for host in hosts { directory.addOwnAddress(PeerAddress(host: host, port: listenPort)) }
    }

    func connectMore() {
        guard isRunning else { return }
        // A seed still dials manual and local-discovery peers (they may be leechers waiting for it); tracker peers
        // dial it.
        let halfOpen = host.halfOpen.used(by: hostID)
        let room = min(
            configuration.maxHalfOpen - halfOpen, configuration.maxConnections - connections.count - halfOpen,
            host.dialRoom(for: self))
        let deferred = directory.localDialsDeferred
        for record in directory.nextToDial(now: now(), count: room, seeding: picker.isComplete) {
            guard host.dial(record, for: self) else {
                dialFailed(record.address)
                continue
            }
        }
        if directory.localDialsDeferred > deferred {
            host.localDialsDeferred += directory.localDialsDeferred - deferred
            logger.debug(
                "local discovery peers deferred to a later dialling round",
                metadata: [
                    "new": "\(directory.localDialsDeferred - deferred)",
                    "perSecond": "\(directory.localDialsPerSecond)",
                ])
        }
    }

    /// A dial's TCP connection was set up (its handshake follows) or failed.
    func dialCompleted(_ address: PeerAddress, _ result: Result<any Channel, any Error>) {
        if case .failure(let error) = result {
            logger.debug("dial failed", metadata: ["peer": "\(address)", "error": "\(error)"])
            dialFailed(address)
        }
    }

    func dialFailed(_ address: PeerAddress) {
        directory.dialFailed(address, now: now())
    }

    /// A handshake for this torrent completed (the host routed it here): the connection's handler, or nil when
    /// it may not stay (ourselves, banned, already connected, over the session's or the node's limit).
    /// `identity` is what the transport handshake authenticated (credited in the audit log beside the address).
    func admit(_ handshake: Handshake, dialled: PeerRecord?, remote: SocketAddress?, identity: PeerIdentity? = nil)
        -> PeerConnection?
    {
        let connection = PeerConnection(core: self, handshake: handshake, dialled: dialled, remote: remote)
        let record = connection.record
        if connection.peerID == peerID, record.source != .incoming {
            directory.addOwnAddress(record.address)  // we dialled ourselves
            return nil
        }
        if record.source != .incoming, let live = connections.values.first(where: { $0.peerID == connection.peerID }) {
            // The peer is connected already, at another address (it dialled us, or we reached it by two
            // addresses): not a failure to back off from; the address counts as that connection.
            directory.sameConnection(record.address, as: live.record.address)
            return nil
        }
        guard mayAdmit(connection), host.takeConnection(for: self) else {
            if record.source != .incoming { directory.dialFailed(record.address, now: now()) }
            return nil
        }
        connection.id = nextID
        nextID += 1
        connections[connection.id] = connection
        directory.connected(record)
        picker.addSource(connection)
        if let identity { attribution.identify(connection.attributionKey, as: identity) }
        if record.locality == .lan { siteChanged() }
        return connection
    }

    func mayAdmit(_ connection: PeerConnection) -> Bool {
        guard isRunning, connection.peerID != peerID else { return false }
        if reputation.isBanned(host: connection.banKey) || reputation.isBanned(host: connection.record.address.host)
        {
            return false
        }
        if connections.count >= configuration.maxConnections { return false }
        return !connections.values.contains(where: { $0.peerID == connection.peerID })
    }

    /// The connection's handler is in the pipeline: say what we have.
    func connectionReady(_ connection: PeerConnection) {
        let have = storage.have
        if connection.fast && have.isComplete {
            connection.send(.haveAll)
        } else if connection.fast && have.isEmpty {
            connection.send(.haveNone)
        } else {
            connection.send(.bitfield(have))
        }
        if connection.extensions { sendExtendedHandshake(connection) }
        connection.flush()
        logger.debug(
            "peer connected",
            metadata: ["peer": "\(connection.record.address)", "source": "\(connection.record.source)"])
    }

    func disconnected(_ connection: PeerConnection) {
        guard connections.removeValue(forKey: connection.id) != nil else { return }
        host.connectionClosed(self)
        let wasSeed = picker.peerIsSeed(connection.id)
        picker.removePeer(connection.id)
        if connection.record.locality == .lan { siteChanged() }
        directory.disconnected(connection.record.address, now: now(), wasSeed: wasSeed)
        logger.debug("peer disconnected", metadata: ["peer": "\(connection.record.address)"])
        // Its blocks are free again: let the others take them.
        requestMoreEverywhere()
    }

    func protocolError(_ connection: PeerConnection, _ error: any Error) {
        logger.info(
            "dropping peer that broke the protocol",
            metadata: ["peer": "\(connection.record.address)", "error": "\(error)"])
    }

    func drop(_ connection: PeerConnection, _ why: String, ban: Bool = false) {
        logger.info("dropping peer", metadata: ["peer": "\(connection.record.address)", "reason": "\(why)"])
        if ban {
            reputation.ban(host: connection.banKey)
            directory.ban(connection.record.address)
        }
        connection.close()
    }

    var unchokedCount: Int { connections.values.reduce(0) { $0 + ($1.amChoking ? 0 : 1) } }
}
