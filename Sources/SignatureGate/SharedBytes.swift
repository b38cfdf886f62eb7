/// Bytes that another part of the program owns and shares read-only, so that ``StreamingFileHasher`` can keep them
/// until it hashes them instead of copying them (the engine's verified piece buffers, in the gated leech). A value
/// keeps its bytes alive and unchanged for as long as it is held.
public protocol SharedBytes: Sendable {
    /// How many bytes.
    var count: Int { get }
    /// Calls `body` with the bytes (valid during the call only).
    func withBytes(_ body: (UnsafeRawBufferPointer) -> Void)
}

extension Array: SharedBytes where Element == UInt8 {
    public func withBytes(_ body: (UnsafeRawBufferPointer) -> Void) { withUnsafeBytes(body) }
}
