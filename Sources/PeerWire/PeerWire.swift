// PeerWire: the BitTorrent peer protocol (BEP 3, BEP 6, BEP 10) as NIOCore codecs; opens no sockets.
