/// The timers of a connection, each a node of the engine's timer wheel at
/// `connectionIndex * TCPTimer.count + kind`.
///
/// The retransmission node also serves as the SYN/SYN-ACK timer and the TIME-WAIT
/// timer; the idle node is the idle timeout (`tcp_timeout`) and keep-alive. The
/// persist timer has its own node and backoff: sharing the retransmission node
/// handed its deadline and its backed-off interval to the data sent once the
/// window reopened.
enum TCPTimer: Int, CaseIterable {
    case retransmission
    case delayedAck
    case idle
    case persist

    /// `allCases.count`, written out: a stored static computed at run time is a
    /// lazily initialised global (a `swift_once` check) on every node's arithmetic.
    /// A test keeps the two equal.
    static var count: Int { 4 }

    @inline(__always) func node(_ connection: Int32) -> Int { Int(connection) &* Self.count &+ rawValue }

    @inline(__always) static func decode(_ node: Int) -> (connection: Int32, timer: TCPTimer) {
        (Int32(truncatingIfNeeded: node / count), TCPTimer(rawValue: node % count).unsafelyUnwrapped)
    }
}
