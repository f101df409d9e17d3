/// A connection's input: RFC 9293 §3.10.7.4 "SEGMENT ARRIVES" in the
/// synchronized states, with the mitigations of RFC 5961 (challenge ACKs) and
/// PAWS (RFC 7323). SYN-SENT is in `TCPConnection+Open`.
extension TCPConnection {
    /// Processes one segment for this connection at time `now`.
    mutating func process<Environment: TCPConnectionEnvironment & ~Copyable>(
        _ segment: IncomingSegment, now: Instant, _ environment: inout Environment) {
        lastActivity = now
        keepAliveProbes = 0
        switch state {
        case .synSent:
            return processSYNSent(segment, now: now, &environment)
        case .closed:
            // Ended, kept only until the application closes its handle.
            if !segment.flags.contains(.rst) { sendReset(replyingTo: segment, now: now, &environment) }
            return
        default:
            break
        }
        let flags = segment.flags

        // PAWS (RFC 7323 §5.3): a segment with an old timestamp is a duplicate
        // from a previous incarnation of the sequence space.
        if timestampsEnabled, !flags.contains(.rst), let timestamp = segment.options.timestamp,
           Int32(bitPattern: timestamp.value &- timestampRecent) < 0 {
            environment.connectionStatistics.pawsRejected &+= 1
            return acknowledgeDropped(segment, now: now, &environment)
        }

        // A retransmitted SYN while we are in SYN-RECEIVED: our SYN-ACK was lost, so
        // send it again (the SYN lies before RCV.NXT and would fail the check below),
        // echoing this SYN's TSval (RFC 7323 §4.3: SEG.SEQ <= Last.ACK.sent, and
        // PAWS passed above): the peer can then time its handshake by the SYN it
        // resent instead of going without a sample.
        if state == .synReceived, flags.contains(.syn), !flags.contains(.ack),
           segment.sequence == initialReceiveSequence {
            if timestampsEnabled, let timestamp = segment.options.timestamp { timestampRecent = timestamp.value }
            // Karn (RFC 6298 §3): the final ACK may answer either SYN-ACK, so the
            // first one's probe times nothing (an echo of the resent one still does).
            rttProbeActive = false
            return queueControl([.syn, .ack])
        }

        guard isAcceptable(segment) else {
            environment.connectionStatistics.outOfWindow &+= 1
            guard !flags.contains(.rst) else { return }
            // RFC 9293 §3.10.7.4: with our window closed, data cannot be taken but
            // the ACK field must still be (else acknowledged data is resent), also
            // from a peer whose SND.NXT is past RCV.NXT (its last segment was cut
            // by the window). For SND.WL1 such a segment counts as at RCV.NXT: a
            // sequence number we never accepted must not become SND.WL1, or the
            // peer's later window updates at RCV.NXT are all ignored.
            if advertisedWindowEdge <= receiveNext, flags.contains(.ack), !flags.contains(.syn),
               state != .synReceived {
                var clamped = segment
                if clamped.sequence > receiveNext { clamped.sequence = receiveNext }
                guard processAcknowledgment(clamped, now: now, &environment) else { return }
            }
            if state == .timeWait, flags.contains(.fin), segment.sequence + segment.length == receiveNext {
                restartTimeWait(now: now, configuration: environment.tcpConfiguration)
            }
            return acknowledgeDropped(segment, now: now, &environment)
        }

        if flags.contains(.rst) { return receiveReset(segment, now: now, &environment) }

        // RFC 5961 §4: any other SYN in a synchronized state gets a challenge ACK.
        if flags.contains(.syn) { return sendChallengeAck(now: now, &environment) }

        guard flags.contains(.ack) else { return }
        guard processAcknowledgment(segment, now: now, &environment) else { return }
        if timestampsEnabled, let timestamp = segment.options.timestamp, segment.sequence <= lastAcknowledgmentSent {
            timestampRecent = timestamp.value
        }
        processPayloadAndFIN(segment, now: now, &environment)
    }

