import Identity

#if canImport(Glibc)
    import Glibc
#endif

extension SessionConfiguration {
    /// Signs every announce with a node key (`swt_key`, `swt_ts`, `swt_sig`; see `Docs/identity.md`), for trackers
    /// that admit nodes by key. The message covers the info-hash, peer id, port, event, the tracker's host and the
    /// announce path, and the current time.
    ///
    /// - Parameter clock: Unix seconds now (injectable for tests).
    public static func signedAnnounces(
        key: NodeKey, clock: @escaping @Sendable () -> Int64 = { Int64(time(nil)) }
    ) -> @Sendable (AnnounceURL, AnnounceRequest) -> [(name: String, value: String)] {
        { url, request in
            let path = String(url.pathAndQuery.prefix { $0 != "?" })
            let event: AnnounceEvent =
                switch request.event {
                case .none: .none
                case .started: .started
                case .completed: .completed
                case .stopped: .stopped
                }
            // A field that cannot be signed (it cannot happen for a parsed announce URL) leaves the announce
            // unsigned; the tracker then refuses it with a clear failure reason.
            return
                (try? SignedAnnounce.sign(
                    infoHash: request.infoHash.bytes, peerID: request.peerID.bytes, port: UInt16(clamping: request.port),
                    event: event, host: url.hostHeader, path: path, key: key, timestamp: clock())) ?? []
        }
    }
}
