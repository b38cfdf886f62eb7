import NIOCore

extension PackedIPAddress {
    /// The IP address of a socket address; nil for a Unix domain socket.
    public init?(_ socketAddress: SocketAddress) {
        switch socketAddress {
        case .v4(let v4):
            let raw = UInt32(bigEndian: v4.address.sin_addr.s_addr)  // stored in network order
            self.init(
                ipv4: UInt8(truncatingIfNeeded: raw >> 24), UInt8(truncatingIfNeeded: raw >> 16),
                UInt8(truncatingIfNeeded: raw >> 8), UInt8(truncatingIfNeeded: raw))
        case .v6(let v6):
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            self.init(bytes: bytes)
        default:
            return nil
        }
    }

    /// Parses an IPv4 or IPv6 literal (as in `X-Forwarded-For` or the `ip` parameter); nil for anything else.
    public init?(literal: some StringProtocol) {
        let text = literal.trimmingSpaces
        guard !text.isEmpty, text.utf8.count <= 64, let address = try? SocketAddress(ipAddress: text, port: 0) else {
            return nil
        }
        self.init(address)
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        var view = Substring(self)
        while view.first == " " || view.first == "\t" { view = view.dropFirst() }
        while view.last == " " || view.last == "\t" { view = view.dropLast() }
        return String(view)
    }
}
