import Engine
import Identity
import NIOCore
import Synchronization

/// The allowlist the TLS transport checks peers against, as it is now, and the authenticated connections that hold
/// a key from it. A reload (``replace(with:)``) swaps the list for new handshakes and closes every open connection
/// whose key the new list no longer allows.
public final class LiveAllowlist: Sendable {
    private struct State {
        var allowlist: Allowlist
        var connections: [ObjectIdentifier: (channel: any Channel, key: NodePublicKey)] = [:]
    }

    private let state: Mutex<State>

    /// - Parameter allowlist: the list loaded at start.
    public init(_ allowlist: Allowlist) {
        state = Mutex(State(allowlist: allowlist))
    }

    /// The list now.
    public var current: Allowlist {
        state.withLock { $0.allowlist }
    }

    /// Makes `allowlist` the current list (with the keys the previous one had and this one lacks carried as revoked,
    /// ``Allowlist/carryingRevocations(from:)``), and closes the open connections whose key it does not allow.
    ///
    /// - Returns: how many connections were closed.
    @discardableResult
    public func replace(with allowlist: Allowlist) -> Int {
        let cut: [any Channel] = state.withLock { state in
            state.allowlist = allowlist.carryingRevocations(from: state.allowlist)
            let list = state.allowlist
            return state.connections.values.compactMap { connection in
                if case .allowed = list.lookup(nodeKey: connection.key) { return nil }
                return connection.channel
            }
        }
        for channel in cut { channel.close(promise: nil) }
        return cut.count
    }

    /// Open connections authenticated by a key of this list.
    public var connectionCount: Int {
        state.withLock { $0.connections.count }
    }

    /// Remembers an authenticated connection until it closes, so that a reload that revokes its key closes it.
    func track(_ channel: any Channel, key: NodePublicKey) {
        let id = ObjectIdentifier(channel)
        state.withLock { $0.connections[id] = (channel, key) }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.connections.removeValue(forKey: id) }
        }
    }
}
