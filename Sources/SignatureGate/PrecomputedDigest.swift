import SystemSupport

/// A staged file's SHA-256, computed while the file was being downloaded (``StreamingFileHasher``), with the
/// fingerprint of the file it was computed for.
///
/// The gate uses it instead of reading the file again only while the staged file is still that file: same device
/// and inode, same size, same modification time as when its last byte was hashed. Anything else means the file was
/// replaced or written to after hashing, and the gate refuses it (``GateRefusal/changedAfterVerification(_:)``).
public struct PrecomputedDigest: Sendable, Hashable {
    /// Size and SHA-256 of the bytes hashed (no BLAKE2b-512: a policy that needs it makes the gate read the file).
    public var digests: FileDigests
    /// The file when its last byte had been hashed.
    public var file: FileFingerprint

    public init(digests: FileDigests, file: FileFingerprint) {
        self.digests = digests
        self.file = file
    }

    /// Whether `now` (the fingerprint of the staged file the gate opened) is the file that was hashed, unchanged.
    public func describes(_ now: FileFingerprint) -> Bool {
        now.isSameFile(as: file) && now.hasSameContentStamp(as: file) && now.size == digests.size
    }
}
