import Engine
import SignatureGate

/// How a ``GatedLeech`` ended. A refused file is a result, not an error: the gate decided.
public enum GatedLeechOutcome: Sendable, Hashable {
    /// Every file verified and released into the output; `seeding` says how the seed-after phase ended (nil
    /// without one).
    case released([TorrentFileDecision], seeding: SessionOutcome?)
    /// At least one file was refused and quarantined (the decisions say which and why); the others were released.
    case refused([TorrentFileDecision])
    /// The download ended before every piece was verified (stopped, or stalled): nothing went through the gate.
    case notDownloaded(SessionOutcome)

    /// Every decision the gate made (none when the download did not finish).
    public var decisions: [TorrentFileDecision] {
        switch self {
        case .released(let decisions, _), .refused(let decisions): decisions
        case .notDownloaded: []
        }
    }
}
