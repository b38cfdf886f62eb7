import Engine
import Foundation
import Logging
import Metainfo
import SwarmPrimitives

/// What `leech MAGNET` does before the download: the magnet link's info dictionary fetched from peers (BEP 9,
/// ``MetadataFetch``) and written as a `.torrent` file, so the download then runs as for any torrent, through the
/// same gate (trust policy, staging, release).
///
/// Peers to ask: the link's `x.pe` peers, `--peer`, the peers its `tr=` trackers return (an announce with no
/// event), and, on a node's host (``host``), the peers BEP 14 local discovery finds for the info-hash and those that
/// dial the node for it (``SessionHost/fetchMetadata(_:peers:)``). The torrent file written holds the fetched info dictionary byte for byte (so its info-hash is the
/// link's) and the link's trackers as `announce`/`announce-list`.
///
/// Private swarms: a magnet link cannot say whether its torrent is private, so a node with a transport security
/// layer (`--key`/`--allow`) dials every metadata peer over TLS, authenticated against its allowlist; a node
/// without one fetches over plain BitTorrent and refuses an info dictionary that says `private=1`.
public struct MagnetMetadata: Sendable {
    public var link: MagnetLink
    /// The leech's settings: `manualPeers` (`--peer`) and `useTrackers` apply here too.
    public var configuration: SessionConfiguration
    /// The node's transport security (``PrivateSwarm``'s TLS), if it has one: every metadata peer is then dialled
    /// over TLS and must be on the allowlist.
    public var transportSecurity: (any PeerTransportSecurity)?
    /// How long the fetch may take.
    public var timeout: Duration = .seconds(120)
    /// The node's host (the download's too): with one, the fetch listens as well as dials: local discovery
    /// announces the info-hash and its peers are asked, and peers that dial the host for it are asked. Without one
    /// (`--no-lsd` and no `--key`), only the link's, `--peer` and tracker peers are dialled.
    public var host: SessionHost?
    let logger: Logger

    public init(
        link: MagnetLink, configuration: SessionConfiguration, transportSecurity: (any PeerTransportSecurity)?,
        logger: Logger
    ) {
        self.link = link
        self.configuration = configuration
        self.transportSecurity = transportSecurity
        self.logger = logger
    }

    /// The torrent file for the link in the gate directory beside `output`
    /// (`OUT/../.NAME.swtorrent-gate/magnet/INFOHASH.torrent`, mode 0600), fetched from peers unless an earlier
    /// run left one there whose info-hash is the link's.
    ///
    /// - Parameter output: the leech's output directory (created if missing).
    /// - Returns: the torrent file's path, for ``GatedLeech``.
    /// - Throws: ``NodeError`` as ``torrentBytes()``, or `.io` when the file cannot be written.
    public func torrentFile(output: String) async throws(NodeError) -> String {
        let infoHash = try requireInfoHash()
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw NodeError(.io, "\(output): cannot create the output directory: \(error.localizedDescription)")
        }
        let directory = try GateLayout.gateDirectory(output: output) + "/magnet"
        let path = directory + "/" + infoHash.hex + ".torrent"
        if let data = FileManager.default.contents(atPath: path), let earlier = try? Torrent(bytes: Array(data)),
            earlier.infoHash == infoHash
        {
            logger.info("info dictionary from an earlier run", metadata: ["torrent": "\(path)"])
            return path
        }
        let bytes = try await torrentBytes()
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw NodeError(.io, "\(path): cannot write the magnet link's torrent: \(error.localizedDescription)")
        }
        return path
    }

    /// The link's `x.pe` peers: the download asks them too (beside `--peer`).
    ///
    /// - Throws: ``NodeError`` `.malformedInput` naming an `x.pe` that is not `HOST:PORT`.
    public func linkPeers() throws(NodeError) -> [PeerAddress] {
        var peers: [PeerAddress] = []
        for text in link.peers {
            do throws(EngineError) {
                peers.append(try PeerAddress(parsing: text))
            } catch {
                throw NodeError(.malformedInput, "magnet link: x.pe=\(text): \(error.context)")
            }
        }
        return peers
    }

    private func requireInfoHash() throws(NodeError) -> InfoHash {
        guard let infoHash = link.infoHash else {
            throw NodeError(
                .malformedInput,
                "magnet link: no urn:btih: info-hash; only v1 and hybrid torrents can be fetched by magnet link")
        }
        return infoHash
    }

    /// Fetches the info dictionary and returns the torrent file's bytes.
    ///
    /// - Throws: ``NodeError`` `.malformedInput` for a link without a v1 info-hash or with an unusable `x.pe`,
    ///   `.metadataUnavailable` when no peer gave a copy that hashes to the info-hash (the message names each
    ///   peer and why).
    public func torrentBytes() async throws(NodeError) -> [UInt8] {
        let infoHash = try requireInfoHash()
        var peers = try linkPeers() + configuration.manualPeers
        let peerID = PeerID.generate()
        var port = configuration.port
        if let host {
            do {
                port = try await host.start()
            } catch {
                throw NodeError(.io, "magnet link \(infoHash.hex): cannot listen for peers: \(error)")
            }
        }
        if configuration.useTrackers { peers += await trackerPeers(infoHash: infoHash, peerID: peerID, port: port) }
        var fetch = MetadataFetch(
            infoHash: infoHash, peerID: peerID, transportSecurity: transportSecurity, logger: logger)
        fetch.timeout = timeout
        let info: [UInt8]
        do throws(EngineError) {
            if let host {
                info = try await host.fetchMetadata(fetch, peers: peers)
            } else {
                info = try await fetch.run(peers: peers)
            }
        } catch {
            if error.code == .cancelled {
                throw NodeError(.interrupted, "magnet link \(infoHash.hex): interrupted before the info dictionary arrived")
            }
            throw NodeError(.metadataUnavailable, error.context)
        }
        let bytes = link.torrentFile(info: info)
        let torrent: Torrent
        do {
            torrent = try Torrent(bytes: bytes)
        } catch {
            throw NodeError(.malformedInput, "magnet link \(infoHash.hex): the info dictionary is not a torrent's: \(error)")
        }
        if torrent.isPrivate && transportSecurity == nil {
            // Only a node with --key/--allow reaches the peers of a private swarm authenticated (TLS); a private
            // info dictionary from an unauthenticated peer is not used.
            throw NodeError(
                .metadataUnavailable,
                "magnet link \(infoHash.hex): the torrent is private (BEP 27) and its info dictionary came from "
                    + "unauthenticated peers; fetch it with --key and --allow, from peers on the allowlist")
        }
        return bytes
    }

    /// Asks each `tr=` tracker once for peers (no event, as a leech with everything left).
    private func trackerPeers(infoHash: InfoHash, peerID: PeerID, port: Int) async -> [PeerAddress] {
        let client = HTTPTrackerClient()
        var peers: [PeerAddress] = []
        for text in link.trackers {
            do {
                let url = try AnnounceURL(text)
                let request = AnnounceRequest(
                    infoHash: infoHash, peerID: peerID, port: max(port, 1), left: 1, numWant: 50)
                var signed = request
                if let parameters = configuration.announceParameters { signed.extraParameters = parameters(url, request) }
                let response = try await client.announce(signed, to: url)
                peers += response.peers
            } catch {
                logger.info("tracker gave no peers for the magnet link", metadata: ["tracker": "\(text)", "error": "\(error)"])
            }
        }
        return peers
    }
}
