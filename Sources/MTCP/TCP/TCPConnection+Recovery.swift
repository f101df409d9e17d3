/// What an ACK of new data or a duplicate ACK does to the sender: free the
/// acknowledged bytes, sample the RTT, grow the congestion window, and repair
/// losses (RFC 6298, 5681, 6582, 6675).
extension TCPConnection {
    /// New data acknowledged: free it, sample the RTT, grow the window, manage
    /// the retransmission timer and fast recovery.
    mutating func acknowledge<Environment: TCPConnectionEnvironment & ~Copyable>(
        upTo ack: SequenceNumber, _ segment: IncomingSegment, now: Instant, _ environment: inout Environment) {
        let ackedBytes = ack - sendUnacknowledged
        let flightBefore = bytesInFlight
        // Bytes of the send buffer covered (the SYN and FIN take sequence space only).
        let dataEnd = sendBufferStart + send.count
        let acknowledgedData = max(0, min(ack, dataEnd) - sendBufferStart)
        if acknowledgedData > 0 {
            send.acknowledge(acknowledgedData)
            sendBufferStart = sendBufferStart + acknowledgedData
            postEvents(.writable)
        }
        checkSpuriousTimeout(segment, &environment)
        sendUnacknowledged = ack
        scoreboard.acknowledge(upTo: ack)
        if inFastRecovery, let record = lossDetection.resentHoles.record(holding: ack) {
            // The new SND.UNA was resent already, at a logged time.
            lossDetection.headResentAt = record.sentAt
            lossDetection.headResentBelow = record.sendMaximum
            lossDetection.headResentAbove = highestRetransmitted
            lossDetection.deliveredAfterHeadResent = false
        } else if inFastRecovery && ack < highestRetransmitted, let resentAt = lossDetection.holeResentAt {
            // The new SND.UNA was resent already, no later than the last hole.
            lossDetection.headResentAt = resentAt
            lossDetection.headResentBelow = lossDetection.holeResentBelow
            lossDetection.headResentAbove = highestRetransmitted
            lossDetection.deliveredAfterHeadResent = false
        } else {
            lossDetection.headResentAt = nil
        }
        // Reneging (RFC 2018 §8): a receiver still holding a SACKed range that
        // starts at the new cumulative ACK would have acknowledged past it, so it
        // discarded that data; nothing SACKed can be trusted to be held, and what
        // was skipped as SACKed is sent again from here (go-back-N).
        if scoreboard.lowestSacked == ack {
            scoreboard.clear()
            sendNext = ack
        }
        if sendNext < ack { sendNext = ack }
        if remainingBytes == 0 { backlogOrder = 0 }
        retransmissions = 0
        duplicateAcknowledgments = 0
        lastAckAdvance = ackedBytes

        let sample = rttSample(segment, acknowledged: ack, now: now)
        if let sample { rtt.addSample(sample) }
        lossProbeAcknowledged(upTo: ack, now: now, &environment)

        switch recovery {
        case .fast(let recover) where ack >= recover:
            recovery = .none
            congestion.onRecoveryExit(flightSize: bytesInFlight)
            lossDetection.recoveryEnded()
            lossDetection.resentHoles.clear()
        case .fast where !scoreboard.isEmpty:
            // RFC 6675: cwnd stays; what the ACK freed shows in pipe.
            retransmitHoles(now: now, &environment)
        case .fast where selectiveAcknowledgmentsEnabled:
            // A partial ACK that covered every SACKed block left no scoreboard: the
            // data at SND.UNA is the next loss, but cwnd follows RFC 6675 (no
            // NewReno deflation, which pipe never inflated).
            retransmitOldest(now: now, &environment)
        case .fast:
            // Partial ACK (RFC 6582 §3.2 step 5): resend the next hole at once.
            congestion.onPartialAck(ackedBytes: ackedBytes)
            retransmitOldest(now: now, &environment)
        case .afterTimeout, .none:
            if case .afterTimeout(let recover) = recovery, ack >= recover {
                recovery = .none
                congestion.onTimeoutRecoveryEnd()
                lossDetection.recoveryEnded()
            }
            congestion.onAck(ackedBytes: ackedBytes, now: now, rtt: sample, inFlightBeforeAck: flightBefore,
                             applicationLimited: unsentBytes == 0)
        }

        if bytesInFlight > 0 {
            armRetransmission(now: now)
            // RFC 8985 §6.2 runs on every ACK: one that leaves SACKed data above
            // SND.UNA shows a hole, lost once the reordering window passes.
            if selectiveAcknowledgmentsEnabled && !scoreboard.isEmpty {
                if inFastRecovery {
                    resendLostHeadRetransmission(now: now, &environment)
                    resendLostHoleRetransmissions(now: now, &environment)
                } else if mayStartFastRecovery {
                    armReorderWindow(now: now)
                }
            }
        } else if deadlines[.retransmission] != nil {
            setDeadline(.retransmission, nil)
        }
        if unsentBytes > 0 || finDue { queueData(shortFlowThreshold: environment.tcpConfiguration.shortFlowThreshold) }
    }

