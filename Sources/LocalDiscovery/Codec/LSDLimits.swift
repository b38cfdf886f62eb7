/// The bounds of the BEP 14 wire format as this side sends and accepts it.
public enum LSDLimits {
    /// The longest datagram sent or accepted, in bytes (Transmission's limit; below an Ethernet MTU).
    public static let maximumDatagram = 1400
    /// The longest line accepted, `\r\n` excluded.
    public static let maximumLineLength = 256
    /// Header lines accepted after the request line.
    public static let maximumHeaders = 40
    /// `Infohash` headers accepted in one datagram (we send one; a terse sender could fit 27 in 1,400 bytes; more
    /// than 25 is refused).
    public static let maximumInfoHashes = 25
    /// The well-known port of the BEP 14 multicast groups.
    public static let multicastPort = 6771
    /// The IPv4 group.
    public static let ipv4Group = "239.192.152.143"
    /// The IPv6 group (site-local scope).
    public static let ipv6Group = "ff15::efc0:988f"
}
