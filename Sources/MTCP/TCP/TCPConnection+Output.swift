/// A connection's output: asking for a place on mTCP's lists, and building the
/// segments it sends when the engine flushes them (control, then pure ACKs, then
/// data) or when loss recovery must resend at once.
extension TCPConnection {
    // MARK: - Requests for the engine's lists

    /// A SYN or SYN-ACK for the control list.
    @inline(__always)
    mutating func queueControl(_ flags: TCPFlags) {
        controlToSend.formUnion(flags)
        if !inControlList { requests.insert(.control) }
    }

    @inline(__always)
    mutating func queueAck() {
        ackPending = true
        if !inAckList { requests.insert(.ack) }
    }

    /// Data (or a FIN) to send: the short part of the data list when little is
    /// left of the flow (declared bytes included), so short flows are not stuck behind bulk.
    @inline(__always)
    mutating func queueData(shortFlowThreshold threshold: Int) {
        guard !inDataList else { return }
        requests.insert(isShortFlow(threshold: threshold) ? .shortData : .bulkData)
    }

    /// Marks events for the application; the connection goes on the event list
    /// only once it has a handle (events of unaccepted connections wait for accept).
    @inline(__always)
    mutating func postEvents(_ events: ConnectionEvents) {
        pendingEvents.formUnion(events)
        if ownedByApplication && !inEventList { requests.insert(.events) }
    }

    /// A delayed ACK (RFC 1122 §4.2.3.2, RFC 5681 §4.2): at the latest every
    /// second full-sized segment, or when the delayed-ACK timer fires.
    mutating func scheduleAck(fullSized: Bool, configuration: TCPConfiguration, now: Instant) {
        guard let delay = configuration.delayedAck else { return queueAck() }
        if quickAcksLeft > 0 {
            quickAcksLeft -= 1
            return queueAck()
        }
        if fullSized { fullSegmentsUnacknowledged += 1 }
        if fullSegmentsUnacknowledged >= 2 { return queueAck() }
        if deadlines[.delayedAck] == nil { setDeadline(.delayedAck, now + delay) }
    }

    // MARK: - Sending

    /// Data (or a FIN) can go out now: a data segment would carry a pending ACK.
    @inline(__always)
    var canSendData: Bool { mutating get { (unsentBytes > 0 && sendRoom > 0) || finDue } }

    /// The SYN or SYN-ACK of the control list, always at the initial sequence
    /// number. False when the transmit path had no room: it stays on the list.
    /// One that waited there until the SYN was acknowledged (or the connection
    /// was aborted) is not sent.
    mutating func sendControl<Environment: TCPConnectionEnvironment & ~Copyable>(
        _ flags: TCPFlags, now: Instant, _ environment: inout Environment) -> Bool {
        guard flags.contains(.syn), state != .closed, sendUnacknowledged == initialSendSequence else { return true }
        let synFlags: TCPFlags = state == .synSent ? .syn : [.syn, .ack]
        guard transmitSegment(flags: synFlags, sequence: initialSendSequence, dataLength: 0, now: now,
                              &environment) else { return false }
        if retransmissions > 0 { environment.connectionStatistics.retransmittedSegments &+= 1 }
        let afterSYN = initialSendSequence + 1
        if sendNext < afterSYN { sendNext = afterSYN }
        // Only the first SYN (or SYN-ACK) is timed (Karn): a resend, by the timer
        // or for the peer's repeated SYN, leaves the ACK ambiguous.
        if sendMaximum < afterSYN {
            sendMaximum = afterSYN
            startRTTProbe(at: initialSendSequence, now: now)
        }
        return true
    }

