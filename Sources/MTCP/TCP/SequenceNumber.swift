/// A TCP sequence number: 32 bits that wrap (RFC 9293 §3.4). Comparisons use
/// serial-number arithmetic — `a < b` when b is ahead of a by less than 2^31 —
/// which is meaningful only between numbers less than 2^31 apart, as numbers of
/// one connection's window always are.
public struct SequenceNumber: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: UInt32

    @inline(__always) public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    @inline(__always)
    public static func + (lhs: SequenceNumber, rhs: Int) -> SequenceNumber {
        SequenceNumber(lhs.rawValue &+ UInt32(truncatingIfNeeded: rhs))
    }

    @inline(__always)
    public static func - (lhs: SequenceNumber, rhs: Int) -> SequenceNumber {
        SequenceNumber(lhs.rawValue &- UInt32(truncatingIfNeeded: rhs))
    }

    /// The signed distance from `rhs` to `lhs`.
    @inline(__always)
    public static func - (lhs: SequenceNumber, rhs: SequenceNumber) -> Int {
        Int(Int32(bitPattern: lhs.rawValue &- rhs.rawValue))
    }

    @inline(__always)
    public static func < (lhs: SequenceNumber, rhs: SequenceNumber) -> Bool {
        Int32(bitPattern: lhs.rawValue &- rhs.rawValue) < 0
    }

    public var description: String { String(rawValue) }
}
