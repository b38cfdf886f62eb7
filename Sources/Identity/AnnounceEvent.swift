/// The `event` of an announce, with the one-byte code the signed-announce message uses (BEP 15's numbering, plus
/// BEP 21's `paused`).
public enum AnnounceEvent: UInt8, Sendable, Hashable, CaseIterable {
    /// No `event` parameter, or an empty one: a regular interval announce.
    case none = 0
    /// The download finished (`event=completed`).
    case completed = 1
    /// The first announce of a session (`event=started`).
    case started = 2
    /// The client is leaving the swarm (`event=stopped`).
    case stopped = 3
    /// BEP 21 partial seed.
    case paused = 4

    /// Parses the `event` query value; `""` is `.none`. Nil for anything else.
    public init?(queryValue: some StringProtocol) {
        switch queryValue {
        case "": self = .none
        case "completed": self = .completed
        case "started": self = .started
        case "stopped": self = .stopped
        case "paused": self = .paused
        default: return nil
        }
    }

    /// The `event` query value; `""` for `.none` (send no `event` parameter then).
    public var queryValue: String {
        switch self {
        case .none: ""
        case .completed: "completed"
        case .started: "started"
        case .stopped: "stopped"
        case .paused: "paused"
        }
    }
}
