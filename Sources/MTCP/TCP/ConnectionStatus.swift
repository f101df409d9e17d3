/// What the layer above reads of a connection to tell which of its conditions
/// hold (readable, writable, hung up): a snapshot taken in one engine call, so
/// the socket layer needs no view into the engine's connection storage.
public struct ConnectionStatus: Sendable {
    public var state: TCPState
    /// Why the connection failed, once it has.
    public var error: SocketError?
    /// Bytes waiting to be read.
    public var readableBytes: Int
    /// Bytes written and not yet acknowledged by the peer.
    public var bufferedBytes: Int
    /// Room left in the send buffer.
    public var writableBytes: Int
    /// The peer's FIN arrived in order: reads end once the buffer is empty.
    public var peerClosed: Bool
    /// Our direction is closed (a FIN is queued or sent).
    public var closedForWriting: Bool
}

extension TCPConnection {
    var status: ConnectionStatus {
        ConnectionStatus(state: state, error: error, readableBytes: receive.readable, bufferedBytes: send.count,
                         writableBytes: send.free, peerClosed: finReceived, closedForWriting: finQueued)
    }
}