    /// RFC 9293 §3.10.7.4, first check: does the segment overlap the receive window?
    @inline(__always)
    func isAcceptable(_ segment: IncomingSegment) -> Bool {
        let next = receiveNext
        let window = max(0, advertisedWindowEdge - next)
        let length = segment.length
        let first = segment.sequence
        if window == 0 {
            // A closed window still takes ACKs, RSTs and probes at exactly RCV.NXT.
            return first == next
        }
        let edge = next + window
        // An ACK from a peer that filled our window has SEG.SEQ = its SND.NXT =
        // our right edge: RFC 9293's test (SEG.SEQ < RCV.NXT + RCV.WND) refuses
        // it and its acknowledgment with it, and a window-limited peer then
        // sends nothing else; our data looks lost and the RTO fires (spuriously).
        // Linux takes SEG.SEQ up to the edge (tcp_sequence), as here.
        if length == 0 { return first >= next && first <= edge }
        let last = first + (length - 1)
        return (first >= next && first < edge) || (last >= next && last < edge)
    }

    /// RFC 5961 §3.2: only a reset at exactly RCV.NXT is obeyed; one elsewhere in
    /// the window gets a challenge ACK, so a blind attacker must guess exactly.
    private mutating func receiveReset<Environment: TCPConnectionEnvironment & ~Copyable>(
        _ segment: IncomingSegment, now: Instant, _ environment: inout Environment) {
        guard segment.sequence == receiveNext else { return sendChallengeAck(now: now, &environment) }
        environment.connectionStatistics.resetsReceived &+= 1
        switch state {
        case .synReceived where listener >= 0, .closing, .lastAck, .timeWait:
            // A passive open reset by the peer is quietly forgotten (RFC 9293
            // §3.10.7.4); so is a connection the application already closed.
            abort(sendReset: false, error: nil, now: now, &environment)
        default:
            abort(sendReset: false, error: .connectionReset, now: now, &environment)
        }
    }

    /// RFC 5961 §7 asks for a limit on challenge ACKs. It is kept per connection,
    /// as Linux's per-socket `tcp_invalid_ratelimit` (500 ms): Linux's first,
    /// global limit was a counter shared by every connection that an off-path
    /// attacker could drain and observe to find connections and their sequence
    /// numbers (CVE-2016-5696). One ACK per interval is all an honest peer needs:
    /// it answers it with an exact reset, or its next segment resynchronizes.
    static let challengeAckInterval = TimeSpan.milliseconds(500)

