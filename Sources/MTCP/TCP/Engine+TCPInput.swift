/// TCP input: RFC 9293 §3.10.7 "SEGMENT ARRIVES", with the mitigations of
/// RFC 5961 (challenge ACKs), PAWS (RFC 7323) and SYN cookies (RFC 4987).
extension Engine {
    mutating func receiveTCP(_ buffer: PacketBuffer, _ ip: IPv4Packet, now: Instant) {
        tcp.statistics.segmentsReceived &+= 1
        guard let wire = try? TCPSegment(checking: ip.payload) else {
            tcp.statistics.malformed &+= 1
            return drop(buffer, .tcpMalformed)
        }
        guard buffer.offload.contains(.l4ChecksumGood)
            || wire.verifyChecksum(source: ip.source, destination: ip.destination) else {
            tcp.statistics.badChecksum &+= 1
            return drop(buffer, .tcpBadChecksum)
        }
        guard let options = try? TCPOptions(parsing: wire.options) else {
            tcp.statistics.malformed &+= 1
            return drop(buffer, .tcpMalformed)
        }
        let segment = IncomingSegment(sequence: SequenceNumber(wire.sequenceNumber),
                                      acknowledgment: SequenceNumber(wire.acknowledgmentNumber),
                                      flags: wire.flags, window: Int(wire.window), options: options,
                                      payload: wire.payload)
        let tuple = FourTuple(localAddress: ip.destination, localPort: wire.destinationPort,
                              remoteAddress: ip.source, remotePort: wire.sourcePort)
        if let index = tcp.flows.lookup(tuple) {
            process(segment, index: index, now: now)
        } else {
            receiveWithoutConnection(segment, tuple: tuple, now: now)
        }
        // Payload bytes were copied into the receive buffer: the frame is done.
        device.release(buffer)
    }

    // MARK: - No connection: LISTEN, SYN cookies, resets

    private mutating func receiveWithoutConnection(_ segment: IncomingSegment, tuple: FourTuple, now: Instant) {
        let flags = segment.flags
        guard !flags.contains(.rst) else { return }
        guard let listener = tcp.listeners.find(port: tuple.localPort) else {
            return sendReset(replyingTo: segment, tuple: tuple, now: now)
        }
        if flags.contains(.syn) && !flags.contains(.ack) {
            return passiveOpen(segment, tuple: tuple, listener: listener, now: now)
        }
        if flags.contains(.ack) && !flags.contains(.syn),
           let mss = SYNCookie.validate(segment.acknowledgment - 1, tcp.secret, tuple,
                                        peerSequence: segment.sequence - 1, now: now) {
            tcp.statistics.synCookiesAccepted &+= 1
            return openFromCookie(segment, tuple: tuple, listener: listener, mss: mss, now: now)
        }
        if flags.contains(.ack) && !flags.contains(.syn) { tcp.statistics.synCookiesRejected &+= 1 }
        sendReset(replyingTo: segment, tuple: tuple, now: now)
    }

    /// A SYN for a listening port: a new connection in SYN-RECEIVED, or a SYN
    /// cookie when the listener's SYN queue is full.
    private mutating func passiveOpen(_ segment: IncomingSegment, tuple: FourTuple, listener: Int, now: Instant) {
        let peerMSS = Int(segment.options.maximumSegmentSize ?? 536)
        guard tcp.listeners[listener].halfOpen < tcp.listeners[listener].backlog else {
            let cookie = SYNCookie.make(tcp.secret, tuple, peerSequence: segment.sequence, peerMSS: peerMSS, now: now)
            tcp.statistics.synCookiesSent &+= 1
            var options = TCPOptions()
            options.maximumSegmentSize = UInt16(tcp.configuration.maximumSegmentSize)
            emitSegment(tuple: tuple, sequence: cookie, acknowledgment: segment.sequence + 1, flags: [.syn, .ack],
                        window: UInt16(min(tcp.configuration.receiveBufferSize, 0xFFFF)), options: options, now: now)
            return
        }
        guard let (id, block) = openConnection(tuple: tuple, now: now) else {
            tcp.statistics.refusedNoResources &+= 1
            return sendReset(replyingTo: segment, tuple: tuple, now: now)
        }
        tcp.statistics.passiveOpens &+= 1
        tcp.listeners[listener].halfOpen += 1
        block.pointee.listener = Int32(listener)
        block.pointee.state = .synReceived
        acceptPeerSYN(segment, block)
        negotiateOptions(segment.options, block)
        queueControl(id, block, [.syn, .ack])
        armRetransmission(id.index, block, now: now)
    }

