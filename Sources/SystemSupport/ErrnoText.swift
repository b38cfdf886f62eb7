#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The text of an `errno` value, for error messages.
public enum ErrnoText {
    /// `strerror(code)`; by default the calling thread's current `errno`.
    public static func of(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }
}
