// Metainfo: .torrent files (BEP 3, BEP 12, BEP 19, BEP 27; BEP 52 read far enough to refuse clearly),
// info-hashes over the raw info bytes, magnet links (BEP 9), piece hashing and torrent creation.