    /// An RTT sample from an ACK that acknowledges new data (or our SYN): from
    /// the echoed timestamp (RFC 7323 §4.1), else Karn's one-at-a-time probe.
    mutating func rttSample(_ segment: IncomingSegment, acknowledged ack: SequenceNumber,
                            now: Instant) -> TimeSpan? {
        guard timestampsEnabled, let timestamp = segment.options.timestamp else {
            return sampleRTT(now: now, acknowledged: ack)
        }
        // The echo names the transmission measured, so retransmissions need no
        // Karn's rule (RFC 7323 §4.1, RFC 6298 §3). After a hole the receiver
        // echoes an older TSval (RFC 7323 §4.3): the sample is then too long,
        // which errs on the safe side. An echo from the future (bogus, or a
        // clock wrapped past 2^31) shows as an elapsed time beyond 60 s.
        let echo = timestamp.echoReply
        var elapsed = timestampValue(now) &- echo
        guard echo != 0, elapsed < 60_000 else { return nil }
        // The ACK of our SYN or SYN-ACK may echo an earlier copy than the last one
        // sent, and nothing tells which copy it answers (Karn's ambiguity). It
        // may answer that copy, on a path slower than our timer, or when both
        // sides' timers fired together (the peer's resent SYN drawing a SYN-ACK
        // beside the timer's): the time since it is the round trip. Or it
        // answers the last copy late, echoing the TSval the peer held (its ACK
        // of the first was lost): the time since the echoed copy then holds our
        // whole timeout, and a 1 s first sample held the RTO and the loss
        // probes' timeout at seconds for the first round trips. So it is timed
        // from the echoed copy, but at most twice the time since the last one,
        // and never below half the time since the echoed one: the RTO (three
        // samples at first) stays above the round trip whichever it answered.
        // Taking no sample cost more: the data starts at §5.7's 3 s RTO, with no
        // loss probe without an SRTT, so a lone lost response after such a
        // handshake waited 3 s. A full accept queue (`lastSYNTimestamp` 0) times
        // nothing until a SYN-ACK is sent again; an echo of a copy before it
        // then also holds that wait, and errs long as RFC 7323 §4.3 does.
        if ack == initialSendSequence + 1 && echo != lastSYNTimestamp {
            let sinceLast = timestampValue(now) &- lastSYNTimestamp
            guard lastSYNTimestamp != 0, sinceLast < elapsed else { return nil }
            elapsed = min(elapsed, max(2 * sinceLast, elapsed / 2))
        }
        if Int32(bitPattern: echo &- lossDetection.echoFloor) > 0 { lossDetection.echoFloor = echo }
        return .milliseconds(UInt64(elapsed))
    }

    /// Karn's algorithm: time one segment at a time, never a retransmitted one.
    private mutating func sampleRTT(now: Instant, acknowledged ack: SequenceNumber) -> TimeSpan? {
        guard rttProbeActive, ack > rttProbeSequence else { return nil }
        rttProbeActive = false
        return now.since(rttProbeSentAt)
    }

