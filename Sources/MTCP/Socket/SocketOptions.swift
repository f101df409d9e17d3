/// The options of a socket, read with `options(of:)` and changed with
/// `setOptions(_:_:)` (setsockopt/getsockopt as one value).
///
/// The stack's design fixes two of them: every socket is non-blocking (the
/// application runs on the engine's own thread, so a blocking call would stop
/// the core), and segments leave as soon as the window allows (there is no
/// Nagle algorithm, so TCP_NODELAY is always in effect). Asking for the other
/// value is refused with `.invalidArgument` rather than silently ignored.
public struct SocketOptions: Equatable, Sendable {
    /// O_NONBLOCK: always true.
    public var nonBlocking = true
    /// TCP_NODELAY: always true.
    public var noDelay = true
    /// SO_SNDBUF: at most this many unacknowledged bytes are buffered. Up to the
    /// core's send buffer size (`sndbuf` in mtcp.conf); smaller values make
    /// `write` accept less (backpressure sooner).
    public var sendBufferSize: Int
    /// SO_RCVBUF: the core's receive buffer size (`rcvbuf` in mtcp.conf). The
    /// window is negotiated from it at connection set-up, so it cannot change.
    public var receiveBufferSize: Int

    public init(sendBufferSize: Int, receiveBufferSize: Int) {
        self.sendBufferSize = sendBufferSize
        self.receiveBufferSize = receiveBufferSize
    }
}
