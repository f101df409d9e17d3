/// TCP parameters of one engine, from mtcp.conf (mTCP's keys) and our defaults.
public struct TCPConfiguration: Sendable {
    /// Most connections at once on this core (`max_concurrency`): sizes the
    /// connection pool, the flow table and the timer nodes.
    public var maxConnections: Int
    /// Send and receive buffers available on this core (`max_num_buffers`), each pool.
    public var maxBuffers: Int
    /// Receive buffer of one connection in bytes (`rcvbuf`); also bounds the window.
    public var receiveBufferSize: Int
    /// Send buffer of one connection in bytes (`sndbuf`).
    public var sendBufferSize: Int
    /// Largest segment we accept, announced in our SYN (1460 for a 1500-byte MTU).
    public var maximumSegmentSize: Int
    /// Idle connections are reset after this long (`tcp_timeout`); nil: never.
    public var idleTimeout: TimeSpan?
    /// Time in TIME-WAIT (`tcp_timewait`). mTCP's default is 0; RFC 9293 says 2·MSL.
    public var timeWait: TimeSpan
    /// Longest an ACK is held back for a lone segment (RFC 1122 §4.2.3.2 allows
    /// up to 500 ms; Linux uses 40 ms); nil acknowledges every segment at once.
    public var delayedAck: TimeSpan?
    /// The first data segments of a connection acknowledged at once, whatever
    /// `delayedAck` says (Linux's quick-ACK mode; at most 255): a peer that waits
    /// for our ACK before sending more (Nagle's algorithm after a small first
    /// write) is not held up 40 ms per exchange. An ACK we owe when we answer in
    /// the same iteration still rides on the answer.
    public var quickAcks: UInt8
    /// Lower bound of the retransmission timeout (RFC 6298 says 1 s; Linux 200 ms).
    public var minimumRTO: TimeSpan
    /// Retransmissions of one segment before the connection is given up (ETIMEDOUT).
    public var maximumRetransmissions: Int
    /// Retransmissions of a SYN or SYN-ACK before giving up.
    public var maximumSYNRetransmissions: Int
    /// Time a handshake from the RTT of the peer's last connection on this core
    /// (RFC 9040 §5, `PeerRTTCache`) rather than RFC 6298's 1 s.
    public var peerRTTCache: Bool
    /// Keep-alive (RFC 1122 §4.2.3.6): probe a connection idle this long; nil: off,
    /// the RFC's default. Then a probe every `keepAliveInterval`, and after
    /// `keepAliveProbes` unanswered ones the connection is reset (Linux: 7200 s, 75 s, 9).
    public var keepAliveIdle: TimeSpan?
    public var keepAliveInterval: TimeSpan
    public var keepAliveProbes: Int
    /// Loss-based congestion control: NewReno (RFC 6582) or CUBIC (RFC 9438).
    public var congestionControl: CongestionControl.Algorithm
    /// Offer and use SACK (RFC 2018).
    public var selectiveAcknowledgments: Bool
    /// Offer and use timestamps (RFC 7323).
    public var timestamps: Bool
    /// Connections whose unsent data is at most this many bytes go to the front of
    /// the data list (short flows first); 0 turns the priority off.
    public var shortFlowThreshold: Int
    /// The order the data list is served in (`data_scheduling`).
    public var dataScheduling: DataScheduling

    public init(maxConnections: Int = 10_000, maxBuffers: Int = 10_000, receiveBufferSize: Int = 8192,
                sendBufferSize: Int = 8192, maximumSegmentSize: Int = 1460, idleTimeout: TimeSpan? = .seconds(30),
                timeWait: TimeSpan = .zero, delayedAck: TimeSpan? = .milliseconds(40), quickAcks: UInt8 = 16,
                minimumRTO: TimeSpan = .milliseconds(200), maximumRetransmissions: Int = 12,
                maximumSYNRetransmissions: Int = 5, peerRTTCache: Bool = false, keepAliveIdle: TimeSpan? = nil,
                keepAliveInterval: TimeSpan = .seconds(75), keepAliveProbes: Int = 9,
                congestionControl: CongestionControl.Algorithm = .newReno, selectiveAcknowledgments: Bool = true,
                timestamps: Bool = true, shortFlowThreshold: Int = 16 * 1024,
                dataScheduling: DataScheduling = .twoClass) {
        self.maxConnections = maxConnections
        self.maxBuffers = maxBuffers
        self.receiveBufferSize = receiveBufferSize
        self.sendBufferSize = sendBufferSize
        self.maximumSegmentSize = maximumSegmentSize
        self.idleTimeout = idleTimeout
        self.timeWait = timeWait
        self.delayedAck = delayedAck
        self.quickAcks = quickAcks
        self.minimumRTO = minimumRTO
        self.maximumRetransmissions = maximumRetransmissions
        self.maximumSYNRetransmissions = maximumSYNRetransmissions
        self.peerRTTCache = peerRTTCache
        self.keepAliveIdle = keepAliveIdle
        self.keepAliveInterval = keepAliveInterval
        self.keepAliveProbes = keepAliveProbes
        self.congestionControl = congestionControl
        self.selectiveAcknowledgments = selectiveAcknowledgments
        self.timestamps = timestamps
        // FIFO is the two classes without a short one.
        self.shortFlowThreshold = dataScheduling == .fifo ? 0 : shortFlowThreshold
        self.dataScheduling = dataScheduling
    }

    /// The window-scale shift we announce: the smallest that lets the 16-bit
    /// window field cover the whole receive buffer (RFC 7323 §2.3, at most 14).
    /// In closed form (the buffer's bit width beyond 16), as it is asked for on every handshake.
    @inline(__always)
    var windowScale: UInt8 {
        let bits = Int.bitWidth - max(receiveBufferSize, 0).leadingZeroBitCount
        return UInt8(min(max(bits - 16, 0), 14))
    }
}
