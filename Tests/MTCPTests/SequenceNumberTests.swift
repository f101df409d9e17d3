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

    @Test func rangeContainsAndBounds() {
        let window = SequenceRange(from: nearTop, count: 0x20)
        #expect(window.upperBound == SequenceNumber(0x10))
        #expect(window.count == 0x20 && !window.isEmpty)
        #expect(window.contains(nearTop))
        #expect(window.contains(SequenceNumber(0xF)))
        #expect(!window.contains(SequenceNumber(0x10)))
        #expect(!window.contains(nearTop - 1))
        #expect(SequenceRange(from: nearTop, upTo: SequenceNumber(0x10)) == window)
        let empty = SequenceRange(from: nearTop, count: 0)
        #expect(empty.isEmpty && !empty.contains(nearTop))
        #expect(window.description == "[4294967280, 16)")
        #expect(SequenceNumber(42).description == "42")
    }

    @Test func rangesOverlap() {
        let window = SequenceRange(from: nearTop, count: 0x20)
        #expect(window.overlaps(SequenceRange(from: SequenceNumber(0xF), count: 5)))
        #expect(window.overlaps(SequenceRange(from: nearTop - 5, count: 6)))
        #expect(!window.overlaps(SequenceRange(from: nearTop - 5, count: 5)))
        #expect(!window.overlaps(SequenceRange(from: SequenceNumber(0x10), count: 100)))
        #expect(window.overlaps(SequenceRange(from: nearTop - 100, count: 300)), "covers the window")
        #expect(!window.overlaps(SequenceRange(from: nearTop, count: 0)))
    }

    /// RFC 9293 §3.10.7.4, with the window across the wrap point.
    @Test func segmentAcceptability() {
        let rcvNxt = nearTop + 8
        let window = SequenceRange(from: rcvNxt, count: 100)
        let closed = SequenceRange(from: rcvNxt, count: 0)
        func segment(_ offset: Int, _ length: Int) -> SequenceRange { SequenceRange(from: rcvNxt + offset, count: length) }
        // Zero-length segment, zero window: only exactly RCV.NXT.
        #expect(closed.acceptsSegment(segment(0, 0)))
        #expect(!closed.acceptsSegment(segment(1, 0)))
        #expect(!closed.acceptsSegment(segment(-1, 0)))
        // Zero-length segment, open window: in the window.
        #expect(window.acceptsSegment(segment(0, 0)))
        #expect(window.acceptsSegment(segment(99, 0)))
        #expect(!window.acceptsSegment(segment(100, 0)))
        #expect(!window.acceptsSegment(segment(-1, 0)))
        // Data, zero window: never.
        #expect(!closed.acceptsSegment(segment(0, 1)))
        // Data, open window: first or last byte in it (or spanning it).
        #expect(window.acceptsSegment(segment(0, 10)))
        #expect(window.acceptsSegment(segment(-10, 11)), "last byte is RCV.NXT")
        #expect(!window.acceptsSegment(segment(-10, 10)), "entirely old")
        #expect(window.acceptsSegment(segment(99, 10)))
        #expect(!window.acceptsSegment(segment(100, 10)), "entirely beyond")
        #expect(window.acceptsSegment(segment(-10, 200)), "spans the window")
    }
}
