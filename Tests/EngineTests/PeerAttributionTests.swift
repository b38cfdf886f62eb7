import Engine
import Testing

@Suite struct PeerAttributionTests {
    /// Two files of 20000 and 12768 bytes behind 16 KiB pieces (piece 1 spans both files), plus a pad file that is
    /// never credited; two peers each send one block of every piece.
    func layout() throws -> StorageLayout {
        try StorageLayout(
            files: [(["t", "a"], 20000, false), (["t", "b"], 12768, false), (["t", ".pad", "1"], 2000, true)],
            pieceLength: 16384, pieceHashes: [UInt8](repeating: 0, count: 60),
            infoHash: [UInt8](repeating: 1, count: 20))
    }

    @Test func creditsVerifiedBlocksPerFileAndPeer() throws {
        var attribution = PeerAttribution(layout: try layout())
        // Piece 0: bytes 0..<16384, all file a. Peer 1 sends 0..<8192, peer 2 the rest.
        attribution.blockAccepted(piece: 0, begin: 0, length: 8192, peer: "127.0.0.1:6881")
        attribution.blockAccepted(piece: 0, begin: 8192, length: 8192, peer: "127.0.0.1:6882")
        // Piece 1: bytes 16384..<32768. Peer 1's block 16384..<24576 spans a (3616 bytes) and b (4576 bytes);
        // peer 2's block 24576..<32768 is all b.
        attribution.blockAccepted(piece: 1, begin: 0, length: 8192, peer: "127.0.0.1:6881")
        attribution.blockAccepted(piece: 1, begin: 8192, length: 8192, peer: "127.0.0.1:6882")
        // Piece 2: bytes 32768..<34768 is the pad file only.
        attribution.blockAccepted(piece: 2, begin: 0, length: 2000, peer: "127.0.0.1:6881")
        #expect(attribution.suppliedBytes.isEmpty, "nothing is credited before the hash check")
        attribution.pieceVerified(0)
        attribution.pieceVerified(1)
        attribution.pieceVerified(2)
        let supplied = attribution.suppliedBytes
        #expect(supplied["t/a"] == ["127.0.0.1:6881": 8192 + 3616, "127.0.0.1:6882": 8192])
        #expect(supplied["t/b"] == ["127.0.0.1:6881": 4576, "127.0.0.1:6882": 8192])
        #expect(supplied["t/.pad/1"] == nil)
        #expect(supplied["t/a"]?.values.reduce(0, +) == 20000)
        #expect(supplied["t/b"]?.values.reduce(0, +) == 12768)
    }

    @Test func failedPiecesAreNotCredited() throws {
        var attribution = PeerAttribution(layout: try layout())
        attribution.blockAccepted(piece: 1, begin: 0, length: 16384, peer: "10.0.0.9:51413")
        attribution.pieceFailed(1)
        attribution.pieceVerified(1)
        #expect(attribution.suppliedBytes.isEmpty)
        // Downloaded again from another peer after the failure: only that peer is credited.
        attribution.blockAccepted(piece: 1, begin: 0, length: 16384, peer: "127.0.0.1:6882")
        attribution.pieceVerified(1)
        #expect(attribution.suppliedBytes == ["t/a": ["127.0.0.1:6882": 3616], "t/b": ["127.0.0.1:6882": 12768]])
    }
}
