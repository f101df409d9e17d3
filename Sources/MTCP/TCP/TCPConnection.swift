/// One TCP connection: its transmission control block (RFC 9293 §3.3.1) and,
/// in the `TCPConnection+*` files, the state machine that runs on it.
///
/// The connection decides; the engine carries out. Its methods take a parsed
/// segment (or a timer, or an application call) and the time, send segments
/// through the `TCPConnectionEnvironment` they are given, and note in `requests`
/// what the engine must do afterwards (output and event lists, timer wheel,
/// freeing the slot). So the state machine runs, and is tested, without an
/// engine, a device or frames.
///
/// Connections live in the engine's `ConnectionPool`, allocated once; the engine
/// calls their `mutating` methods in place, so no reference counting and no copy
/// of this (large) struct happens per segment.
struct TCPConnection {
    /// The receive buffer and its out-of-order ranges: first, its ranges at the
    /// start of the block and its scalars just before the fields below (see
    /// "state with large inline arrays").
    var receive = ReceiveBuffer()
    var generation: UInt32 = 0
    /// The pool slot, fixed for the life of the pool: it names the connection's
    /// timer-wheel nodes and, with `generation`, its handle.
    var slot: Int32 = 0
    /// The slot holds a connection (any state, CLOSED included until released).
    var inUse = false
    var state: TCPState = .closed
    var tuple = FourTuple(localAddress: .any, localPort: 0, remoteAddress: .any, remotePort: 0)

    // MARK: ownership
    /// The listener of a passive open, until the application accepts it; -1 otherwise.
    var listener: Int32 = -1
    /// The application holds a handle (accepted, or opened by connect) and has not
    /// closed it: the block is freed only after `close`.
    var ownedByApplication = false
    /// Why the connection failed, reported with the `.error` event.
    var error: SocketError? = nil

    // MARK: send sequence space
    var initialSendSequence = SequenceNumber(0)
    /// Oldest unacknowledged sequence number (SND.UNA).
    var sendUnacknowledged = SequenceNumber(0)
    /// Next sequence number to send (SND.NXT); moves back to SND.UNA on a timeout.
    var sendNext = SequenceNumber(0)
    /// Highest sequence number sent so far, plus one.
    var sendMaximum = SequenceNumber(0)
    /// Sequence number of the first byte in the send buffer.
    var sendBufferStart = SequenceNumber(0)
    /// The peer's window, scaled (SND.WND), and the segment that set it (SND.WL1/WL2).
    var sendWindow = 0
    var sendWindowUpdateSequence = SequenceNumber(0)
    var sendWindowUpdateAcknowledgment = SequenceNumber(0)
    /// Largest window the peer ever offered (RFC 5961 §5 and sender SWS avoidance).
    var maximumSendWindow = 0
    var sendWindowShift: UInt8 = 0
    /// Segment size for what we send: the peer's MSS clamped to ours.
    var sendMSS = 536
    var send = SendBuffer()
    /// The application closed its direction: a FIN follows the last byte.
    var finQueued = false

    // MARK: receive sequence space
    var initialReceiveSequence = SequenceNumber(0)
    /// Next sequence number expected (RCV.NXT).
    var receiveNext = SequenceNumber(0)
    var receiveWindowShift: UInt8 = 0
    /// Right edge of the window we last advertised; never moved left (RFC 9293 §3.8.6).
    var advertisedWindowEdge = SequenceNumber(0)
    /// Sequence number of the peer's FIN once seen, possibly ahead of a hole.
    var peerFINSequence: SequenceNumber? = nil
    /// The peer's FIN was received in order: reads return end-of-stream once the buffer is empty.
    var finReceived = false

    // MARK: options
    var timestampsEnabled = false
    var selectiveAcknowledgmentsEnabled = false
    /// Added to the millisecond clock in our TSvals (RFC 7323 §7.1): a keyed hash
    /// of the 4-tuple, so connections do not share a clock an observer can link
    /// them by or read the uptime from. Echoes are compared in the same domain.
    var timestampOffset: UInt32 = 0
    /// TS.Recent (RFC 7323 §4.3).
    var timestampRecent: UInt32 = 0
    /// Last acknowledgment number sent, for the TS.Recent update rule.
    var lastAcknowledgmentSent = SequenceNumber(0)
    /// A duplicate segment to report in the next ACK's first SACK block (RFC 2883).
    var duplicateReport: SACKBlock? = nil
    /// When this connection last sent a rate-limited ACK: a challenge ACK (RFC
    /// 5961 §7) or the ACK of a bare segment it dropped (one limit for both, as Linux).
    var lastRateLimitedAck: Instant? = nil

