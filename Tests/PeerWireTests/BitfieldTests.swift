import PeerWire
import Testing

@Suite struct BitfieldTests {
    @Test(arguments: [0, 1, 7, 8, 9, 63, 64, 65, 130])
    func wireRoundTripAndCounts(count: Int) throws {
        var bits = Bitfield(count: count)
        for index in stride(from: 0, to: count, by: 3) { bits.insert(index) }
        let wire = bits.wireBytes
        #expect(wire.count == (count + 7) / 8)
        let back = try Bitfield(wireBytes: wire, count: count)
        #expect(back == bits)
        #expect(back.setCount == (count + 2) / 3)
        #expect(back.setIndices == Array(stride(from: 0, to: count, by: 3)))
    }

    @Test func wireOrderIsMostSignificantBitFirst() throws {
        var bits = Bitfield(count: 10)
        bits.insert(0)
        bits.insert(9)
        #expect(bits.wireBytes == [0x80, 0x40])
        let parsed = try Bitfield(wireBytes: [0x01, 0x80], count: 10)
        #expect(parsed.setIndices == [7, 8])
    }

    @Test func spareBitsAreRefused() {
        #expect(throws: PeerWireError.self) { try Bitfield(wireBytes: [0xFF, 0xE0], count: 10) }
        do {
            _ = try Bitfield(wireBytes: [0x00, 0x20], count: 10)
            Issue.record("spare bit accepted")
        } catch {
            #expect(error.code == .invalidBitfield)
        }
        #expect((try? Bitfield(wireBytes: [0xFF, 0xC0], count: 10))?.isComplete == true)
    }

    @Test(arguments: [0, 1, 2, 4])
    func wrongSizeIsRefused(byteCount: Int) {
        do {
            _ = try Bitfield(wireBytes: [UInt8](repeating: 0, count: byteCount), count: 20)
            Issue.record("bitfield of \(byteCount) bytes accepted for 20 pieces")
        } catch {
            #expect(error.code == .invalidBitfield)
        }
    }

    @Test func searchAndAlgebra() {
        var ours = Bitfield(count: 200)
        var theirs = Bitfield(count: 200, allSet: true)
        #expect(theirs.isComplete && theirs.setCount == 200)
        #expect(theirs.firstMissing() == nil)
        #expect(ours.firstMissing() == 0)
        #expect(ours.firstSet() == nil)
        for index in 0..<130 { ours.insert(index) }
        #expect(ours.firstMissing() == 130)
        #expect(ours.firstMissing(from: 150) == 150)
        #expect(ours.firstSet(from: 64) == 64)
        #expect(ours.firstSet(from: 130) == nil)
        theirs.remove(199)
        theirs.remove(131)
        let wanted = theirs.subtracting(ours)
        #expect(wanted.setCount == 200 - 130 - 2)
        #expect(wanted.firstSet() == 130)
        #expect(wanted.firstSet(from: 131) == 132)
        #expect(ours.intersection(theirs).setCount == 130)
        #expect(ours.union(theirs).setCount == 198)
        #expect(ours.intersects(theirs))
        #expect(!ours.intersects(wanted))
        #expect(ours.insert(3) == false)
        #expect(ours.remove(3) == true)
        #expect(ours.missingCount == 71)
        #expect(!ours[3] && ours[4])
    }
}