    /// Sends what the windows allow: new data, a retransmission after a timeout,
    /// and the FIN once the data is out. False when the transmit path ran out of
    /// room and the connection must stay on the data list.
    /// - Parameter overridingSWS: send a runt now even if SWS avoidance would wait
    ///   (the persist timer fired: RFC 9293 §3.8.6.2.1's override timeout).
    mutating func sendData<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, overridingSWS: Bool = false, _ environment: inout Environment) -> Bool {
        guard state.isSynchronized else { return true }
        let mss = payloadLimit
        var sentAny = false
        var transmitPathFull = false
        var probeSent = false
        while true {
            let beforeSACKed = skipSACKedData()
            let unsent = unsentBytes
            if unsent == 0 {
                guard finDue else { break }
                let fin = finSequence
                guard transmitSegment(flags: [.fin, .ack], sequence: fin, dataLength: 0, now: now,
                                      &environment) else {
                    transmitPathFull = true
                    break
                }
                if sendMaximum > fin { environment.connectionStatistics.retransmittedSegments &+= 1 }
                advanceSendNext(to: fin + 1)
                sentAny = true
                break
            }
            let usable = max(sendRoom, newDataProbeRoom)
            guard usable > 0 else { break }
            let length = min(sendNext < sendMaximum ? retransmissionLength(hole: beforeSACKed) : mss, unsent, usable,
                             beforeSACKed)
            // Sender silly-window avoidance (RFC 9293 §3.8.6.2.1): a runt only
            // when it empties the buffer or fills half the largest window seen.
            // A retransmission is exempt: its size was fixed when it first left
            // (or by a SACKed range above it), and holding it waits for a timeout.
            guard sendNext < sendMaximum || length == mss || length == unsent
                || length >= maximumSendWindow / 2 || (overridingSWS && !sentAny) else { break }
            let finToo = finQueued && length == unsent
            var flags: TCPFlags = length == unsent ? [.ack, .psh] : .ack
            if finToo { flags.insert(.fin) }
            let sequence = sendNext
            guard transmitSegment(flags: flags, sequence: sequence, dataLength: length, now: now,
                                  &environment) else {
                transmitPathFull = true
                break
            }
            if sequence < sendMaximum {
                environment.connectionStatistics.retransmittedSegments &+= 1
                // In recovery after a timeout this path resends holes: pipe
                // counts them as sent again only through HighRxt.
                if inFastRecovery && highestRetransmitted < sequence + length {
                    highestRetransmitted = sequence + length
                }
            } else {
                if !rttProbeActive { startRTTProbe(at: sequence, now: now) }
                probeSent = probeSent || lossDetection.newDataProbeQueued
                lossDetection.newDataProbeQueued = false
            }
            advanceSendNext(to: sequence + length + (finToo ? 1 : 0))
            sentAny = true
        }
        if sentAny {
            // RFC 6298 §5.1: start the timer if it is not running.
            if probeSent {
                newDataProbeSent(now: now, &environment)
            } else if deadlines[.retransmission] == nil {
                armRetransmission(now: now)
            } else {
                restartLossProbeAfterNewData(now: now)
            }
            persistBackoff = 0
            if deadlines[.persist] != nil { setDeadline(.persist, nil) }
        }
        // Segments already sent before the transmit path filled up are timed above:
        // the retry from the data list may find the window full and send nothing, and
        // without the timer a loss of those segments would never be repaired.
        if transmitPathFull { return false }
        noteApplicationLimited()
        // The ACK list left this connection's ACK to a data segment that silly-window
        // avoidance then held back: send it bare.
        if ackPending && !sendPureAck(now: now, &environment) { queueAck() }
        // Data held back with nothing in flight: no ACK will come to release it, so
        // the persist timer must (zero window, or a window too small to use).
        if bytesInFlight == 0 && unsentBytes > 0 { armPersist(now: now) }
        return true
    }

    /// A segment with no data (an ACK, a window update) at SND.MAX rather than
    /// SND.NXT: after a timeout SND.NXT goes back to SND.UNA while the peer may
    /// already hold everything up to SND.MAX, and a zero-length segment below its
    /// RCV.NXT is not acceptable (RFC 9293 §3.10.7.4; Linux drops it), so our ACKs
    /// and window updates would be lost on it. BSD sends SND.MAX too.
    /// False when the transmit path had no room (the ACK is still pending).
    @inline(__always) @discardableResult
    mutating func sendPureAck<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) -> Bool {
        transmitSegment(flags: .ack, sequence: sendMaximum, dataLength: 0, now: now, &environment)
    }

    /// Payload bytes that fit in one segment: the MSS counts no TCP options
    /// (RFC 9293 §3.7.1, RFC 6691), so options we send come out of it.
    @inline(__always)
    var payloadLimit: Int {
        var options = timestampOptionBytes
        if selectiveAcknowledgmentsEnabled && (receive.hasOutOfOrderData || duplicateReport != nil) {
            // NOP, NOP, kind, length and 8 bytes a block; room for the most blocks
            // that fit, rather than counting them for every segment.
            options += 4 + 8 * (timestampsEnabled ? 3 : 4)
        }
        return sendMSS - options
    }

    /// Payload bytes of a retransmission into a hole of `hole` bytes (up to
    /// the next SACKed range; `Int.max` when none is known): all of it when it
    /// fits in a full-sized segment, else `payloadLimit`. A full segment sent
    /// while no SACK blocks needed room is such a hole once lost; cut to
    /// `payloadLimit`, its retransmission would leave its last 28 bytes as a
    /// hole of their own, found lost and resent separately (a round trip more,
    /// or a timeout when the window is one segment). The SACK blocks give way
    /// for that one segment instead (`transmitSegment`).
    @inline(__always)
    func retransmissionLength(hole: Int) -> Int { hole <= fullSizedPayload ? hole : payloadLimit }

    /// SND.NXT moves on. Every path that sends data comes here, so this is
    /// where a flow's backlog is seen to drain: SRPT's place among the oldest
    /// (`backlogOrder`) ends with it, and more data later waits afresh.
    @inline(__always)
    private mutating func advanceSendNext(to next: SequenceNumber) {
        sendNext = next
        if remainingBytes == 0 { backlogOrder = 0 }
        guard sendMaximum < next else { return }
        if declaredBytesToCome == 0 { undeclaredBytesSent &+= next - sendMaximum }
        sendMaximum = next
    }

    /// Karn's algorithm times one segment at a time: this one, from now.
    @inline(__always)
    mutating func startRTTProbe(at sequence: SequenceNumber, now: Instant) {
        rttProbeActive = true
        rttProbeSequence = sequence
        rttProbeSentAt = now
    }

    // MARK: - Segment building

    /// Sends one segment of this connection, with its ACK, window and options.
    /// False when no buffer was free.
    mutating func transmitSegment<Environment: TCPConnectionEnvironment & ~Copyable>(
        flags: TCPFlags, sequence: SequenceNumber, dataLength: Int, now: Instant,
        _ environment: inout Environment) -> Bool {
        var options = TCPOptions()
        let configuration = environment.tcpConfiguration
        let isSYN = flags.contains(.syn)
        if isSYN {
            options.maximumSegmentSize = UInt16(tuple.maximumSegmentSize(configuration))
            let activeOpen = state == .synSent
            if activeOpen || sendWindowShift > 0 || receiveWindowShift > 0 {
                options.windowScale = configuration.windowScale
                if activeOpen { receiveWindowShift = configuration.windowScale }
            }
            options.sackPermitted = activeOpen ? configuration.selectiveAcknowledgments
                                               : selectiveAcknowledgmentsEnabled
        }
        let useTimestamps = isSYN && state == .synSent ? configuration.timestamps : timestampsEnabled
        if useTimestamps {
            options.timestamp = TCPTimestamp(value: timestampValue(now), echoReply: timestampRecent)
        }
        var sackBlocksCut = false
        if selectiveAcknowledgmentsEnabled && !isSYN && (receive.hasOutOfOrderData || duplicateReport != nil) {
            // Room left in the 40-byte option space: 4 blocks, 3 beside timestamps;
            // beside a retransmission as long as its first transmission (see
            // `retransmissionLength`), what fits within the MSS, maybe none:
            // a pure ACK then follows with them all.
            let blocks = useTimestamps ? 3 : 4
            let room = sendMSS - timestampOptionBytes - dataLength - 4
            let limit = min(blocks, dataLength == 0 ? blocks : max(0, room / 8))
            if limit > 0 { options.sackBlocks = sackBlocks(limit: limit) }
            sackBlocksCut = options.sackBlocks.count < min(blocks, sackBlocksAvailable)
        }
        let acknowledgment: SequenceNumber? = state == .synSent ? nil : receiveNext
        let tuple = tuple, window = advertiseWindow(isSYN: isSYN), payloadOffset = sequence - sendBufferStart
        let sent = withUnsafePointer(to: &send) { source in
            environment.transmit(OutgoingSegment(tuple: tuple, sequence: sequence, acknowledgment: acknowledgment,
                                                 flags: flags, window: window, options: options, payloadSource: source,
                                                 payloadOffset: payloadOffset, payloadLength: dataLength), now: now)
        }
        guard sent else { return false }
        if isSYN, let timestamp = options.timestamp { lastSYNTimestamp = timestamp.value }
        noteDeliveryRateTransmission(sequence: sequence, length: dataLength, now: now)
        // A probe below SND.UNA (zero-window or keep-alive) is unacceptable to the
        // peer, which drops it with its ACK field: it acknowledges nothing.
        if let acknowledgment, sequence >= sendUnacknowledged {
            if let report = duplicateReport, options.sackBlocks.first == report { duplicateReport = nil }
            lastAcknowledgmentSent = acknowledgment
            ackPending = false
            fullSegmentsUnacknowledged = 0
            // The delay is counted from the first segment this ACK did not cover
            // (RFC 1122 §4.2.3.2): one left armed would ACK a later request early.
            setDeadline(.delayedAck, nil)
            if sackBlocksCut { queueAck() }
        }
        return true
    }

    /// The window field to send, with receiver silly-window avoidance (RFC 9293
    /// §3.8.6.2.2): the right edge moves only by at least min(buffer/2, MSS), and
    /// never to the left.
    @inline(__always)
    private mutating func advertiseWindow(isSYN: Bool) -> UInt16 {
        let next = receiveNext
        let available = receive.window
        if isSYN {
            // The window of a SYN is never scaled (RFC 7323 §2.2).
            let window = min(available, 0xFFFF)
            advertisedWindowEdge = next + window
            return UInt16(window)
        }
        // A scaled field is truncated (RFC 7323 §2.3): a new edge is set where the
        // field can name it, so what is advertised never exceeds the buffer.
        let shift = Int(receiveWindowShift)
        let candidate = next + ((available >> shift) << shift)
        if candidate - advertisedWindowEdge >= windowUpdateStep || advertisedWindowEdge < next {
            advertisedWindowEdge = candidate
        }
        let window = max(0, advertisedWindowEdge - next)
        return UInt16(min(window >> shift, 0xFFFF))
    }

    /// How far the right edge of the receive window must be able to move before
    /// it is worth advertising (receiver SWS avoidance): min(buffer/2, MSS).
    @inline(__always)
    var windowUpdateStep: Int { min(receive.capacity / 2, sendMSS) }

    /// Our TSval at `now`: a millisecond clock (RFC 7323 §5.4 allows 1 ms to 1 s
    /// per tick) plus this connection's offset.
    @inline(__always)
    func timestampValue(_ now: Instant) -> UInt32 {
        UInt32(truncatingIfNeeded: now.nanoseconds / 1_000_000) &+ timestampOffset
    }
}
