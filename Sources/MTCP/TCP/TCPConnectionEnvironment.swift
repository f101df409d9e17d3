/// What a connection needs from the stack around it while one of its methods
/// runs. The engine is the environment in production; tests give a recording one,
/// so the state machine is exercised with no engine, device or frames.
///
/// Sending is synchronous because its outcome steers the state machine: a
/// segment that found no packet buffer is not counted as sent, and the data
/// loop stops. Everything that may wait until the method returns (lists, timers,
/// freeing the slot) goes through `TCPConnection.requests` instead.
/// Methods taking an environment are generic over it, so the engine's calls are
/// specialised: no existential and no dynamic dispatch per segment. It is
/// `@usableFromInline` with the engine's witnesses: the engine loop is
/// specialised for its device in the modules above (cross-module optimisation),
/// and there a call through a plain internal conformance stays a dynamic call
/// through its witness table.
@usableFromInline
protocol TCPConnectionEnvironment: ~Copyable {
    var tcpConfiguration: TCPConfiguration { get }
    var connectionStatistics: TCPStatistics { get set }
    /// Sends one segment. False when no packet buffer was free or the transmit
    /// queue was full.
    mutating func transmit(_ segment: OutgoingSegment, now: Instant) -> Bool
    /// A passive open completed: the connection leaves its listener's SYN queue
    /// for its accept queue, unless that is full or the listener is gone.
    mutating func admitToAcceptQueue(_ connection: ConnectionID, listener: Int32) -> AcceptAdmission
}

/// What became of a handshake's final ACK at its listener.
@usableFromInline
enum AcceptAdmission {
    case admitted
    /// The application has not taken enough of the connections already
    /// queued: the ACK is ignored and the connection stays in SYN-RECEIVED.
    case queueFull
    /// The listener closed during the handshake: the connection is reset.
    case listenerGone
}

/// One segment to send, as fields: the environment builds the frame. The
/// payload is `payloadLength` bytes of `payloadSource` from `payloadOffset`.
/// The send buffer comes by address, valid for the `transmit` call only: as a
/// value its 152 bytes were copied into every segment.
@usableFromInline
struct OutgoingSegment {
    var tuple: FourTuple
    var sequence: SequenceNumber
    /// Nil: no ACK flag and a zero ACK field.
    var acknowledgment: SequenceNumber?
    var flags: TCPFlags
    var window: UInt16
    var options = TCPOptions()
    var payloadSource: UnsafePointer<SendBuffer>? = nil
    var payloadOffset = 0
    var payloadLength = 0

    /// A reset for a segment that has no (valid) connection (RFC 9293 §3.10.7.1):
    /// it takes its sequence number from the segment's ACK field, or acknowledges
    /// the segment when that has none.
    static func reset(replyingTo segment: IncomingSegment, tuple: FourTuple) -> OutgoingSegment {
        if segment.flags.contains(.ack) {
            return OutgoingSegment(tuple: tuple, sequence: segment.acknowledgment, acknowledgment: nil, flags: .rst,
                                   window: 0)
        }
        return OutgoingSegment(tuple: tuple, sequence: SequenceNumber(0),
                               acknowledgment: segment.sequence + segment.length, flags: [.rst, .ack], window: 0)
    }
}

/// Work a connection leaves for the engine at the end of a call.
struct ConnectionRequests: OptionSet {
    var rawValue: UInt16

    /// mTCP's output lists: a SYN or SYN-ACK (`controlToSend`), a pure ACK, data.
    static let control = ConnectionRequests(rawValue: 1 << 0)
    static let ack = ConnectionRequests(rawValue: 1 << 1)
    /// The data list's short part (little left to send) or its bulk part.
    static let shortData = ConnectionRequests(rawValue: 1 << 2)
    static let bulkData = ConnectionRequests(rawValue: 1 << 3)
    /// `pendingEvents` grew for an application that holds the handle.
    static let events = ConnectionRequests(rawValue: 1 << 4)
    /// A deadline in `deadlines` changed: the timer wheel must follow.
    static let retransmissionTimer = ConnectionRequests(rawValue: 1 << 5)
    static let delayedAckTimer = ConnectionRequests(rawValue: 1 << 6)
    static let idleTimer = ConnectionRequests(rawValue: 1 << 7)
    static let persistTimer = ConnectionRequests(rawValue: 1 << 8)
    /// The connection ended (now CLOSED): out of the flow table, and back to the
    /// pools unless the application still holds it.
    static let ended = ConnectionRequests(rawValue: 1 << 9)
    /// It ended in SYN-RECEIVED of a passive open: its listener has one
    /// half-open connection less.
    static let endedHalfOpen = ConnectionRequests(rawValue: 1 << 10)
    /// The application gave back the handle of a connection that had already
    /// ended: it is freed now.
    static let handleReturned = ConnectionRequests(rawValue: 1 << 11)
    /// It ended with an error (a timeout, a reset), whoever holds it: what it
    /// measured of the path is not kept (`PeerRTTCache`).
    static let endedInError = ConnectionRequests(rawValue: 1 << 12)

    /// The four timer bits, in `TCPTimer` order from `retransmissionTimer` up.
    /// Computed, not a stored static: that would be a lazily initialised global,
    /// checked with `swift_once` on every call that settles a connection.
    @inline(__always) static var allTimers: ConnectionRequests {
        ConnectionRequests(rawValue: timerBits << timerShift)
    }
    @inline(__always) static var timerShift: UInt16 { 5 }
    @inline(__always) static var timerBits: UInt16 { (1 << UInt16(TCPTimer.count)) - 1 }

    @inline(__always) static func timer(_ timer: TCPTimer) -> ConnectionRequests {
        ConnectionRequests(rawValue: 1 << (timerShift + UInt16(timer.rawValue)))
    }

    /// The timers whose deadline changed, as a bit each by `TCPTimer` raw value.
    @inline(__always) var changedTimers: UInt16 { (rawValue >> Self.timerShift) & Self.timerBits }
}

/// When each of a connection's timers is due; nil when it is not running.
struct ConnectionDeadlines {
    private var deadlines: (Instant?, Instant?, Instant?, Instant?) = (nil, nil, nil, nil)

    @inline(__always) subscript(_ timer: TCPTimer) -> Instant? {
        get {
            switch timer {
            case .retransmission: deadlines.0
            case .delayedAck: deadlines.1
            case .idle: deadlines.2
            case .persist: deadlines.3
            }
        }
        set {
            switch timer {
            case .retransmission: deadlines.0 = newValue
            case .delayedAck: deadlines.1 = newValue
            case .idle: deadlines.2 = newValue
            case .persist: deadlines.3 = newValue
            }
        }
    }
}
