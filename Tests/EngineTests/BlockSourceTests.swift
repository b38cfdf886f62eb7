import CryptoPrimitives
import PeerWire
import Testing

@testable import Engine

/// A source of blocks held in memory (what an HTTP mirror will look like to the picker): it answers requests in
/// order, one block per ``deliver()``, and can spoil the first copy of one piece.
final class MemoryBlockSource: BlockSource {
    let sourceID: Int
    let pickerInfo: PickerPeerInfo
    private let data: [UInt8]
    private let pieceLength: Int
    private var spoil: Int?
    private(set) var queue: [BlockRequest] = []
    private(set) var cancelled: [BlockRequest] = []
    private(set) var delivered: [BlockRequest] = []

    init(id: Int, locality: PeerLocality, data: [UInt8], pieceLength: Int, spoilOnce piece: Int? = nil) {
        self.sourceID = id
        self.pickerInfo = PickerPeerInfo(source: .tracker, locality: locality)
        self.data = data
        self.pieceLength = pieceLength
        self.spoil = piece
    }

    func requestBlocks(_ requests: [BlockRequest]) { queue += requests }

    func cancelBlock(_ request: BlockRequest) {
        cancelled.append(request)
        queue.removeAll { $0 == request }
    }

    /// The next requested block and its bytes, nil when nothing is requested.
    func deliver() -> (BlockRequest, [UInt8])? {
        guard !queue.isEmpty else { return nil }
        let request = queue.removeFirst()
        let start = request.piece * pieceLength + request.begin
        var bytes = Array(data[start..<start + request.length])
        if request.piece == spoil {
            bytes[0] ^= 0xff
            if request.begin + request.length >= pieceLength || start + request.length == data.count { spoil = nil }
        }
        delivered.append(request)
        return (request, bytes)
    }
}

@Suite struct BlockSourceTests {
    /// 6 pieces of 32 KiB (two 16 KiB blocks), the last one 20 KiB.
    static let pieceLength = 32 << 10
    static let data: [UInt8] = (0..<(5 * (32 << 10) + (20 << 10))).map {
        UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13)
    }
    static let hashes = (0..<6).map { piece in
        DigestAlgorithm.sha1.hash(data[piece * pieceLength..<min(data.count, (piece + 1) * pieceLength)])
    }

    func makePicker() -> PiecePicker {
        var picker = PiecePicker(
            pieceCount: 6, pieceLength: Self.pieceLength, totalLength: Int64(Self.data.count),
            generator: SeededGenerator(seed: 11))
        picker.randomFirstPieces = 0
        return picker
    }

    /// What the session's write path does with sources, in memory: ask each for blocks, record arrivals, verify
    /// complete pieces, withdraw end-game copies. Returns the hash failures with the sources the picker named.
    func run(_ picker: inout PiecePicker, _ sources: [MemoryBlockSource], into store: inout [UInt8]) -> [Set<Int>] {
        var failures: [Set<Int>] = []
        let byID = Dictionary(uniqueKeysWithValues: sources.map { ($0.sourceID, $0) })
        for _ in 0..<10_000 where !picker.isComplete {
            for source in sources { picker.request(4 - picker.outstanding(source.sourceID).count, from: source) }
            for source in sources {
                guard let delivery = source.deliver() else { continue }
                let (request, bytes) = delivery
                let arrival = picker.blockReceived(from: source.sourceID, request)
                for cancel in arrival.cancels { byID[cancel.peer]?.cancelBlock(cancel.request) }
                guard arrival.accepted else { continue }
                let start = request.piece * Self.pieceLength + request.begin
                store.replaceSubrange(start..<start + bytes.count, with: bytes)
                guard arrival.pieceComplete else { continue }
                let range = start - request.begin..<start - request.begin + picker.size(ofPiece: request.piece)
                if DigestAlgorithm.sha1.hash(store[range]) == Self.hashes[request.piece] {
                    picker.pieceVerified(request.piece)
                } else {
                    failures.append(picker.pieceFailed(request.piece))
                }
            }
        }
        return failures
    }

    @Test func memorySourcesCompleteATorrentThroughThePicker() throws {
        // A LAN peer with every piece but 3, and a WAN source (a mirror, say) with all of them that spoils its first
        // copy of piece 3. A LAN-aware policy keeps the WAN source to what no LAN source has.
        struct WANOnlyForWhatLANLacks: PiecePickingPolicy {
            func rank(_ candidate: PieceCandidate, peer: PickerPeerInfo) -> Int? {
                peer.locality == .wan && candidate.lanAvailability > 0 ? nil : candidate.availability
            }
        }
        var picker = makePicker()
        picker.policy = WANOnlyForWhatLANLacks()
        picker.endGameDuplicates = 1
        let lan = MemoryBlockSource(id: 1, locality: .lan, data: Self.data, pieceLength: Self.pieceLength)
        let wan = MemoryBlockSource(
            id: 2, locality: .wan, data: Self.data, pieceLength: Self.pieceLength, spoilOnce: 3)
        picker.addSource(lan)
        picker.addSource(wan)
        for piece in 0..<6 where piece != 3 { picker.peerHas(lan.sourceID, piece: piece) }
        picker.peerHasAll(wan.sourceID)
        #expect(picker.lanAvailability(ofPiece: 0) == 1 && picker.lanAvailability(ofPiece: 3) == 0)

        var store = [UInt8](repeating: 0, count: Self.data.count)
        let failures = run(&picker, [lan, wan], into: &store)

        #expect(picker.isComplete)
        #expect(store == Self.data)
        #expect(failures == [[wan.sourceID]], "the spoiled piece names its only source")
        #expect(Set(wan.delivered.map(\.piece)) == [3])
        #expect(wan.delivered.count == 4, "piece 3 twice: spoiled, then good")
        #expect(!lan.delivered.contains { $0.piece == 3 })
    }

    @Test func endGameCopiesThatLoseTheRaceAreWithdrawn() throws {
        var picker = makePicker()
        let first = MemoryBlockSource(id: 1, locality: .lan, data: Self.data, pieceLength: Self.pieceLength)
        let second = MemoryBlockSource(id: 2, locality: .unknown, data: Self.data, pieceLength: Self.pieceLength)
        for source in [first, second] {
            picker.addSource(source)
            picker.peerHasAll(source.sourceID)
        }
        // `first` holds every block; in end game `second` gets copies of some of them.
        #expect(picker.request(100, from: first) == 12)
        #expect(picker.inEndGame)
        #expect(picker.request(4, from: second) == 4)
        let duplicated = second.queue
        var store = [UInt8](repeating: 0, count: Self.data.count)
        #expect(run(&picker, [first, second], into: &store).isEmpty)
        #expect(picker.isComplete && store == Self.data)
        // Each block came once: the copy that lost the race was withdrawn from the other source.
        #expect(first.delivered.count + second.delivered.count == 12)
        #expect(Set(first.delivered).union(second.delivered).count == 12)
        #expect(Set(duplicated).isSubset(of: Set(first.cancelled + second.cancelled)))
    }
}
