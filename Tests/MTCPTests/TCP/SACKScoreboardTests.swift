import Testing
@testable import MTCP

@Suite struct SACKScoreboardTests {
    func blocks(_ ranges: [(UInt32, UInt32)]) -> SACKBlockList {
        var list = SACKBlockList()
        for (left, right) in ranges { list.append(SACKBlock(left: left, right: right)) }
        return list
    }

    @Test func mergesAndFindsHoles() {
        var board = SACKScoreboard()
        let una = SequenceNumber(1000)
        board.record(blocks([(3000, 4000), (5000, 6000)]), unacknowledged: una, maximum: SequenceNumber(9000))
        #expect(board.count == 2 && board.sackedBytes == 2000)
        #expect(board.hole(from: una)! == (SequenceNumber(1000), 2000))
        #expect(board.hole(from: SequenceNumber(3500))! == (SequenceNumber(4000), 1000))
        #expect(board.hole(from: SequenceNumber(6000)) == nil, "nothing above the highest SACK is known lost")
        board.record(blocks([(3900, 5100)]), unacknowledged: una, maximum: SequenceNumber(9000))
        #expect(board.count == 1 && board.sackedBytes == 3000 && board.highestSacked == SequenceNumber(6000))
        board.acknowledge(upTo: SequenceNumber(4500))
        #expect(board.sackedBytes == 1500)
        board.acknowledge(upTo: SequenceNumber(7000))
        #expect(board.isEmpty)
    }

    @Test func ignoresStaleAndBogusBlocksAcrossTheWrap() {
        var board = SACKScoreboard()
        let una = SequenceNumber(UInt32.max - 1000)
        board.record(blocks([(UInt32.max - 2000, UInt32.max - 1500), (500, 800), (UInt32.max - 500, 200)]),
                     unacknowledged: una, maximum: SequenceNumber(600))
        #expect(board.count == 1, "below SND.UNA and beyond SND.MAX are refused")
        #expect(board.sackedBytes == 701)
    }

    @Test func keepsTheLowestRangesWhenFull() {
        var board = SACKScoreboard()
        for index in 0..<(SACKScoreboard.capacity + 4) {
            let left = UInt32(2000 + index * 1000)
            board.record(blocks([(left, left + 500)]), unacknowledged: SequenceNumber(1000),
                         maximum: SequenceNumber(1_000_000))
        }
        #expect(board.count == SACKScoreboard.capacity)
        #expect(board.hole(from: SequenceNumber(1000))! == (SequenceNumber(1000), 1000))
        let highest = board.highestSacked!
        // A range below the highest still fits: the highest makes way.
        board.record(blocks([(1500, 1600)]), unacknowledged: SequenceNumber(1000), maximum: SequenceNumber(1_000_000))
        #expect(board.count == SACKScoreboard.capacity)
        #expect(board.hole(from: SequenceNumber(1000))! == (SequenceNumber(1000), 500))
        #expect(board.highestSacked! < highest)
        #expect(board.sackedBytes == 100 + (SACKScoreboard.capacity - 1) * 500)
    }

    /// Random blocks, in any order and overlapping, against a model holding every
    /// SACKed byte: the same bytes, holes and counts.
    @Test func randomBlocksMatchAByteModel() {
        var random = SeededRandom(seed: 0x5AC6)
        let una = SequenceNumber(UInt32.max - 700)   // across the wrap
        for _ in 0..<200 {
            var board = SACKScoreboard()
            var model = Set<Int>()   // offsets from SND.UNA
            for _ in 0..<Int.random(in: 1...60, using: &random) {
                let left = Int.random(in: 1...1990, using: &random)
                let right = left + Int.random(in: 1...40, using: &random)
                board.record(blocks([(una.rawValue &+ UInt32(left), una.rawValue &+ UInt32(right))]),
                             unacknowledged: una, maximum: una + 2100)
                model.formUnion(left..<right)
            }
            #expect(board.sackedBytes == model.count)
            #expect(board.highestSacked == una + (model.max()! + 1))
            for offset in stride(from: 0, to: 2040, by: 7) {
                #expect(board.contains(una + offset) == model.contains(offset))
                let holeStart = (offset...).first { !model.contains($0) }!
                if holeStart > model.max()! {
                    #expect(board.hole(from: una + offset) == nil)
                } else {
                    let holeEnd = (holeStart...).first { model.contains($0) }!
                    #expect(board.hole(from: una + offset)! == (una + holeStart, holeEnd - holeStart))
                }
            }
        }
    }

    @Test func countsTheHolesBelowTheHighestSACK() {
        // RFC 6675 §4 SetPipe: the bytes not SACKed below the highest SACKed one.
        var board = SACKScoreboard()
        board.record(blocks([(3000, 4000), (5000, 6000)]), unacknowledged: SequenceNumber(1000),
                     maximum: SequenceNumber(9000))
        let end = SequenceNumber(9000)
        #expect(board.unsackedBytes(from: SequenceNumber(1000), below: end) == 3000)
        #expect(board.unsackedBytes(from: SequenceNumber(3500), below: end) == 1000)
        #expect(board.unsackedBytes(from: SequenceNumber(6000), below: end) == 0, "nothing above the highest SACK")
        #expect(board.unsackedBytes(from: SequenceNumber(1000), below: SequenceNumber(3500)) == 2000)
        #expect(board.sackedBytes(below: SequenceNumber(3500)) == 500)
        #expect(board.sackedBytes(below: end) == board.sackedBytes)
    }
}
