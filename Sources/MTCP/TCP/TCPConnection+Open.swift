/// How a connection starts: a fresh block, the three ways into the handshake
/// (active open, a SYN for a listener, the ACK of a SYN cookie), option
/// negotiation, and SYN-SENT (RFC 9293 §3.5, §3.10.7.3).
extension TCPConnection {
    /// Starts a fresh block (as the pool hands it out) in CLOSED, its send
    /// sequence space at `initialSequence`, its buffers over the given chunks
    /// or, when they are empty (the engine's way), without chunks until they
    /// hold bytes. Set in place: building a whole new block and copying it in
    /// costs more than the fields it sets.
    mutating func open(tuple: FourTuple, initialSequence: SequenceNumber, timestampOffset: UInt32,
                       sendStorage: UnsafeMutableRawBufferPointer = UnsafeMutableRawBufferPointer(start: nil, count: 0),
                       receiveStorage: UnsafeMutableRawBufferPointer = UnsafeMutableRawBufferPointer(start: nil, count: 0),
                       configuration: TCPConfiguration, now: Instant) {
        // Only the fields below are set: the pool's release resets the rest, so a
        // reused slot must come back as clean as a new one (checked in debug builds).
        assert(state == .closed && requests.isEmpty && pendingEvents.isEmpty && scoreboard.isEmpty
               && !inEventList && !inControlList && !inAckList && !inDataList
               && TCPTimer.allCases.allSatisfy { deadlines[$0] == nil }, "a pool slot reused without its reset")
        self.tuple = tuple
        // In place: the buffers are empty, and building new ones to copy in costs
        // more than the rest of the open.
        send.reset(capacity: configuration.sendBufferSize, storage: sendStorage)
        receive.reset(capacity: configuration.receiveBufferSize, storage: receiveStorage)
        initialSendSequence = initialSequence
        self.timestampOffset = timestampOffset
        lossDetection.echoFloor = timestampValue(now)
        sendUnacknowledged = initialSequence
        sendNext = initialSequence
        sendMaximum = initialSequence
        sendBufferStart = initialSequence + 1
        rtt = RTTEstimator(minimum: configuration.minimumRTO)
        quickAcksLeft = configuration.quickAcks
        lastActivity = now
        armIdleTimer(configuration, now: now)
    }

    /// Active open: our SYN goes out from the control list.
    mutating func connect(now: Instant) {
        state = .synSent
        ownedByApplication = true
        queueControl(.syn)
        armRetransmission(now: now)
    }

    /// A SYN for a listening port: SYN-RECEIVED, and our SYN-ACK goes out.
    mutating func acceptSYN(_ segment: IncomingSegment, listener: Int32, configuration: TCPConfiguration,
                            now: Instant) {
        self.listener = listener
        state = .synReceived
        acceptPeerSYN(segment)
        negotiateOptions(segment.options, configuration)
        queueControl([.syn, .ack])
        armRetransmission(now: now)
    }

    /// The final ACK of a handshake answered with a SYN cookie: the connection
    /// starts in ESTABLISHED, its peer's MSS taken from the cookie.
    mutating func establishFromCookie(_ segment: IncomingSegment, listener: Int32, peerMSS: Int,
                                      configuration: TCPConfiguration) {
        initialReceiveSequence = segment.sequence - 1
        receiveNext = segment.sequence
        lastAcknowledgmentSent = segment.sequence  // the cookie's SYN-ACK acknowledged the SYN
        advertisedWindowEdge = segment.sequence
        sendMSS = min(peerMSS, tuple.maximumSegmentSize(configuration))
        congestion = CongestionControl(algorithm: configuration.congestionControl, mss: sendMSS)
        sendUnacknowledged = segment.acknowledgment
        sendNext = segment.acknowledgment
        sendMaximum = segment.acknowledgment
        sendWindow = segment.window
        maximumSendWindow = segment.window
        sendWindowUpdateSequence = segment.sequence
        sendWindowUpdateAcknowledgment = segment.acknowledgment
        self.listener = listener
        state = .established
    }

