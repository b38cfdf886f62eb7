/// Every failure the engine reports, the storage's included: what went wrong (``code``), and where (``context``: a
/// tracker URL, a peer address, a file or piece, and the fix where there is one).
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
        /// A peer address is not `HOST:PORT` or `[IPV6]:PORT`.
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
        /// Local discovery on the interfaces the node was given could not start (one does not exist, or has no
        /// address); the listener is closed again.
        case localDiscoveryFailed = "local discovery could not start"
        /// A session host was asked to run a torrent it already runs.
        case duplicateTorrent = "torrent already running"
        /// A torrent file that cannot be used (malformed, or a layout the storage refuses).
        case malformedTorrent = "malformed torrent"
        /// A seed's directory does not hold the torrent's complete data.
        case incompleteData = "data incomplete"
        /// The torrent's data could not be read or written.
        case storage = "storage failure"
        /// A mirror or web seed URL that cannot be used (not http(s), no host).
        case badMirrorURL = "unusable mirror URL"
        /// A file of CA certificates for mirrors (`leech --mirror-ca`) that cannot be used: unreadable, too large,
        /// not PEM, or holding no certificate that parses.
        case badMirrorCA = "unusable mirror CA file"
        /// The session was stopped before it finished.
        case cancelled = "cancelled"
        /// A magnet link's info dictionary could not be had from any peer (BEP 9): none answered, each refused,
        /// advertised a size over the limit, or sent bytes that do not hash to the info-hash.
        case metadataUnavailable = "metadata not received"

        // Storage.
        /// A file path that could leave the save directory (`..`, `.`, empty or `/`-holding components, an absolute
        /// path), or that runs through a symlink.
        case unsafePath = "unsafe file path"
        /// The file list and the piece facts do not describe a torrent (negative lengths, wrong hash count, ...).
        case invalidLayout = "invalid torrent layout"
        /// A piece index, offset or length outside the torrent.
        case outOfRange = "outside the torrent"
        /// A write to a piece that is already verified; its data on disk is left alone.
        case pieceAlreadyComplete = "piece already complete"
        /// A system call on a file or directory failed.
        case io = "file I/O failed"
        /// A read-only storage was asked to write.
        case readOnly = "storage is read-only"
        /// A resume file that cannot be used: malformed, for another torrent, or the files changed since.
        case resumeRejected = "resume data rejected"
    }

    public var code: Code
    /// What the error is about (a URL, a peer address, a file) and, where useful, the fix.
    public var context: String
    /// The `errno` of a failed system call, if any.
    public var errno: Int32?

    public init(_ code: Code, _ context: String, errno: Int32? = nil) {
        self.code = code
        self.context = context
        self.errno = errno
    }

    public var description: String { "\(context): \(code.rawValue)" }
}
