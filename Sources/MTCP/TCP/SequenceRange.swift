/// A half-open run of sequence numbers `lowerBound ..< lowerBound + count`, e.g. a
/// receive window (RCV.NXT, RCV.WND) or the sequence space a segment occupies
/// (SEG.SEQ, SEG.LEN).
///
/// Stored as start and length rather than two ends so that membership is one
/// unsigned compare of offsets from the start, exact across the wrap point for any
/// length below 2^32, and so that an empty range and a full one cannot be confused.
public struct SequenceRange: Hashable, Sendable, CustomStringConvertible {
    public var lowerBound: SequenceNumber
    @usableFromInline var length: UInt32

    /// `count` sequence numbers starting at `lowerBound`; `count` is in 0 ... 2^32 - 1.
    @inlinable @inline(__always)
    public init(from lowerBound: SequenceNumber, count: Int) {
        precondition(count >= 0 && count <= Int(UInt32.max), "sequence range length out of bounds")
        self.lowerBound = lowerBound
        self.length = UInt32(truncatingIfNeeded: count)
    }

    /// The numbers from `lowerBound` up to, not including, `upperBound`, walking
    /// forward (so `upperBound` is taken to be at or after `lowerBound`).
    @inlinable @inline(__always)
    public init(from lowerBound: SequenceNumber, upTo upperBound: SequenceNumber) {
        self.lowerBound = lowerBound
        self.length = upperBound.rawValue &- lowerBound.rawValue
    }

    /// How many sequence numbers the range holds.
    @inlinable public var count: Int { Int(length) }

    @inlinable public var isEmpty: Bool { length == 0 }

    /// The first number after the range (exclusive end), e.g. RCV.NXT + RCV.WND.
    @inlinable public var upperBound: SequenceNumber { SequenceNumber(lowerBound.rawValue &+ length) }

    /// `lowerBound <= number < upperBound`.
    @inlinable @inline(__always)
    public func contains(_ number: SequenceNumber) -> Bool {
        number.rawValue &- lowerBound.rawValue < length
    }

    /// True when the two ranges share at least one number (never for an empty one).
    /// Two runs on the circle overlap exactly when one's start lies in the other;
    /// exact while the two lengths add up to less than 2^32.
    @inlinable @inline(__always)
    public func overlaps(_ other: SequenceRange) -> Bool {
        guard length != 0 && other.length != 0 else { return false }
        return contains(other.lowerBound) || other.contains(lowerBound)
    }

    /// The segment acceptability test of RFC 9293 §3.10.7.4, with `self` the receive
    /// window (RCV.NXT, RCV.WND) and `segment` the segment's (SEG.SEQ, SEG.LEN):
    ///
    /// | SEG.LEN | RCV.WND | acceptable when                              |
    /// |---------|---------|----------------------------------------------|
    /// | 0       | 0       | SEG.SEQ = RCV.NXT                            |
    /// | 0       | > 0     | RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND         |
    /// | > 0     | 0       | never                                        |
    /// | > 0     | > 0     | some part of the segment is in the window    |
    ///
    /// The last row is the RFC's "first or last octet in the window" widened, as
    /// Linux does, to a segment that starts before the window and ends after it:
    /// it too carries new data, and the caller trims it to the window anyway.
    /// (SEG.LEN counts SYN and FIN.)
    @inlinable @inline(__always)
    public func acceptsSegment(_ segment: SequenceRange) -> Bool {
        if segment.length == 0 {
            return length == 0 ? segment.lowerBound == lowerBound : contains(segment.lowerBound)
        }
        return overlaps(segment)
    }

    public var description: String { "[\(lowerBound), \(upperBound))" }
}