    /// The final ACK of a handshake answered with a SYN cookie: the connection is
    /// built now, directly in ESTABLISHED, then the ACK is processed as usual.
    private mutating func openFromCookie(_ segment: IncomingSegment, tuple: FourTuple, listener: Int, mss: Int,
                                         now: Instant) {
        guard let (id, block) = openConnection(tuple: tuple, initialSequence: segment.acknowledgment - 1, now: now)
        else {
            tcp.statistics.refusedNoResources &+= 1
            return sendReset(replyingTo: segment, tuple: tuple, now: now)
        }
        tcp.statistics.passiveOpens &+= 1
        block.pointee.initialReceiveSequence = segment.sequence - 1
        block.pointee.receiveNext = segment.sequence
        block.pointee.advertisedWindowEdge = segment.sequence
        block.pointee.sendMSS = min(mss, tcp.configuration.maximumSegmentSize)
        block.pointee.congestion = CongestionControl(algorithm: tcp.configuration.congestionControl,
                                                     mss: block.pointee.sendMSS)
        block.pointee.sendUnacknowledged = segment.acknowledgment
        block.pointee.sendNext = segment.acknowledgment
        block.pointee.sendMaximum = segment.acknowledgment
        block.pointee.sendWindow = segment.window
        block.pointee.maximumSendWindow = segment.window
        block.pointee.sendWindowUpdateSequence = segment.sequence
        block.pointee.sendWindowUpdateAcknowledgment = segment.acknowledgment
        block.pointee.listener = Int32(listener)
        block.pointee.state = .established
        tcp.statistics.established &+= 1
        guard tcp.listeners.pushAcceptable(listener, id) else {
            tcp.statistics.acceptQueueOverflows &+= 1
            return abort(id, block, sendReset: true, error: nil, now: now)
        }
        process(segment, index: id.index, now: now)
    }

    /// Takes a control block and its buffers and enters the tuple in the flow table.
    /// Nil (nothing taken) when a pool is empty.
    mutating func openConnection(tuple: FourTuple, initialSequence: SequenceNumber? = nil,
                                 now: Instant) -> (ConnectionID, UnsafeMutablePointer<ControlBlock>)? {
        guard tcp.sendChunks.available > 0, tcp.receiveChunks.available > 0,
              let (id, block) = tcp.connections.allocate() else { return nil }
        guard tcp.flows.insert(tuple, id.index) else {
            tcp.connections.release(id.index)
            return nil
        }
        block.pointee.send = SendBuffer(storage: tcp.sendChunks.take().unsafelyUnwrapped)
        block.pointee.receive = ReceiveBuffer(storage: tcp.receiveChunks.take().unsafelyUnwrapped)
        block.pointee.tuple = tuple
        let iss = initialSequence ?? tcp.initialSequenceNumber(for: tuple, now: now)
        block.pointee.initialSendSequence = iss
        block.pointee.sendUnacknowledged = iss
        block.pointee.sendNext = iss
        block.pointee.sendMaximum = iss
        block.pointee.sendBufferStart = iss + 1
        block.pointee.rtt = RTTEstimator(minimum: tcp.configuration.minimumRTO)
        block.pointee.quickAcksLeft = tcp.configuration.quickAcks
        block.pointee.lastActivity = now
        armIdleTimer(id.index, block, now: now)
        return (id, block)
    }

    /// Records the peer's SYN: its initial sequence number and window.
    private func acceptPeerSYN(_ segment: IncomingSegment, _ block: UnsafeMutablePointer<ControlBlock>) {
        block.pointee.initialReceiveSequence = segment.sequence
        block.pointee.receiveNext = segment.sequence + 1
        block.pointee.advertisedWindowEdge = segment.sequence + 1
        // The window of a SYN is never scaled (RFC 7323 §2.2).
        block.pointee.sendWindow = segment.window
        block.pointee.maximumSendWindow = segment.window
        block.pointee.sendWindowUpdateSequence = segment.sequence
        block.pointee.sendWindowUpdateAcknowledgment = segment.acknowledgment
    }

