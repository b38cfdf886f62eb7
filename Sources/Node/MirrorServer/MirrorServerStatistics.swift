import Synchronization

/// What a ``MirrorServer`` did since it started: requests answered, body bytes sent, and requests or connections
/// refused, by reason. Shown in `/status` (``NodeStatus/httpMirror``) and `/metrics`.
public final class MirrorServerStatistics: Sendable {
    /// A copy of the counters.
    public struct Snapshot: Sendable, Hashable, Codable {
        /// The address the server listens on (`HOST:PORT`).
        public var address: String
        /// Responses sent (any status).
        public var requests: Int
        /// Body bytes sent (ranges included, headers not).
        public var bytesServed: Int64
        /// Requests or connections refused, by reason (`unknown torrent`, `private torrent`, `connection limit`,
        /// `client connection limit`…).
        public var refusals: [String: Int]
        /// Connections open now.
        public var connections: Int
    }

    private struct Counters {
        var requests = 0
        var bytesServed: Int64 = 0
        var refusals: [String: Int] = [:]
        var connections = 0
        /// Connections open now by client, for clients with any open (at most ``Snapshot/connections`` entries).
        var byClient: [MirrorClientAddress: Int] = [:]
    }

    private let counters = Mutex(Counters())
    private let boundAddress = Mutex("")

    init() {}

    /// `HOST:PORT` as bound.
    var address: String {
        get { boundAddress.withLock { $0 } }
        set { boundAddress.withLock { $0 = newValue } }
    }

    public var snapshot: Snapshot {
        counters.withLock {
            Snapshot(
                address: address, requests: $0.requests, bytesServed: $0.bytesServed, refusals: $0.refusals,
                connections: $0.connections)
        }
    }

    func answered() { counters.withLock { $0.requests += 1 } }
    func served(_ bytes: Int) { counters.withLock { $0.bytesServed += Int64(bytes) } }
    func refused(_ reason: String) { counters.withLock { $0.refusals[reason, default: 0] += 1 } }

    /// Takes a connection slot for a connection from `client`: false, and a refusal counted, when that client has
    /// `perClient` open (`client connection limit`) or `limit` are open over all clients (`connection limit`).
    ///
    /// - Parameters:
    ///   - client: the connection's client; nil (not IP) counts against `limit` only.
    ///   - limit: connections open at once over all clients.
    ///   - perClient: connections open at once from one client.
    func admit(_ client: MirrorClientAddress?, limit: Int, perClient: Int) -> Bool {
        counters.withLock {
            if let client, $0.byClient[client, default: 0] >= perClient {
                $0.refusals["client connection limit", default: 0] += 1
                return false
            }
            guard $0.connections < limit else {
                $0.refusals["connection limit", default: 0] += 1
                return false
            }
            $0.connections += 1
            if let client { $0.byClient[client, default: 0] += 1 }
            return true
        }
    }

    /// Gives back the slot ``admit(_:limit:perClient:)`` took for a connection from `client`.
    func closed(_ client: MirrorClientAddress?) {
        counters.withLock {
            $0.connections -= 1
            guard let client, let open = $0.byClient[client] else { return }
            $0.byClient[client] = open > 1 ? open - 1 : nil
        }
    }
}
