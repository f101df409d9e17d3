/// A point in time on the engine's clock, in nanoseconds from an arbitrary origin.
///
/// Protocol code never reads a clock: the engine reads it once per loop iteration
/// and passes the value down, so tests can drive time explicitly.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    @inlinable public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)

    @inlinable public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    @inlinable public static func + (lhs: Instant, rhs: TimeSpan) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &+ rhs.nanoseconds)
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    @inlinable public func since(_ earlier: Instant) -> TimeSpan {
        TimeSpan(nanoseconds: nanoseconds > earlier.nanoseconds ? nanoseconds - earlier.nanoseconds : 0)
    }

    public var description: String { "\(Double(nanoseconds) / 1e9)s" }
}

/// A non-negative length of time in nanoseconds.
public struct TimeSpan: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    @inlinable public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }
    @inlinable public static func microseconds(_ value: UInt64) -> TimeSpan { TimeSpan(nanoseconds: value * 1_000) }
    @inlinable public static func milliseconds(_ value: UInt64) -> TimeSpan { TimeSpan(nanoseconds: value * 1_000_000) }
    @inlinable public static func seconds(_ value: UInt64) -> TimeSpan { TimeSpan(nanoseconds: value * 1_000_000_000) }

    public static let zero = TimeSpan(nanoseconds: 0)

    @inlinable public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
    @inlinable public static func + (lhs: TimeSpan, rhs: TimeSpan) -> TimeSpan {
        TimeSpan(nanoseconds: lhs.nanoseconds &+ rhs.nanoseconds)
    }
    @inlinable public static func * (lhs: TimeSpan, rhs: UInt64) -> TimeSpan {
        TimeSpan(nanoseconds: lhs.nanoseconds &* rhs)
    }

    public var description: String { "\(Double(nanoseconds) / 1e6)ms" }
}