    /// Options of the peer's SYN or SYN-ACK against ours: each is used only when
    /// both sides offered it (RFC 7323 §1.3, RFC 2018 §2).
    private func negotiateOptions(_ options: TCPOptions, _ block: UnsafeMutablePointer<ControlBlock>) {
        let configuration = tcp.configuration
        // An absent MSS option means 536 (RFC 9293 §3.7.1).
        let peerMSS = Int(options.maximumSegmentSize ?? 536)
        block.pointee.sendMSS = max(64, min(peerMSS, configuration.maximumSegmentSize))
        // Both shifts, or neither (RFC 7323 §2.2): our SYN of an active open offered
        // one and set the receive shift, which a SYN-ACK without the option undoes.
        let scaled = options.windowScale != nil
        block.pointee.sendWindowShift = options.windowScale ?? 0
        block.pointee.receiveWindowShift = scaled ? configuration.windowScale : 0
        block.pointee.selectiveAcknowledgmentsEnabled = configuration.selectiveAcknowledgments && options.sackPermitted
        if configuration.timestamps, let timestamp = options.timestamp {
            block.pointee.timestampsEnabled = true
            block.pointee.timestampRecent = timestamp.value
        }
        block.pointee.congestion = CongestionControl(algorithm: configuration.congestionControl,
                                                     mss: block.pointee.sendMSS)
    }

    // MARK: - SYN-SENT

    private mutating func processSYNSent(_ segment: IncomingSegment, _ id: ConnectionID,
                                         _ block: UnsafeMutablePointer<ControlBlock>, now: Instant) {
        let flags = segment.flags
        if flags.contains(.ack) {
            // An ACK for something we never sent: reset it (unless it is a reset).
            guard segment.acknowledgment > block.pointee.initialSendSequence,
                  segment.acknowledgment <= block.pointee.sendMaximum else {
                if !flags.contains(.rst) { sendReset(replyingTo: segment, tuple: block.pointee.tuple, now: now) }
                return
            }
            if flags.contains(.rst) {
                return abort(id, block, sendReset: false, error: .connectionRefused, now: now)
            }
        } else if flags.contains(.rst) {
            return
        }
        guard flags.contains(.syn) else { return }
        acceptPeerSYN(segment, block)
        negotiateOptions(segment.options, block)
        if flags.contains(.ack) {
            block.pointee.sendUnacknowledged = segment.acknowledgment
            block.pointee.sendWindowUpdateAcknowledgment = segment.acknowledgment
            if !block.pointee.timestampsEnabled || segment.options.timestamp == nil {
                sampleRTT(block, now: now, acknowledged: segment.acknowledgment)
            }
            block.pointee.retransmissions = 0
            tcp.timers.cancel(TCPTimer.retransmission.node(id.index))
            block.pointee.state = block.pointee.finQueued ? .finWait1 : .established
            tcp.statistics.established &+= 1
            postEvents(id, block, [.connected, .writable])
            queueAck(id, block)
            if block.pointee.send.count > 0 || block.pointee.finQueued { queueData(id, block) }
        } else {
            // Simultaneous open (RFC 9293 §3.5, figure 8).
            block.pointee.state = .synReceived
            block.pointee.sendNext = block.pointee.initialSendSequence
            queueControl(id, block, [.syn, .ack])
        }
        processPayloadAndFIN(segment, id, block, now: now)
    }

    // MARK: - Synchronized states

