/// Our peer id: Azureus style `-SW0100-` followed by 12 random alphanumerics.
public enum PeerID {
    public static let prefix = "-SW0100-"

    /// A fresh random peer id (20 bytes).
    public static func generate() -> [UInt8] {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        var generator = SystemRandomNumberGenerator()
        return Array(prefix.utf8) + (0..<12).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
    }
}
