/// Every failure the engine reports: what went wrong (``code``), and where (``context``: a tracker URL, a peer
/// address, a file).
public struct EngineError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The announce URL is not an `http://` URL the client can use.
        case badAnnounceURL = "unusable announce URL"
        /// The tracker could not be reached, or did not answer in time.
        case trackerUnreachable = "tracker unreachable"
        /// The tracker answered with an HTTP status other than 200.
        case trackerHTTPStatus = "tracker answered with an HTTP error"
        /// The tracker's answer was larger than the limit.
        case trackerResponseTooLarge = "tracker response larger than the limit"
        /// The tracker's answer is not a valid announce response.
        case malformedTrackerResponse = "malformed tracker response"
        /// The tracker refused the announce (`failure reason`).
        case trackerFailure = "tracker refused the announce"
        /// A peer address (`--peer`) is not `HOST:PORT`.
        case badPeerAddress = "malformed peer address"
        /// A network (a LAN prefix in the configuration) is not `ADDRESS/LENGTH`.
        case badNetwork = "malformed network"
        /// A peer broke the protocol.
        case peerProtocolViolation = "peer broke the protocol"
        /// A peer did not answer in time.
        case peerTimeout = "peer timed out"
        /// No peer could be reached and no tracker answered.
        case noPeers = "no peers"
        /// The listener could not bind.
        case bindFailed = "could not listen"
        /// The torrent's data could not be read or written.
        case storage = "storage failure"
        /// The session was stopped before it finished.
        case cancelled = "cancelled"
    }

    public var code: Code
    /// What the error is about (a URL, a peer address, a file) and, where useful, the fix.
    public var context: String

    public init(_ code: Code, _ context: String) {
        self.code = code
        self.context = context
    }

    public var description: String { "\(context): \(code.rawValue)" }
}