    mutating func process(_ segment: IncomingSegment, index: Int32, now: Instant) {
        let block = tcp.connections.block(at: index)
        let id = ConnectionID(index: index, generation: block.pointee.generation)
        block.pointee.lastActivity = now
        block.pointee.keepAliveProbes = 0
        switch block.pointee.state {
        case .synSent:
            return processSYNSent(segment, id, block, now: now)
        case .closed:
            // Ended, kept only until the application closes its handle.
            if !segment.flags.contains(.rst) { sendReset(replyingTo: segment, tuple: block.pointee.tuple, now: now) }
            return
        default:
            break
        }
        let flags = segment.flags

        // PAWS (RFC 7323 §5.3): a segment with an old timestamp is a duplicate
        // from a previous incarnation of the sequence space.
        if block.pointee.timestampsEnabled, !flags.contains(.rst), let timestamp = segment.options.timestamp,
           Int32(bitPattern: timestamp.value &- block.pointee.timestampRecent) < 0 {
            tcp.statistics.pawsRejected &+= 1
            return queueAck(id, block)
        }

        // A retransmitted SYN while we are in SYN-RECEIVED: our SYN-ACK was lost, so
        // send it again (the SYN lies before RCV.NXT and would fail the check below).
        if block.pointee.state == .synReceived, flags.contains(.syn), !flags.contains(.ack),
           segment.sequence == block.pointee.initialReceiveSequence {
            return queueControl(id, block, [.syn, .ack])
        }

        guard isAcceptable(segment, block) else {
            tcp.statistics.outOfWindow &+= 1
            guard !flags.contains(.rst) else { return }
            // RFC 9293 §3.10.7.4: with our window closed, data cannot be taken but
            // the ACK field must still be (else acknowledged data is resent), also
            // from a peer whose SND.NXT is past RCV.NXT (its last segment was cut
            // by the window). For SND.WL1 such a segment counts as at RCV.NXT: a
            // sequence number we never accepted must not become SND.WL1, or the
            // peer's later window updates at RCV.NXT are all ignored.
            if block.pointee.advertisedWindowEdge <= block.pointee.receiveNext, flags.contains(.ack),
               !flags.contains(.syn), block.pointee.state != .synReceived {
                var clamped = segment
                if clamped.sequence > block.pointee.receiveNext { clamped.sequence = block.pointee.receiveNext }
                guard processAcknowledgment(clamped, id, block, now: now) else { return }
            }
            queueAck(id, block)
            return
        }

        if flags.contains(.rst) { return receiveReset(segment, id, block, now: now) }

        // RFC 5961 §4: any other SYN in a synchronized state gets a challenge ACK.
        if flags.contains(.syn) { return sendChallengeAck(id, block) }

        guard flags.contains(.ack) else { return }
        guard processAcknowledgment(segment, id, block, now: now) else { return }
        if block.pointee.timestampsEnabled, let timestamp = segment.options.timestamp,
           segment.sequence <= block.pointee.lastAcknowledgmentSent {
            block.pointee.timestampRecent = timestamp.value
        }
        processPayloadAndFIN(segment, id, block, now: now)
    }

    /// RFC 9293 §3.10.7.4, first check: does the segment overlap the receive window?
    @inline(__always)
    private func isAcceptable(_ segment: IncomingSegment, _ block: UnsafeMutablePointer<ControlBlock>) -> Bool {
        let next = block.pointee.receiveNext
        let window = max(0, block.pointee.advertisedWindowEdge - next)
        let length = segment.length
        let first = segment.sequence
        if window == 0 {
            // A closed window still takes ACKs, RSTs and probes at exactly RCV.NXT.
            return first == next
        }
        let edge = next + window
        if length == 0 { return first >= next && first < edge }
        let last = first + (length - 1)
        return (first >= next && first < edge) || (last >= next && last < edge)
    }

    /// RFC 5961 §3.2: only a reset at exactly RCV.NXT is obeyed; one elsewhere in
    /// the window gets a challenge ACK, so a blind attacker must guess exactly.
    private mutating func receiveReset(_ segment: IncomingSegment, _ id: ConnectionID,
                                       _ block: UnsafeMutablePointer<ControlBlock>, now: Instant) {
        guard segment.sequence == block.pointee.receiveNext else { return sendChallengeAck(id, block) }
        tcp.statistics.resetsReceived &+= 1
        switch block.pointee.state {
        case .synReceived where block.pointee.listener >= 0:
            // Passive open reset by the peer: quietly forget it (RFC 9293 §3.10.7.4).
            abort(id, block, sendReset: false, error: nil, now: now)
        case .closing, .lastAck, .timeWait:
            abort(id, block, sendReset: false, error: nil, now: now)
        default:
            abort(id, block, sendReset: false, error: .connectionReset, now: now)
        }
    }

    private mutating func sendChallengeAck(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>) {
        tcp.statistics.challengeAcksSent &+= 1
        queueAck(id, block)
    }

