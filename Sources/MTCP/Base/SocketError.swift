/// Why a call of the connection API failed, with the errno a BSD-socket program
/// would have seen, so ports from mTCP or sockets map one to one.
public enum SocketError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The handle names no live connection or listener (EBADF).
    case invalidHandle
    /// Nothing to read, or no room to write, right now (EAGAIN): wait for an event.
    case wouldBlock
    /// The connection is not (or not yet) in a state for this call (ENOTCONN).
    case notConnected
    /// Writing after shutdown or close (EPIPE).
    case closedForWriting
    /// The peer reset the connection (ECONNRESET).
    case connectionReset
    /// The peer refused the connection: RST in reply to our SYN (ECONNREFUSED).
    case connectionRefused
    /// Retransmissions ran out (ETIMEDOUT).
    case timedOut
    /// The port is already in use by a listener, or the tuple `connect` asked for by an open connection (EADDRINUSE).
    case addressInUse
    /// `connect` found no free ephemeral port whose flow this core owns, or was
    /// asked for a local port whose replies another core receives (EADDRNOTAVAIL).
    case addressNotAvailable
    /// A per-core pool (connections, buffers, listeners) is exhausted (ENOBUFS).
    case noResources
    /// An argument is out of range, or the call does not apply to this kind of socket (EINVAL).
    case invalidArgument
    /// `connect` on a socket that is already connected (EISCONN).
    case alreadyConnected
    /// The socket is already registered with an event poll (EEXIST).
    case alreadyRegistered
    /// The socket is not registered with this event poll (ENOENT).
    case notRegistered

    public var errno: Int32 {
        switch self {
        case .invalidHandle: 9
        case .wouldBlock: 11
        case .notConnected: 107
        case .closedForWriting: 32
        case .connectionReset: 104
        case .connectionRefused: 111
        case .timedOut: 110
        case .addressInUse: 98
        case .addressNotAvailable: 99
        case .noResources: 105
        case .invalidArgument: 22
        case .alreadyConnected: 106
        case .alreadyRegistered: 17
        case .notRegistered: 2
        }
    }

    public var description: String {
        switch self {
        case .invalidHandle: "invalid handle"
        case .wouldBlock: "would block"
        case .notConnected: "not connected"
        case .closedForWriting: "closed for writing"
        case .connectionReset: "connection reset by peer"
        case .connectionRefused: "connection refused"
        case .timedOut: "connection timed out"
        case .addressInUse: "address in use"
        case .addressNotAvailable: "cannot assign requested address"
        case .noResources: "no resources"
        case .invalidArgument: "invalid argument"
        case .alreadyConnected: "already connected"
        case .alreadyRegistered: "already registered with an event poll"
        case .notRegistered: "not registered with this event poll"
        }
    }
}
