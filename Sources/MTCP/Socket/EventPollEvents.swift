/// Readiness conditions and flags of the epoll-like interface, with Linux's bit
/// values so code ported from epoll or mTCP keeps its constants.
public struct EventPollEvents: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Bytes to read, end of stream, or (listener) a connection to accept: EPOLLIN.
    public static let input = EventPollEvents(rawValue: 0x001)
    /// Room to write, or an active open completed: EPOLLOUT.
    public static let output = EventPollEvents(rawValue: 0x004)
    /// The connection failed; `takeError` says why: EPOLLERR (always reported).
    public static let error = EventPollEvents(rawValue: 0x008)
    /// Both directions are closed, or the socket is not connected: EPOLLHUP (always reported).
    public static let hangUp = EventPollEvents(rawValue: 0x010)
    /// The peer closed its direction (FIN received): EPOLLRDHUP.
    public static let peerHangUp = EventPollEvents(rawValue: 0x2000)
    /// Report only changes, not conditions that still hold: EPOLLET.
    public static let edgeTriggered = EventPollEvents(rawValue: 1 << 31)
    /// Report once, then disable the registration until it is modified: EPOLLONESHOT.
    public static let oneShot = EventPollEvents(rawValue: 1 << 30)

    /// The conditions (without the flags).
    static let conditions: EventPollEvents = [.input, .output, .error, .hangUp, .peerHangUp]
    /// Reported whether asked for or not, as on Linux.
    static let alwaysReported: EventPollEvents = [.error, .hangUp]

    public var description: String {
        let names = [(Self.input, "IN"), (.output, "OUT"), (.error, "ERR"), (.hangUp, "HUP"),
                     (.peerHangUp, "RDHUP"), (.edgeTriggered, "ET"), (.oneShot, "ONESHOT")]
        return names.filter { contains($0.0) }.map(\.1).joined(separator: "|")
    }
}

/// One ready socket, as `epoll_wait` returns it: its conditions and the data
/// registered with it.
public struct EventPollEvent: Sendable, Equatable {
    public var events: EventPollEvents
    public var data: UInt64

    public init(events: EventPollEvents = [], data: UInt64 = 0) {
        self.events = events
        self.data = data
    }
}

/// The application's handle on an event poll of one core (epoll_create's
/// result): a slot of the core's poll table plus the slot's generation, so a
/// handle kept after `closeEventPoll` (and the slot's reuse) fails with
/// `.invalidHandle` instead of acting on, or stealing the events of, the new poll.
public struct EventPoll: Hashable, Sendable {
    public let index: Int
    public let generation: UInt32

    init(index: Int, generation: UInt32 = 0) {
        self.index = index
        self.generation = generation
    }
}