    /// The ACK field (RFC 9293 §3.10.7.4, fifth check). Returns false when the
    /// segment must not be processed further.
    private mutating func processAcknowledgment(_ segment: IncomingSegment, _ id: ConnectionID,
                                                _ block: UnsafeMutablePointer<ControlBlock>, now: Instant) -> Bool {
        let ack = segment.acknowledgment
        if block.pointee.state == .synReceived {
            guard ack > block.pointee.sendUnacknowledged, ack <= block.pointee.sendMaximum else {
                sendReset(replyingTo: segment, tuple: block.pointee.tuple, now: now)
                return false
            }
            completePassiveOpen(id, block, now: now)
            guard block.pointee.inUse, block.pointee.generation == id.generation else { return false }
        }
        let unacknowledged = block.pointee.sendUnacknowledged
        // RFC 5961 §5.2: an ACK for data never sent, or older than the largest
        // window ago, is answered with an ACK and otherwise ignored.
        if ack > block.pointee.sendMaximum {
            sendChallengeAck(id, block)
            return false
        }
        if ack < unacknowledged - max(block.pointee.maximumSendWindow, 1) {
            sendChallengeAck(id, block)
            return false
        }

        let scaledWindow = segment.window << Int(block.pointee.sendWindowShift)
        let sackedBefore = block.pointee.scoreboard.sackedBytes
        if block.pointee.selectiveAcknowledgmentsEnabled && !segment.options.sackBlocks.isEmpty {
            block.pointee.scoreboard.record(segment.options.sackBlocks, unacknowledged: max(ack, unacknowledged),
                                            maximum: block.pointee.sendMaximum)
        }
        if ack > unacknowledged {
            acknowledge(upTo: ack, segment, id, block, now: now)
        } else if ack == unacknowledged, segment.payload.isEmpty, !segment.flags.contains(.fin),
                  scaledWindow == block.pointee.sendWindow || block.pointee.scoreboard.sackedBytes > sackedBefore,
                  block.pointee.bytesInFlight > 0 {
            // RFC 6675 §2: an ACK that SACKs new data counts as a duplicate even
            // if it also updates the window.
            duplicateAcknowledgment(id, block, now: now)
        }
        // Window update (SND.WL1/WL2 rule): only from a segment at least as new.
        if block.pointee.sendWindowUpdateSequence < segment.sequence
            || (block.pointee.sendWindowUpdateSequence == segment.sequence
                && block.pointee.sendWindowUpdateAcknowledgment <= ack) {
            let opened = scaledWindow > block.pointee.sendWindow
            block.pointee.sendWindow = scaledWindow
            block.pointee.maximumSendWindow = max(block.pointee.maximumSendWindow, scaledWindow)
            block.pointee.sendWindowUpdateSequence = segment.sequence
            block.pointee.sendWindowUpdateAcknowledgment = ack
            if opened && block.pointee.unsentBytes > 0 || block.pointee.finDue {
                queueData(id, block)
            }
        }
        return advanceStateOnAcknowledgment(id, block, now: now)
    }

    /// SYN-RECEIVED -> ESTABLISHED: into the listener's accept queue, or connected
    /// for a simultaneous open.
    private mutating func completePassiveOpen(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>,
                                              now: Instant) {
        block.pointee.state = .established
        tcp.statistics.established &+= 1
        let listener = Int(block.pointee.listener)
        guard listener >= 0 else { return postEvents(id, block, [.connected, .writable]) }
        if tcp.listeners.isActive(listener) { tcp.listeners[listener].halfOpen -= 1 }
        guard tcp.listeners.isActive(listener), tcp.listeners.pushAcceptable(listener, id) else {
            tcp.statistics.acceptQueueOverflows &+= 1
            return abort(id, block, sendReset: true, error: nil, now: now)
        }
    }