    // MARK: loss recovery and congestion control
    var rtt = RTTEstimator()
    var congestion = CongestionControl(algorithm: .newReno, mss: 536)
    /// Consecutive timeouts of the oldest segment.
    var retransmissions = 0
    /// Persist-timer expiries since data last went out: the probe interval is the
    /// RTO doubled this many times (RFC 9293 §3.8.6.1: exponential backoff).
    var persistBackoff = 0
    var duplicateAcknowledgments = 0
    var recovery = LossRecovery.none
    /// Bytes the last ACK of new data acknowledged (RFC 6582 §4.2's highest_ack
    /// minus prev_highest_ack), for the ACK heuristic after a timeout.
    var lastAckAdvance = 0
    /// Highest sequence number retransmitted in this recovery (RFC 6675 HighRxt).
    var highestRetransmitted = SequenceNumber(0)
    /// This recovery's rescue retransmission went out (RFC 6675 RescueRxt).
    var rescueRetransmitted = false
    /// RTT measurement without timestamps: one segment timed at a time (Karn).
    var rttProbeSequence = SequenceNumber(0)
    var rttProbeSentAt = Instant.zero
    var rttProbeActive = false
    /// The TSval of the last SYN or SYN-ACK sent (0: none to time): the ACK of
    /// the handshake is a sample only when it echoes this one (`rttSample`).
    var lastSYNTimestamp: UInt32 = 0

    // MARK: acknowledgments
    var ackPending = false
    /// Data segments still acknowledged at once, as Linux's quick-ACK mode does
    /// at the start of a connection: a peer that waits for our ACK before it
    /// sends more (Nagle's algorithm after a small first write, a slow-start
    /// window of one segment) is not held up by the delayed-ACK timer.
    var quickAcksLeft: UInt8 = 0
    /// ACKs sent on their own for out-of-order segments since RCV.NXT last
    /// moved (`ackOutOfOrderSegment`).
    var duplicateAcksSent: UInt8 = 0
    var fullSegmentsUnacknowledged = 0
    /// When the peer was last heard from.
    var lastActivity = Instant.zero
    /// Keep-alive probes sent since then.
    var keepAliveProbes = 0

    // MARK: what the engine must do
    /// Work for the engine, collected during one call and taken by it afterwards.
    var requests: ConnectionRequests = []
    /// When each timer is due (nil: not running). The engine mirrors them in its
    /// timer wheel; the connection owns them, so its rules ("start the timer if it
    /// is not running") need no engine.
    var deadlines = ConnectionDeadlines()

    // MARK: events and output lists (membership is the engine's bookkeeping)
    var pendingEvents: ConnectionEvents = []
    var inEventList = false
    var inControlList = false
    var inAckList = false
    var inDataList = false
    /// Bytes the application has declared it will still write (a response's
    /// length): with the unsent bytes, what size-aware data scheduling sees.
    /// At most `maximumDeclaredBytes`, so the sums below cannot overflow.
    var declaredBytesToCome = 0
    /// New bytes sent while nothing was declared, since the send buffer was last
    /// empty or a declaration was made: the service a flow of unknown size has
    /// had so far, which ranks it (`sizeForScheduling`).
    var undeclaredBytesSent = 0
    /// SRPT's starvation guard: the place of this flow among those with bytes
    /// left, by when it began to wait (`TCPLayer.flowsByAge`); 0 while it has
    /// nothing left. Kept across its turns and its waits for the peer.
    var backlogOrder: UInt64 = 0
    /// Control segment to send from the control list.
    var controlToSend: TCPFlags = []

    // MARK: state with large inline arrays, after the scalars
    // SACK ranges, retransmission records and delivery rate samples: the
    // receive buffer's out-of-order ranges come first, before everything above.
    // Out-of-order ranges, SACK ranges and retransmission records are 4 KB of
    // the 5.5 KB block: `ConnectionPool` resets a released block by copying a
    // pristine one around them, as their entries past their counts are never
    // read. With thousands of connections a block is out of the cache when
    // its next segment comes, so what a segment touches should be few lines:
    // the receive buffer (arrays first, its scalars last) ends where the
    // scalars above begin, and the loss state that follows them starts with
    // its own.
    /// RACK-TLP's state (RFC 8985) and what the retransmission deadline times.
    var lossDetection = LossDetection()
    /// What the peer SACKed beyond SND.UNA (RFC 6675).
    var scoreboard = SACKScoreboard()
    /// Delivery rate samples for a model-based congestion control (BBR), which
    /// NewReno and CUBIC never touch: last.
    var deliveryRate = DeliveryRateEstimator()

    /// Where the loss state's inline arrays lie in the block, in bytes, in
    /// order: the out-of-order ranges, the retransmission records, the SACK
    /// ranges (`ConnectionPool.release` copies around them).
    static var inlineArrayBytes: InlineArray<3, Range<Int>> {
        [MemoryLayout<Self>.bytes(ReceiveBuffer.inlineArrayBytes, within: \Self.receive),
         MemoryLayout<Self>.bytes(LossDetection.inlineArrayBytes, within: \Self.lossDetection),
         MemoryLayout<Self>.bytes(SACKScoreboard.inlineArrayBytes, within: \Self.scoreboard)]
    }