    /// Records the peer's SYN: its initial sequence number and window.
    private mutating func acceptPeerSYN(_ segment: IncomingSegment) {
        initialReceiveSequence = segment.sequence
        receiveNext = segment.sequence + 1
        advertisedWindowEdge = segment.sequence + 1
        // The window of a SYN is never scaled (RFC 7323 §2.2).
        sendWindow = segment.window
        maximumSendWindow = segment.window
        sendWindowUpdateSequence = segment.sequence
        sendWindowUpdateAcknowledgment = segment.acknowledgment
    }

    /// Options of the peer's SYN or SYN-ACK against ours: each is used only when
    /// both sides offered it (RFC 7323 §1.3, RFC 2018 §2).
    private mutating func negotiateOptions(_ options: TCPOptions, _ configuration: TCPConfiguration) {
        // An absent MSS option means 536 (RFC 9293 §3.7.1), 1220 over IPv6.
        let peerMSS = Int(options.maximumSegmentSize ?? UInt16(tuple.defaultPeerMSS))
        sendMSS = max(64, min(peerMSS, tuple.maximumSegmentSize(configuration)))
        // Both shifts, or neither (RFC 7323 §2.2): our SYN of an active open offered
        // one and set the receive shift, which a SYN-ACK without the option undoes.
        let scaled = options.windowScale != nil
        sendWindowShift = options.windowScale ?? 0
        receiveWindowShift = scaled ? configuration.windowScale : 0
        selectiveAcknowledgmentsEnabled = configuration.selectiveAcknowledgments && options.sackPermitted
        if configuration.timestamps, let timestamp = options.timestamp {
            timestampsEnabled = true
            timestampRecent = timestamp.value
        }
        congestion = CongestionControl(algorithm: configuration.congestionControl, mss: sendMSS)
    }

    /// SYN-SENT: the peer's SYN-ACK (or a SYN of a simultaneous open, or a reset).
    mutating func processSYNSent<Environment: TCPConnectionEnvironment & ~Copyable>(
        _ segment: IncomingSegment, now: Instant, _ environment: inout Environment) {
        let flags = segment.flags
        if flags.contains(.ack) {
            // An ACK for something we never sent: reset it (unless it is a reset).
            guard segment.acknowledgment > initialSendSequence, segment.acknowledgment <= sendMaximum else {
                if !flags.contains(.rst) { sendReset(replyingTo: segment, now: now, &environment) }
                return
            }
            if flags.contains(.rst) {
                return abort(sendReset: false, error: .connectionRefused, now: now, &environment)
            }
        } else if flags.contains(.rst) {
            return
        }
        guard flags.contains(.syn) else { return }
        let configuration = environment.tcpConfiguration
        acceptPeerSYN(segment)
        negotiateOptions(segment.options, configuration)
        if flags.contains(.ack) {
            sendUnacknowledged = segment.acknowledgment
            sendWindowUpdateAcknowledgment = segment.acknowledgment
            // The handshake's RTT is the connection's first sample (RFC 6298 §2.2):
            // from the echo of our last SYN's TSval, which also times a resent
            // SYN, else from the SYN's probe if it was not resent (Karn). Without
            // one after a resent SYN, the data starts at an RTO of 3 s (§5.7).
            if let sample = rttSample(segment, acknowledged: segment.acknowledgment, now: now) {
                rtt.addSample(sample)
            } else if retransmissions > 0 {
                rtt.handshakeCompletedAfterSYNTimeout()
            } else {
                rtt.handshakeCompletedWithoutSample()
            }
            rttProbeActive = false  // the SYN's probe ends with the handshake, timed or not
            retransmissions = 0
            setDeadline(.retransmission, nil)
            state = finQueued ? .finWait1 : .established
            environment.connectionStatistics.established &+= 1
            postEvents([.connected, .writable])
            queueAck()
            if send.count > 0 || finQueued { queueData(shortFlowThreshold: configuration.shortFlowThreshold) }
        } else {
            // Simultaneous open (RFC 9293 §3.5, figure 8). The SYN-ACK resends
            // ISS: the ACK that completes the handshake may answer it or the SYN,
            // so the SYN's probe times nothing (Karn; an echo still does).
            state = .synReceived
            sendNext = initialSendSequence
            rttProbeActive = false
            queueControl([.syn, .ack])
        }
        processPayloadAndFIN(segment, now: now, &environment)
    }
}
