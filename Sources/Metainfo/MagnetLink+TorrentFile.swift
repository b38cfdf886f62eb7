import Bencode

extension MagnetLink {
    /// A torrent file around an info dictionary fetched for this link (BEP 9): `announce` (the first `tr=`),
    /// `announce-list` (one tier per tracker, when there are several) and `info`, whose bytes are `info` unchanged
    /// (so the torrent's info-hash is the one its bytes hash to).
    ///
    /// - Parameter info: the raw, bencoded info dictionary.
    public func torrentFile(info: [UInt8]) -> [UInt8] {
        var out: [UInt8] = Array("d".utf8)
        if let first = trackers.first {
            out += BencodeValue.string("announce").encoded() + BencodeValue.string(first).encoded()
        }
        if trackers.count > 1 {
            out += BencodeValue.string("announce-list").encoded()
            out += BencodeValue.list(trackers.map { .list([.string($0)]) }).encoded()
        }
        out += BencodeValue.string("info").encoded() + info
        out += Array("e".utf8)
        return out
    }
}