    /// RFC 5681 §3.2: the third duplicate ACK starts fast retransmit and recovery.
    mutating func duplicateAcknowledgment<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        duplicateAcknowledgments += 1
        let sack = selectiveAcknowledgmentsEnabled
        if inFastRecovery {
            if sack {
                resendLostHeadRetransmission(now: now, &environment)
                resendLostHoleRetransmissions(now: now, &environment)
                retransmitHoles(now: now, &environment)
                rearmHeadProbe(now: now)
            } else {
                congestion.onDuplicateAckInRecovery()
            }
            if unsentBytes > 0 { queueData(shortFlowThreshold: environment.tcpConfiguration.shortFlowThreshold) }
            return
        }
        // Loss of SND.UNA: three duplicate ACKs, or (RFC 6675 IsLost) more than
        // two segments SACKed above it.
        let lost = duplicateAcknowledgments >= 3 || (sack && scoreboard.sackedBytes > 2 * sendMSS)
        guard lost, mayStartFastRecovery else {
            if limitedTransmitAllowance > 0 && unsentBytes > 0 {
                queueData(shortFlowThreshold: environment.tcpConfiguration.shortFlowThreshold)
            }
            if sack && !scoreboard.isEmpty && mayStartFastRecovery { armReorderWindow(now: now) }
            return
        }
        startFastRecovery(now: now, &environment)
    }

    /// Fast retransmit: the segment at SND.UNA is lost (duplicate ACKs, SACKs, or
    /// RACK's reordering window).
    mutating func startFastRecovery<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        if lossDetection.probeEnd != nil { lossDetection.recoveryDuringProbe = true }
        // A probe of new data still queued is not sent as one: recovery sends its own.
        lossDetection.newDataProbeQueued = false
        // FlightSize (RFC 5681 eq. (4)), but never above what cwnd and limited
        // transmit let out: after a timeout the data sent before it is still
        // outstanding while cwnd restarted from one segment, and halving that
        // flight would open the window in recovery.
        let flightSize = min(bytesInFlight, congestion.cwnd + limitedTransmitAllowance)
        recovery = .fast(recover: sendMaximum)
        highestRetransmitted = sendUnacknowledged
        rescueRetransmitted = false
        lossDetection.headProbedAt = nil
        lossDetection.headResentAt = nil
        lossDetection.resentHoles.clear()
        // BBR conserves what is in the network now (SACKed and lost bytes are not).
        congestion.onDuplicateAcksEnterRecovery(flightSize: congestion.isModelBased ? pipe : flightSize, now: now,
                                                sack: !scoreboard.isEmpty, delivered: deliveryRate.delivered)
        environment.connectionStatistics.fastRetransmits &+= 1
        lossDetection.holeResentAt = nil
        if !scoreboard.isEmpty {
            retransmitHoles(now: now, forcingFirst: true, &environment)
        } else {
            retransmitOldest(now: now, &environment)
        }
        // What pipe leaves of cwnd goes to new data now (RFC 6675 §5 (C)): it
        // keeps ACKs coming, which alone can show the retransmission lost.
        if unsentBytes > 0 { queueData(shortFlowThreshold: environment.tcpConfiguration.shortFlowThreshold) }
    }

    /// Limited transmit (RFC 3042, RFC 6675 §5 step 1): the first two duplicate
    /// ACKs each let one new segment out beyond cwnd. They keep the ACK clock going
    /// when too little is in flight for three duplicates, which would otherwise
    /// leave the loss to the RTO.
    @inline(__always) var limitedTransmitAllowance: Int {
        guard case .none = recovery else { return 0 }
        return min(duplicateAcknowledgments, 2) * sendMSS
    }

    /// Data sent again after a timeout (SND.NXT below SND.MAX) skips what the
    /// peer SACKed (RFC 6675 §5.1 keeps SACKed data from being resent): moves
    /// SND.NXT past a SACKed range it stands in, and returns how many bytes may
    /// follow before the next one.
    @inline(__always)
    mutating func skipSACKedData() -> Int {
        guard sendNext < sendMaximum, let highest = scoreboard.highestSacked, sendNext < highest else { return .max }
        guard let hole = scoreboard.hole(from: sendNext) else {
            sendNext = highest
            if remainingBytes == 0 { backlogOrder = 0 }
            return .max
        }
        sendNext = hole.start
        return hole.length
    }

    /// RFC 6582 §3.2 step 2: no new recovery while one runs, nor for data the timer
    /// already resent (a receiver that held it repeats its ACK for every copy) —
    /// unless §4.2's ACK heuristic says the duplicates are for data lost after the
    /// timeout: cwnd above one SMSS and the last new ACK advanced at most 4 SMSS
    /// (a receiver that already held the resent data jumps further).
    var mayStartFastRecovery: Bool {
        switch recovery {
        case .none: true
        case .fast: false
        case .afterTimeout: congestion.cwnd > sendMSS && lastAckAdvance <= 4 * sendMSS
        }
    }

    /// Resends one segment from SND.UNA (timeout, fast retransmit, partial ACK)
    /// and restarts the retransmission timer. Returns the sequence space it
    /// covers (data, plus one for a FIN), 0 when the transmit path had no room
    /// (after a timeout the data list then resends it from SND.UNA).
    @discardableResult
    mutating func retransmitOldest<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) -> Int {
        let start = sendUnacknowledged
        let offset = start - sendBufferStart
        // Bytes already sent were inside the window when they left; beyond them the
        // peer's current window still bounds the segment (RFC 9293 §3.8.6).
        let sent = max(0, sendMaximum - start)
        let hole = scoreboard.hole(from: start)?.length ?? .max
        let length = min(retransmissionLength(hole: hole), send.count - offset, max(sent, sendWindow))
        let withFIN = finSent && start + length == finSequence
        rttProbeActive = false
        guard length > 0 || withFIN else {
            armRetransmission(now: now)
            return 0
        }
        var flags: TCPFlags = .ack
        if withFIN { flags.insert(.fin) }
        // Refused, the timer running goes on (a fast retransmission) or the data
        // list resends it (a timeout, whose timer is off now and is armed by that send).
        guard transmitSegment(flags: flags, sequence: start, dataLength: max(length, 0), now: now, &environment)
        else { return 0 }
        armRetransmission(now: now)
        environment.connectionStatistics.retransmittedSegments &+= 1
        let covered = max(length, 0) + (withFIN ? 1 : 0)
        // A full segment from SND.UNA may reach past what was ever sent.
        if sendMaximum < start + covered { sendMaximum = start + covered }
        return covered
    }

    /// RFC 6675 §4 NextSeg (4), the rescue retransmission: no hole is left to
    /// resend and no new data to send, but data above the highest SACKed and
    /// resent bytes is outstanding; its last segment goes once per recovery, so
    /// that a loss at the tail of the window does not wait for the RTO.
    private var rescueRetransmissionDue: Bool {
        mutating get {
            guard !rescueRetransmitted, unsentBytes == 0 else { return false }
            let highData = finSent ? finSequence + 1 : sendMaximum
            return highData > max(highestRetransmitted, scoreboard.highestSacked ?? sendUnacknowledged)
        }
    }

    /// Resends the last segment sent (with the FIN if it carried one), for a tail
    /// loss probe or a rescue retransmission; HighRxt is left alone. Never from
    /// below the highest SACKed byte: after a short last segment, a full one
    /// ending at SND.MAX would resend SACKed data (RFC 6675 §4 NextSeg (4) asks
    /// for a segment holding the highest unSACKed byte).
    mutating func retransmitLastSegment<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) -> Bool {
        let end = finSent ? finSequence : sendMaximum
        var start = max(sendUnacknowledged, sendBufferStart)
        if let highest = scoreboard.highestSacked, highest > start { start = highest }
        let length = max(0, min(payloadLimit, end - start))
        var flags: TCPFlags = .ack
        if finSent { flags.insert(.fin) }
        guard transmitSegment(flags: flags, sequence: end - length, dataLength: length, now: now, &environment)
        else { return false }
        environment.connectionStatistics.retransmittedSegments &+= 1
        rttProbeActive = false
        return true
    }

    /// SACK-based recovery (RFC 6675 §5, simplified): while the estimated data
    /// in the network ("pipe") leaves room in the congestion window, resend the
    /// next hole above the highest byte retransmitted so far.
    /// - Parameter forcingFirst: the recovery starts here, and its first
    ///   retransmission goes whatever pipe says (RFC 6675 §5 (4.3), RFC 5681 §3.2
    ///   step 3): pipe is only an estimate, and the lost segment holds up the rest.
    mutating func retransmitHoles<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, forcingFirst: Bool = false, _ environment: inout Environment) {
        var sentAny = false
        var resentHeadEnd: SequenceNumber? = nil
        while (forcingFirst && !sentAny) || pipe < congestion.cwnd {
            guard let hole = scoreboard.hole(from: max(highestRetransmitted, sendUnacknowledged)) else {
                if rescueRetransmissionDue && retransmitLastSegment(now: now, &environment) {
                    rescueRetransmitted = true
                    sentAny = true
                }
                break
            }
            // After a timeout SND.NXT is below SND.MAX and pipe counts nothing
            // above it: holes there are the send path's (which pipe and cwnd
            // bound, and which moves SND.NXT past what it sends), not ours.
            guard hole.start < sendNext else { break }
            let offset = hole.start - sendBufferStart
            let length = min(retransmissionLength(hole: hole.length), send.count - offset, sendNext - hole.start)
            guard length > 0,
                  transmitSegment(flags: .ack, sequence: hole.start, dataLength: length, now: now, &environment)
            else { break }
            environment.connectionStatistics.retransmittedSegments &+= 1
            if hole.start == sendUnacknowledged {
                resentHeadEnd = hole.start + length
            } else {
                lossDetection.resentHoles.append(start: hole.start, end: hole.start + length,
                                                 sendMaximum: sendMaximum, now: now)
            }
            highestRetransmitted = hole.start + length
            rttProbeActive = false
            sentAny = true
        }
        if sentAny {
            lossDetection.holeResentAt = now
            lossDetection.holeResentBelow = sendMaximum
        }
        // The timer restarts for a new ACK (RFC 6298 §5.3) and, as Linux does, for
        // a resent SND.UNA; a later hole's retransmission must not postpone the
        // timeout of a lost retransmission of SND.UNA.
        if let resentHeadEnd { noteHeadRetransmission(now: now, end: resentHeadEnd) }
        if resentHeadEnd != nil || (sentAny && deadlines[.retransmission] == nil) { armRetransmission(now: now) }
    }
}