    private mutating func sendChallengeAck<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        guard takeRateLimitedAck(now: now) else {
            environment.connectionStatistics.challengeAcksSuppressed &+= 1
            return
        }
        environment.connectionStatistics.challengeAcksSent &+= 1
        queueAck()
    }

    /// The ACK of a segment dropped as out of window or by PAWS (RFC 9293
    /// §3.10.7.4, RFC 7323 §5.3): at once for one that occupies sequence space
    /// (data, a SYN, or a FIN retransmitted because our ACK of it was lost); for
    /// a bare one at most one per interval, as Linux: two ends that disagree on the
    /// sequence space (after an injection, or a middlebox's rewrite) would
    /// otherwise answer each other's bare ACKs forever, and a peer's pure ACK
    /// overtaken by its own data would draw a duplicate ACK toward its fast
    /// retransmit.
    private mutating func acknowledgeDropped<Environment: TCPConnectionEnvironment & ~Copyable>(
        _ segment: IncomingSegment, now: Instant, _ environment: inout Environment) {
        if segment.length == 0 && !takeRateLimitedAck(now: now) {
            environment.connectionStatistics.droppedSegmentAcksSuppressed &+= 1
            return
        }
        // Data already received (a retransmission of what our lost ACK
        // covered): reported as a D-SACK. A PAWS drop above RCV.NXT is not
        // known to be a copy, so it is not.
        let dataStart = segment.dataStart
        if !segment.payload.isEmpty && dataStart + segment.payload.count <= receiveNext
            && receiveNext - dataStart <= receive.capacity {
            reportDuplicate(from: dataStart, to: dataStart + segment.payload.count, now: now, &environment)
        }
        queueAck()
    }

    /// Whether an ACK under the per-connection limit may go now (and counts it).
    private mutating func takeRateLimitedAck(now: Instant) -> Bool {
        if let last = lastRateLimitedAck, now.since(last) < Self.challengeAckInterval { return false }
        lastRateLimitedAck = now
        return true
    }

    /// A reset answering a segment this connection cannot take (RFC 9293 §3.10.7).
    mutating func sendReset<Environment: TCPConnectionEnvironment & ~Copyable>(
        replyingTo segment: IncomingSegment, now: Instant, _ environment: inout Environment) {
        if environment.transmit(.reset(replyingTo: segment, tuple: tuple), now: now) {
            environment.connectionStatistics.resetsSent &+= 1
        }
    }

    /// The ACK field (RFC 9293 §3.10.7.4, fifth check). Returns false when the
    /// segment must not be processed further.
    private mutating func processAcknowledgment<Environment: TCPConnectionEnvironment & ~Copyable>(
        _ segment: IncomingSegment, now: Instant, _ environment: inout Environment) -> Bool {
        let ack = segment.acknowledgment
        if state == .synReceived {
            guard ack > sendUnacknowledged, ack <= sendMaximum else {
                sendReset(replyingTo: segment, now: now, &environment)
                return false
            }
            guard completePassiveOpen(now: now, &environment), state != .closed else { return false }
        }
        let unacknowledged = sendUnacknowledged
        // RFC 5961 §5.2: an ACK for data never sent, or older than the largest
        // window ago, is answered with an ACK and otherwise ignored.
        if ack > sendMaximum || ack < unacknowledged - max(maximumSendWindow, 1) {
            sendChallengeAck(now: now, &environment)
            return false
        }

        let scaledWindow = segment.window << Int(sendWindowShift)
        var reportsDuplicate = false
        // Only a segment with SACK blocks touches the scoreboard (a line of its own).
        var sacksNewData = false
        if selectiveAcknowledgmentsEnabled && !segment.options.sackBlocks.isEmpty {
            reportsDuplicate = noteDuplicateReport(segment.options.sackBlocks, acknowledgment: ack, now: now,
                                                   &environment)
            let resentSackedBefore = sackedAfterHeadResent
            let sackedBefore = scoreboard.sackedBytes
            scoreboard.record(segment.options.sackBlocks, unacknowledged: max(ack, unacknowledged),
                              maximum: sendMaximum)
            sacksNewData = scoreboard.sackedBytes > sackedBefore
            if sackedAfterHeadResent > resentSackedBefore { lossDetection.deliveredAfterHeadResent = true }
        }
        lossProbeShownNeedless(segment, reportsDuplicate: reportsDuplicate, unacknowledged: unacknowledged,
                               windowUnchanged: scaledWindow == sendWindow)
        let delivery = measureDelivery(acknowledgment: ack, now: now)
        if ack > unacknowledged {
            acknowledge(upTo: ack, segment, now: now, &environment)
        } else if ack == unacknowledged, bytesInFlight > 0, sacksNewData
                    || (!reportsDuplicate && segment.payload.isEmpty && !segment.flags.contains(.fin)
                        && scaledWindow == sendWindow) {
            // RFC 6675 §2: an ACK that SACKs new data counts as a duplicate even if
            // it also updates the window or rides on data: a peer that sends too
            // (an echo) has nearly all its ACKs on data segments. One that only
            // reports a duplicate (a needless resend of ours) shows no loss.
            duplicateAcknowledgment(now: now, &environment)
        }
        reportDelivery(delivery, now: now)
        // Window update (SND.WL1/WL2 rule): only from a segment at least as new.
        if sendWindowUpdateSequence < segment.sequence
            || (sendWindowUpdateSequence == segment.sequence && sendWindowUpdateAcknowledgment <= ack) {
            let opened = scaledWindow > sendWindow
            sendWindow = scaledWindow
            maximumSendWindow = max(maximumSendWindow, scaledWindow)
            sendWindowUpdateSequence = segment.sequence
            sendWindowUpdateAcknowledgment = ack
            if opened && unsentBytes > 0 || finDue {
                queueData(shortFlowThreshold: environment.tcpConfiguration.shortFlowThreshold)
            }
        }
        return advanceStateOnAcknowledgment(now: now, &environment)
    }

    /// SYN-RECEIVED -> ESTABLISHED: into the listener's accept queue, or connected
    /// for a simultaneous open. False when the segment is to be ignored.
    ///
    /// A full accept queue leaves the connection in SYN-RECEIVED and drops the
    /// ACK (with any data on it), as Linux does by default
    /// (`tcp_abort_on_overflow` 0): a burst of connections larger than the
    /// backlog the application drains per iteration then completes a little
    /// later — the peer's next segment, or its answer to our SYN-ACK resent by
    /// the still running timer — instead of being reset.
    private mutating func completePassiveOpen<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) -> Bool {
        let admission = listener >= 0 ? environment.admitToAcceptQueue(id, listener: listener) : .admitted
        if admission == .queueFull {
            environment.connectionStatistics.acceptQueueOverflows &+= 1
            // The wait the full queue imposes is ours: the ACK that completes the
            // handshake later times nothing unless it answers a SYN-ACK sent after.
            lastSYNTimestamp = 0
            rttProbeActive = false
            return false
        }
        state = .established
        // Before this ACK's sample, if it has one: it then sets the RTO itself.
        // Without one after a resent SYN-ACK, the data starts at an RTO of 3 s
        // (RFC 6298 §5.7, for either side's handshake).
        if retransmissions > 0 {
            rtt.handshakeCompletedAfterSYNTimeout()
        } else {
            rtt.handshakeCompletedWithoutSample()
        }
        environment.connectionStatistics.established &+= 1
        if listener < 0 { postEvents([.connected, .writable]) }
        if admission == .listenerGone { abort(sendReset: true, error: nil, now: now, &environment) }
        return true
    }

    /// State changes when our FIN is acknowledged. Returns false when the
    /// connection ended here.
    private mutating func advanceStateOnAcknowledgment<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) -> Bool {
        guard finSent && sendUnacknowledged > finSequence else { return true }
        switch state {
        case .finWait1:
            state = .finWait2
        case .closing:
            enterTimeWait(now: now, &environment)
            return false
        case .lastAck:
            finishClose(now: now, &environment)
            return false
        default:
            break
        }
        return true
    }

    /// Segment text and FIN (RFC 9293 §3.10.7.4, seventh and eighth checks).
    mutating func processPayloadAndFIN<Environment: TCPConnectionEnvironment & ~Copyable>(
        _ segment: IncomingSegment, now: Instant, _ environment: inout Environment) {
        if !segment.payload.isEmpty {
            guard state.acceptsData else { return queueAck() }
            let dataStart = segment.dataStart
            let offset = dataStart - receiveNext
            let hadHole = receive.hasOutOfOrderData
            let duplicate = alreadyHeld(dataStart: dataStart, offset: offset, count: segment.payload.count)
            if offset > 0 || hadHole {
                sendOwedAckFirst(offset: offset, count: segment.payload.count, now: now, &environment)
            }
            if let duplicate {
                reportDuplicate(from: duplicate.lowerBound, to: duplicate.upperBound, now: now, &environment)
            }
            let refusedBefore = receive.refusedSegments
            let inOrder = receive.write(UnsafeRawBufferPointer(segment.payload), at: offset)
            if receive.refusedSegments != refusedBefore { environment.connectionStatistics.outOfOrderRefused &+= 1 }
            if inOrder > 0 {
                receiveNext = receiveNext + inOrder
                duplicateAcksSent = 0
                postEvents(.readable)
            }
            if offset <= 0 && inOrder == 0 {
                // Data at RCV.NXT our closed window could not take (a zero-window
                // probe carrying a byte, as BSD and Windows send): ACK at once
                // (RFC 9293 §3.10.7.4), so the sender keeps probing instead of
                // giving up; RCV.NXT did not move, so no delayed ACK would answer it.
                queueAck()
            } else if offset > 0 || hadHole || receive.hasOutOfOrderData || duplicateReport != nil {
                // Out of order, or filling a hole: ACK at once so the sender's fast
                // retransmit and SACK work (RFC 5681 §4.2).
                if offset > 0 { environment.connectionStatistics.outOfOrderSegments &+= 1 }
                // And the segments after it too (Linux's quick-ACK mode after a
                // loss): the sender's window is small now, a delayed ACK for its
                // next segments would stall it, and RACK and the loss probe time
                // from what the ACKs show.
                quickAcksLeft = max(quickAcksLeft, environment.tcpConfiguration.quickAcks)
                queueAck()
            } else {
                scheduleAck(fullSized: segment.payload.count >= fullSizedPayload,
                            configuration: environment.tcpConfiguration, now: now)
            }
        }
        if segment.flags.contains(.fin) {
            peerFINSequence = segment.sequence + (segment.length - 1)
            // A FIN beyond a hole is out of order too: a duplicate ACK at once (RFC 5681 §4.2).
            if segment.payload.isEmpty && peerFINSequence != receiveNext { queueAck() }
        }
        if let fin = peerFINSequence, fin == receiveNext { receiveFIN(now: now, &environment) }
    }

    /// Out-of-order data (or data filling a hole) arrives while the ACK for the
    /// segments before it in the burst is still owed: that ACK goes now, with
    /// the SACK blocks of its moment, when waiting for the burst's one ACK would
    /// lose what it has to say (a duplicate's D-SACK: `reportDuplicate`).
    /// - The first three such ACKs since RCV.NXT last moved, as Linux sends
    ///   them: a sender without SACK sees its three duplicates (RFC 5681 §4.2).
    /// - With SACK, out-of-order data that would push the range the owed ACK
    ///   reports second down the SACK option's order (a range of its own, or an
    ///   older range extended): RFC 2018 §4 puts the range of the segment that
    ///   drew an ACK first, and this way each range an ACK is owed for leads one,
    ///   or follows the range updated right after it. Two, not the three blocks
    ///   that fit, as Linux's SACK compression counts, since ACKs are lost too
    ///   (and a D-SACK report takes a place). When one ACK answered the
    ///   whole burst, the ranges updated early in it went unreported, and a
    ///   kernel sender's RACK took them for lost: in the 10 MiB echo at 10% loss
    ///   29-40% of its resends were of data we held (1,340-1,770 a run, against
    ///   910-1,080 to Linux's receiver; 930-1,210 since).
    private mutating func sendOwedAckFirst<Environment: TCPConnectionEnvironment & ~Copyable>(
        offset: Int, count: Int, now: Instant, _ environment: inout Environment) {
        guard ackPending else { return }
        if duplicateAcksSent < 3 {
            if sendPureAck(now: now, &environment) { duplicateAcksSent += 1 }
            return
        }
        let sackBlocksSurelySeen = 2
        if selectiveAcknowledgmentsEnabled
            && receive.sackRecencyRank(ofWriteAt: offset, count: count) >= sackBlocksSurelySeen {
            sendPureAck(now: now, &environment)
        }
    }

    private mutating func receiveFIN<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        peerFINSequence = nil
        finReceived = true
        receiveNext = receiveNext + 1
        queueAck()
        postEvents([.readable, .peerClosed])
        switch state {
        case .synReceived, .established:
            state = .closeWait
        case .finWait1:
            // Our FIN not yet acknowledged: both closed at once (RFC 9293 figure 13).
            state = .closing
        case .finWait2:
            enterTimeWait(now: now, &environment)
        default:
            break
        }
    }
}
