/// A TCP sequence or acknowledgment number (RFC 9293 §3.4): 32 bits that wrap.
///
/// Arithmetic wraps modulo 2^32, and comparison is serial-number arithmetic
/// (RFC 1982): `a < b` when the signed 32-bit distance from `a` to `b` is positive.
/// That order is only meaningful between numbers less than 2^31 apart, which TCP
/// guarantees for the numbers it compares (windows are at most 2^30). It is not
/// transitive over the whole circle, so never sort numbers spread over more than
/// 2^31; at exactly 2^31 apart, `a < b` and `b < a` are both true (RFC 1982 leaves
/// that case undefined).
///
/// A separate type rather than `UInt32` so that plain integer comparison (which is
/// wrong across the wrap point) cannot be used by accident.
public struct SequenceNumber: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// The number as on the wire.
    public var rawValue: UInt32

    @inlinable @inline(__always)
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    public static let zero = SequenceNumber(0)

    // MARK: Arithmetic (modulo 2^32)

    /// `self` advanced by `count` sequence numbers (negative counts go back), wrapping.
    @inlinable @inline(__always)
    public static func + (lhs: SequenceNumber, rhs: Int) -> SequenceNumber {
        SequenceNumber(lhs.rawValue &+ UInt32(truncatingIfNeeded: rhs))
    }

    @inlinable @inline(__always)
    public static func - (lhs: SequenceNumber, rhs: Int) -> SequenceNumber {
        SequenceNumber(lhs.rawValue &- UInt32(truncatingIfNeeded: rhs))
    }

    @inlinable @inline(__always)
    public static func += (lhs: inout SequenceNumber, rhs: Int) { lhs = lhs + rhs }

    @inlinable @inline(__always)
    public static func -= (lhs: inout SequenceNumber, rhs: Int) { lhs = lhs - rhs }

    /// The signed distance from `rhs` to `lhs`, in -2^31 ..< 2^31 (the difference
    /// taken modulo 2^32 and read as an `Int32`): `(a + n) - a == n` for |n| < 2^31.
    @inlinable @inline(__always)
    public static func - (lhs: SequenceNumber, rhs: SequenceNumber) -> Int {
        Int(Int32(bitPattern: lhs.rawValue &- rhs.rawValue))
    }

    // MARK: Serial-number comparison

    @inlinable @inline(__always)
    public static func < (lhs: SequenceNumber, rhs: SequenceNumber) -> Bool {
        Int32(bitPattern: lhs.rawValue &- rhs.rawValue) < 0
    }

    @inlinable @inline(__always)
    public static func <= (lhs: SequenceNumber, rhs: SequenceNumber) -> Bool {
        Int32(bitPattern: lhs.rawValue &- rhs.rawValue) <= 0
    }

    @inlinable @inline(__always)
    public static func > (lhs: SequenceNumber, rhs: SequenceNumber) -> Bool {
        Int32(bitPattern: lhs.rawValue &- rhs.rawValue) > 0
    }

    @inlinable @inline(__always)
    public static func >= (lhs: SequenceNumber, rhs: SequenceNumber) -> Bool {
        Int32(bitPattern: lhs.rawValue &- rhs.rawValue) >= 0
    }

    /// The later of two numbers (serial order), e.g. to advance SND.MAX.
    @inlinable @inline(__always)
    public static func max(_ a: SequenceNumber, _ b: SequenceNumber) -> SequenceNumber { a < b ? b : a }

    /// The earlier of two numbers (serial order).
    @inlinable @inline(__always)
    public static func min(_ a: SequenceNumber, _ b: SequenceNumber) -> SequenceNumber { b < a ? b : a }

    // MARK: Interval membership
    //
    // These walk forward from `low` to `high` and compare unsigned offsets from
    // `low`, so they are exact for any interval shorter than 2^32 (no 2^31 limit),
    // and cost one subtraction pair and one compare. `high` is taken to be at or
    // after `low`: an interval "backwards" is read as one wrapping almost all the
    // way round.

    /// `low <= self < high`: e.g. RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND.
    @inlinable @inline(__always)
    public func isIn(from low: SequenceNumber, upTo high: SequenceNumber) -> Bool {
        rawValue &- low.rawValue < high.rawValue &- low.rawValue
    }

    /// `low < self <= high`: e.g. SND.UNA < SEG.ACK =< SND.NXT (an acceptable ACK).
    @inlinable @inline(__always)
    public func isIn(after low: SequenceNumber, through high: SequenceNumber) -> Bool {
        rawValue &- low.rawValue &- 1 < high.rawValue &- low.rawValue
    }

    /// `low <= self <= high`: e.g. SND.UNA =< SEG.ACK =< SND.NXT (window update check).
    @inlinable @inline(__always)
    public func isIn(from low: SequenceNumber, through high: SequenceNumber) -> Bool {
        rawValue &- low.rawValue <= high.rawValue &- low.rawValue
    }

    public var description: String { String(rawValue) }
}