    /// New data acknowledged: free it, sample the RTT, grow the window, manage
    /// the retransmission timer and fast recovery (RFC 6298, 5681, 6582).
    private mutating func acknowledge(upTo ack: SequenceNumber, _ segment: IncomingSegment, _ id: ConnectionID,
                                      _ block: UnsafeMutablePointer<ControlBlock>, now: Instant) {
        let ackedBytes = ack - block.pointee.sendUnacknowledged
        let flightBefore = block.pointee.bytesInFlight
        // Bytes of the send buffer covered (the SYN and FIN take sequence space only).
        let dataEnd = block.pointee.sendBufferStart + block.pointee.send.count
        let acknowledgedData = max(0, min(ack, dataEnd) - block.pointee.sendBufferStart)
        if acknowledgedData > 0 {
            block.pointee.send.acknowledge(acknowledgedData)
            block.pointee.sendBufferStart = block.pointee.sendBufferStart + acknowledgedData
            postEvents(id, block, .writable)
        }
        block.pointee.sendUnacknowledged = ack
        block.pointee.scoreboard.acknowledge(upTo: ack)
        if block.pointee.sendNext < ack { block.pointee.sendNext = ack }
        block.pointee.retransmissions = 0
        block.pointee.duplicateAcknowledgments = 0
        block.pointee.lastAckAdvance = ackedBytes

        // RTT: from the echoed timestamp (RFC 7323 §4.1), else Karn's one-at-a-time probe.
        var sample: TimeSpan? = nil
        if block.pointee.timestampsEnabled, let timestamp = segment.options.timestamp {
            // The echo names the transmission measured, so retransmissions need no
            // Karn's rule (RFC 7323 §4.1, RFC 6298 §3). After a hole the receiver
            // echoes an older TSval (RFC 7323 §4.3): the sample is then too long,
            // which errs on the safe side. An echo from the future (bogus, or a
            // clock wrapped past 2^31) shows as an elapsed time beyond 60 s.
            let echo = timestamp.echoReply
            let elapsed = timestampClock(now) &- echo
            if echo != 0, elapsed < 60_000 { sample = .milliseconds(UInt64(elapsed)) }
        } else {
            sample = sampleRTT(block, now: now, acknowledged: ack)
        }
        if let sample { block.pointee.rtt.addSample(sample) }

        switch block.pointee.recovery {
        case .fast(let recover) where ack >= recover:
            block.pointee.recovery = .none
            block.pointee.congestion.onRecoveryExit(flightSize: block.pointee.bytesInFlight)
        case .fast where !block.pointee.scoreboard.isEmpty:
            // RFC 6675: cwnd stays; what the ACK freed shows in pipe.
            retransmitHoles(id, block, now: now)
        case .fast where block.pointee.selectiveAcknowledgmentsEnabled:
            // A partial ACK that covered every SACKed block left no scoreboard: the
            // data at SND.UNA is the next loss, but cwnd follows RFC 6675 (no
            // NewReno deflation, which pipe never inflated).
            retransmitOldest(id, block, now: now)
        case .fast:
            // Partial ACK (RFC 6582 §3.2 step 5): resend the next hole at once.
            block.pointee.congestion.onPartialAck(ackedBytes: ackedBytes)
            retransmitOldest(id, block, now: now)
        case .afterTimeout, .none:
            if case .afterTimeout(let recover) = block.pointee.recovery, ack >= recover {
                block.pointee.recovery = .none
            }
            block.pointee.congestion.onAck(ackedBytes: ackedBytes, now: now, rtt: sample,
                                           inFlightBeforeAck: flightBefore,
                                           applicationLimited: block.pointee.unsentBytes == 0)
        }

        if block.pointee.bytesInFlight > 0 {
            armRetransmission(id.index, block, now: now)
        } else {
            tcp.timers.cancel(TCPTimer.retransmission.node(id.index))
        }
        if block.pointee.unsentBytes > 0 || (block.pointee.finDue) {
            queueData(id, block)
        }
    }

    /// Karn's algorithm: time one segment at a time, never a retransmitted one.
    @discardableResult
    private func sampleRTT(_ block: UnsafeMutablePointer<ControlBlock>, now: Instant,
                           acknowledged ack: SequenceNumber) -> TimeSpan? {
        guard block.pointee.rttProbeActive, ack > block.pointee.rttProbeSequence else { return nil }
        block.pointee.rttProbeActive = false
        return now.since(block.pointee.rttProbeSentAt)
    }

    /// RFC 5681 §3.2: the third duplicate ACK starts fast retransmit and recovery.
    private mutating func duplicateAcknowledgment(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>,
                                                  now: Instant) {
        block.pointee.duplicateAcknowledgments += 1
        let sack = block.pointee.selectiveAcknowledgmentsEnabled
        if block.pointee.inFastRecovery {
            if sack {
                retransmitHoles(id, block, now: now)
            } else {
                block.pointee.congestion.onDuplicateAckInRecovery()
            }
            if block.pointee.unsentBytes > 0 { queueData(id, block) }
            return
        }
        // Loss of SND.UNA: three duplicate ACKs, or (RFC 6675 IsLost) more than
        // two segments SACKed above it.
        let lost = block.pointee.duplicateAcknowledgments >= 3
            || (sack && block.pointee.scoreboard.sackedBytes > 2 * block.pointee.sendMSS)
        guard lost, mayStartFastRecovery(block) else { return }
        block.pointee.recovery = .fast(recover: block.pointee.sendMaximum)
        block.pointee.congestion.onDuplicateAcksEnterRecovery(flightSize: block.pointee.bytesInFlight, now: now,
                                                              sack: !block.pointee.scoreboard.isEmpty)
        tcp.statistics.fastRetransmits &+= 1
        block.pointee.highestRetransmitted = block.pointee.sendUnacknowledged
        if !block.pointee.scoreboard.isEmpty {
            retransmitHoles(id, block, now: now, forcingFirst: true)
        } else {
            retransmitOldest(id, block, now: now)
        }
    }

