/// The connection states of RFC 9293 §3.3.2.
public enum TCPState: UInt8, Sendable, CustomStringConvertible {
    case closed, listen, synSent, synReceived, established, finWait1, finWait2, closeWait, closing, lastAck, timeWait

    /// States after the handshake completed, in which the peer's sequence space is known.
    @inline(__always) public var isSynchronized: Bool { rawValue >= TCPState.established.rawValue }

    /// States in which we may still receive data from the peer.
    @inline(__always) var acceptsData: Bool {
        self == .established || self == .finWait1 || self == .finWait2
    }

    public var description: String {
        switch self {
        case .closed: "CLOSED"
        case .listen: "LISTEN"
        case .synSent: "SYN-SENT"
        case .synReceived: "SYN-RECEIVED"
        case .established: "ESTABLISHED"
        case .finWait1: "FIN-WAIT-1"
        case .finWait2: "FIN-WAIT-2"
        case .closeWait: "CLOSE-WAIT"
        case .closing: "CLOSING"
        case .lastAck: "LAST-ACK"
        case .timeWait: "TIME-WAIT"
        }
    }
}
