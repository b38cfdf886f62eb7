import SwarmPrimitives

extension PeerID {
    /// The Azureus-style client tag our peer ids start with.
    public static let swtorrentPrefix = "-SW0100-"

    /// A fresh random peer id of ours: `-SW0100-` followed by 12 random alphanumerics.
    public static func generate() -> PeerID {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        var generator = SystemRandomNumberGenerator()
        let tail = (0..<12).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
        return PeerID(Array(swtorrentPrefix.utf8) + tail)!
    }
}
