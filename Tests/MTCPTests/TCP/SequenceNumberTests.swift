import Testing
@testable import MTCP

@Suite struct SequenceNumberTests {
    let nearTop = SequenceNumber(0xFFFF_FFF0)

    @Test func arithmeticWraps() {
        #expect((nearTop + 0x20).rawValue == 0x10)
        #expect((SequenceNumber(0x10) - 0x20).rawValue == 0xFFFF_FFF0)
        #expect((nearTop + -1).rawValue == 0xFFFF_FFEF)
        #expect((SequenceNumber(5) + (1 << 32)).rawValue == 5, "adding 2^32 is a full turn")
        var n = nearTop
        n += 16
        #expect(n == .zero)
        n -= 1
        #expect(n.rawValue == UInt32.max)
    }

    @Test func differenceIsSignedAcrossTheWrap() {
        #expect(SequenceNumber(0x10) - nearTop == 32)
        #expect(nearTop - SequenceNumber(0x10) == -32)
        #expect(SequenceNumber(7) - SequenceNumber(7) == 0)
        let base = SequenceNumber(0x8000_0000)
        #expect((base + Int(Int32.max)) - base == Int(Int32.max))
        #expect((base - Int(Int32.max)) - base == -Int(Int32.max))
        for offset in [0, 1, 1000, 1 << 30, -1, -(1 << 30)] {
            #expect((nearTop + offset) - nearTop == offset)
        }
    }

    @Test func comparisonIsSerialAcrossTheWrap() {
        let after = SequenceNumber(0x10)
        #expect(nearTop < after)
        #expect(nearTop <= after)
        #expect(after > nearTop)
        #expect(after >= nearTop)
        #expect(!(after < nearTop))
        #expect(!(nearTop > after))
        #expect(after <= after && after >= after && !(after < after) && !(after > after))
        // Up to 2^31 - 1 ahead still counts as later.
        #expect(nearTop < nearTop + Int(Int32.max))
        #expect(nearTop + (1 << 31) + 1 < nearTop, "more than 2^31 ahead reads as behind")
    }

    @Test func maxAndMinAcrossTheWrap() {
        let after = SequenceNumber(3)
        #expect(SequenceNumber.max(nearTop, after) == after)
        #expect(SequenceNumber.max(after, nearTop) == after)
        #expect(SequenceNumber.min(nearTop, after) == nearTop)
        #expect(SequenceNumber.min(after, nearTop) == nearTop)
        #expect(Swift.max(nearTop, after) == after, "Comparable follows the serial order")
    }

    @Test func intervalMembershipAcrossTheWrap() {
        let low = nearTop, high = nearTop + 0x20   // high.rawValue == 0x10
        // low <= x < high
        #expect(low.isIn(from: low, upTo: high))
        #expect(SequenceNumber(0).isIn(from: low, upTo: high))
        #expect((high - 1).isIn(from: low, upTo: high))
        #expect(!high.isIn(from: low, upTo: high))
        #expect(!(low - 1).isIn(from: low, upTo: high))
        #expect(!low.isIn(from: low, upTo: low), "empty")
        // low < x <= high
        #expect(!low.isIn(after: low, through: high))
        #expect((low + 1).isIn(after: low, through: high))
        #expect(high.isIn(after: low, through: high))
        #expect(!(high + 1).isIn(after: low, through: high))
        #expect(!low.isIn(after: low, through: low), "empty")
        // low <= x <= high
        #expect(low.isIn(from: low, through: high))
        #expect(high.isIn(from: low, through: high))
        #expect(!(high + 1).isIn(from: low, through: high))
        #expect(!(low - 1).isIn(from: low, through: high))
        #expect(low.isIn(from: low, through: low))
    }
}