    /// The application's handle of this connection.
    @inline(__always) var id: ConnectionID { ConnectionID(index: slot, generation: generation) }

    @inline(__always) var inFastRecovery: Bool {
        if case .fast = recovery { return true }
        return false
    }

    /// Bytes sent and not yet acknowledged, counting SYN and FIN.
    @inline(__always) var bytesInFlight: Int { sendNext - sendUnacknowledged }

    /// RFC 6675's "pipe", the bytes still in the network, in loss recovery:
    /// what is in flight less what the peer SACKed, and in fast recovery less
    /// the holes not yet resent. Every hole below the highest SACKed byte counts
    /// as lost, as `retransmitHoles` resends them (a simplification of §4's
    /// IsLost). Only bytes below SND.NXT count: after a timeout SND.NXT is back
    /// at SND.UNA while the peer may SACK up to SND.MAX, and pipe must not go
    /// negative. After a timeout SND.NXT skips the SACKed ranges as it resends:
    /// counted as in flight, they would let one hole out per round trip.
    /// Outside recovery, or without SACK, it is the flight size (limited
    /// transmit then lets out one segment per duplicate ACK, RFC 3042).
    /// Mutating only to read the scoreboard in place (see `SACKScoreboard`).
    @inline(__always) var pipe: Int {
        mutating get {
            // Recovery first: outside it the scoreboard's line is not touched.
            guard recovery != .none, selectiveAcknowledgmentsEnabled, !scoreboard.isEmpty else { return bytesInFlight }
            let inNetwork = bytesInFlight - scoreboard.sackedBytes(below: sendNext)
            guard inFastRecovery else { return inNetwork }
            return inNetwork - scoreboard.unsackedBytes(from: max(highestRetransmitted, sendUnacknowledged),
                                                        below: sendNext)
        }
    }

    /// Bytes the sender may still put in flight: the peer's window counts every
    /// byte sent, the congestion window only those in the network (`pipe`), plus
    /// limited transmit's allowance.
    @inline(__always) var sendRoom: Int {
        mutating get { min(sendWindow - bytesInFlight, congestion.cwnd + limitedTransmitAllowance - pipe) }
    }

    /// The timestamp option in every segment once negotiated (10 bytes, padded to
    /// 12): it comes out of the MSS (RFC 6691), ours and the peer's.
    @inline(__always) var timestampOptionBytes: Int { timestampsEnabled ? 12 : 0 }

    /// The payload of a full-sized segment from the peer (RFC 5681 §4.2's "full-sized"):
    /// its SMSS, taken as the smaller of both MSS options, less the timestamp option.
    @inline(__always) var fullSizedPayload: Int { sendMSS - timestampOptionBytes }

    /// Bytes of the send buffer not yet sent (after SND.NXT).
    @inline(__always) var unsentBytes: Int {
        max(0, send.count - (sendNext - sendBufferStart))
    }

    /// What is left of the flow: unsent bytes plus what is declared still to come.
    @inline(__always) var remainingBytes: Int { unsentBytes + declaredBytesToCome }

    /// The size the data list ranks the flow by (two classes, SRPT): what is
    /// left, plus what it has already sent without a declaration. A flow that
    /// declares nothing (a proxied download, a stream of pipelined responses)
    /// has only a send buffer's worth unsent at any time, and would otherwise
    /// always look short; ranked by the service it has had instead (least
    /// attained service, as PIAS does for flows of unknown size), a long one
    /// sinks as it sends, while a short one still ranks short. A declared flow
    /// ranks by what it declared: its size is known.
    @inline(__always) var sizeForScheduling: Int { remainingBytes + undeclaredBytesSent }

    /// Whether the flow belongs in the short class of two-class scheduling
    /// (never when `threshold` is 0: FIFO).
    @inline(__always) func isShortFlow(threshold: Int) -> Bool { threshold > 0 && sizeForScheduling <= threshold }

    /// The largest declaration kept (256 TiB): more than any flow sends, and far
    /// from overflowing when unsent and sent bytes are added to it.
    static let maximumDeclaredBytes = 1 << 48

    /// Sequence number of our FIN: right after the last byte of the send buffer.
    @inline(__always) var finSequence: SequenceNumber { sendBufferStart + send.count }

    /// Our FIN went out at least once (it may still need retransmission).
    @inline(__always) var finSent: Bool { finQueued && sendMaximum > finSequence }

    /// Our FIN is due: queued, and SND.NXT has not passed it (it was never sent,
    /// or a timeout moved SND.NXT back before it).
    @inline(__always) var finDue: Bool { finQueued && sendNext <= finSequence }
}
