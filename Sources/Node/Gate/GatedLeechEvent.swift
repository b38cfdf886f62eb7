import Engine
import SignatureGate

/// What a ``GatedLeech`` reports while it runs, in order: download progress, the download's end, one decision per
/// file, then (with a seed-after time) seeding progress and the seeding's end. The command prints these; the
/// daemon will turn them into status and metrics.
public enum GatedLeechEvent: Sendable, Hashable {
    /// Download progress, every ``SessionConfiguration/progressInterval`` and once at the end.
    case progress(SessionProgress)
    /// The download ended (complete, stopped or stalled).
    case downloadEnded(SessionOutcome)
    /// After a complete download: how many of the torrent's files have a SHA-256 taken during the download (the
    /// gate reads only the others again), and how the pieces reached the hasher.
    case digestsStreamed(files: Int, of: Int, StreamingFileHasher.Statistics)
    /// The gate released or quarantined one file.
    case decision(TorrentFileDecision)
    /// Seed-after progress.
    case seedingProgress(SessionProgress)
    /// The seed-after phase ended.
    case seedingEnded(SessionOutcome)
}
