/// What happened to a connection since the application last looked: delivered in
/// one batch per engine iteration, as mTCP's epoll-like events, not one call each.
public struct ConnectionEvents: OptionSet, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Bytes are waiting in the receive buffer, or the peer's FIN is (read returns 0).
    public static let readable = ConnectionEvents(rawValue: 1 << 0)
    /// Room appeared in the send buffer.
    public static let writable = ConnectionEvents(rawValue: 1 << 1)
    /// An active open completed.
    public static let connected = ConnectionEvents(rawValue: 1 << 2)
    /// The peer closed its direction (FIN received): EPOLLRDHUP.
    public static let peerClosed = ConnectionEvents(rawValue: 1 << 3)
    /// The connection is gone (orderly close finished): EPOLLHUP. The handle is
    /// invalid after this event.
    public static let closed = ConnectionEvents(rawValue: 1 << 4)
    /// The connection failed (reset, refused, timed out): EPOLLERR; `error(of:)` says why.
    /// The handle is invalid after this event.
    public static let error = ConnectionEvents(rawValue: 1 << 5)

    public var description: String {
        let names = [(Self.readable, "IN"), (.writable, "OUT"), (.connected, "CONNECTED"),
                     (.peerClosed, "RDHUP"), (.closed, "HUP"), (.error, "ERR")]
        return names.filter { contains($0.0) }.map(\.1).joined(separator: "|")
    }
}
