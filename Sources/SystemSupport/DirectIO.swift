/// `O_DIRECT` transfers (reads and writes that bypass the page cache), which Swift's Glibc module does not export.
public enum DirectIO {
    /// The `O_DIRECT` open/`fcntl` flag; 0 where it is unknown, which turns direct I/O off for every caller.
    public static let flag: CInt = {
        #if os(Linux) && arch(x86_64)
            return 0o40000
        #elseif os(Linux) && (arch(arm64) || arch(arm))
            return 0o200000
        #else
            return 0
        #endif
    }()

    /// What `O_DIRECT` transfers are aligned to: memory address, file offset and length. 4 KiB (the page size)
    /// covers the logical block size of every common device.
    public static let alignment = 4096
}