    /// RFC 6582 §3.2 step 2: no new recovery while one runs, nor for data the timer
    /// already resent (a receiver that held it repeats its ACK for every copy) —
    /// unless §4.2's ACK heuristic says the duplicates are for data lost after the
    /// timeout: cwnd above one SMSS and the last new ACK advanced at most 4 SMSS
    /// (a receiver that already held the resent data jumps further).
    private func mayStartFastRecovery(_ block: UnsafeMutablePointer<ControlBlock>) -> Bool {
        switch block.pointee.recovery {
        case .none: true
        case .fast: false
        case .afterTimeout:
            block.pointee.congestion.cwnd > block.pointee.sendMSS
                && block.pointee.lastAckAdvance <= 4 * block.pointee.sendMSS
        }
    }

    /// State changes when our FIN is acknowledged. Returns false when the
    /// connection ended here.
    private mutating func advanceStateOnAcknowledgment(_ id: ConnectionID,
                                                       _ block: UnsafeMutablePointer<ControlBlock>,
                                                       now: Instant) -> Bool {
        let finAcknowledged = block.pointee.finSent
            && block.pointee.sendUnacknowledged > block.pointee.finSequence
        guard finAcknowledged else { return true }
        switch block.pointee.state {
        case .finWait1:
            block.pointee.state = .finWait2
        case .closing:
            enterTimeWait(id, block, now: now)
            return false
        case .lastAck:
            finishClose(id, block, now: now)
            return false
        default:
            break
        }
        return true
    }

    /// Segment text and FIN (RFC 9293 §3.10.7.4, seventh and eighth checks).
    private mutating func processPayloadAndFIN(_ segment: IncomingSegment, _ id: ConnectionID,
                                               _ block: UnsafeMutablePointer<ControlBlock>, now: Instant) {
        if !segment.payload.isEmpty {
            guard block.pointee.state.acceptsData else { return queueAck(id, block) }
            let dataStart = segment.sequence + (segment.flags.contains(.syn) ? 1 : 0)
            let offset = dataStart - block.pointee.receiveNext
            let hadHole = block.pointee.receive.hasOutOfOrderData
            let refusedBefore = block.pointee.receive.refusedSegments
            let inOrder = block.pointee.receive.write(UnsafeRawBufferPointer(segment.payload), at: offset)
            if block.pointee.receive.refusedSegments != refusedBefore { tcp.statistics.outOfOrderRefused &+= 1 }
            if inOrder > 0 {
                block.pointee.receiveNext = block.pointee.receiveNext + inOrder
                postEvents(id, block, .readable)
            }
            if offset > 0 || hadHole || block.pointee.receive.hasOutOfOrderData {
                // Out of order, or filling a hole: ACK at once so the sender's fast
                // retransmit and SACK work (RFC 5681 §4.2).
                if offset > 0 { tcp.statistics.outOfOrderSegments &+= 1 }
                queueAck(id, block)
            } else {
                scheduleAck(id, block, fullSized: segment.payload.count >= block.pointee.fullSizedPayload, now: now)
            }
        }
        if segment.flags.contains(.fin) {
            block.pointee.peerFINSequence = segment.sequence + (segment.length - 1)
        }
        if let fin = block.pointee.peerFINSequence, fin == block.pointee.receiveNext {
            receiveFIN(id, block, now: now)
        }
    }

    private mutating func receiveFIN(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>, now: Instant) {
        block.pointee.peerFINSequence = nil
        block.pointee.finReceived = true
        block.pointee.receiveNext = block.pointee.receiveNext + 1
        queueAck(id, block)
        postEvents(id, block, [.readable, .peerClosed])
        switch block.pointee.state {
        case .synReceived, .established:
            block.pointee.state = .closeWait
        case .finWait1:
            // Our FIN not yet acknowledged: both closed at once (RFC 9293 figure 13).
            block.pointee.state = .closing
        case .finWait2:
            enterTimeWait(id, block, now: now)
        default:
            break
        }
    }
}
