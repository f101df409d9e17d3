/// RACK-TLP (RFC 8985) for SACK connections, on the retransmission timer as
/// Linux runs it: the one deadline times either the RTO, a tail loss probe or
/// RACK's reordering window, and `lossDetection.timer` says which.
///
/// Simplifications, on purpose:
/// - RACK's time rule is taken from the ACK that first SACKs data above SND.UNA:
///   data is first sent in sequence order, so the segment at SND.UNA left before
///   the SACKed one, and RFC 8985 §6.2's condition (sent before a delivered
///   segment, and RACK.rtt + reo_wnd ago) holds at the latest one reordering
///   window after that ACK. No per-segment send times are kept for new data;
///   retransmissions are timed: that of SND.UNA (RACK's rule for it: data sent
///   after it — new data, or a hole resent later, holes being resent in
///   sequence order — was SACKed, and SRTT + reo_wnd have passed, by the
///   reordering timer if no ACK comes then), and those of the holes above it
///   in `RetransmissionLog` (the same rule, per hole). A delivery of a resent
///   hole is taken to be its retransmission's: a late original counts too
///   (§6.2 step 2 would tell them apart by timestamps), and the D-SACK the
///   needless resend then draws widens reo_wnd.
/// - reo_wnd is SRTT/4 (§6.2 uses the minimum RTT/4; no minimum is tracked).
/// - One addition in fast recovery (§7.2 schedules no probe there): when the
///   retransmissions in flight are all lost and nothing sent after them is
///   left to be SACKed, no ACK comes to show them lost, and the RTO (200 ms at
///   least) would be all that repairs them. A bounded sender hits this whenever
///   its send buffer is full of SACKed data above the holes (and an echo's
///   application, unable to write, stops reading, so the peer stops sending
///   too). After a PTO without any ACK (2 SRTT + 2 ms: a receiver ACKs a
///   segment that fills a hole at once, RFC 5681 §4.2) the segment at SND.UNA
///   is resent, once per SND.UNA; its ACK restarts RACK on what is still
///   missing, and the RTO still guards it.
/// - With one segment in flight the PTO adds §7.2's worst-case delayed-ACK time
///   (200 ms); with the 200-ms minimum RTO that comes before the RTO only when
///   RTTVAR is large, so a lone lost segment is as a rule left to the RTO
///   (§7.2 caps the PTO there) rather than probed while the peer may still be
///   delaying its ACK. Not when the flight ends with our FIN after
///   unacknowledged data, in one segment or in two that together fit one (a
///   response, then the server's close): a bet, not the RFC, that the peer's
///   application, reading the response, sees its end and closes at once, its
///   FIN carrying the ACK. A receiver owes "an acknowledgment for the FIN"
///   (RFC 9293 §3.10.7.4) but may delay it as any other (Linux does in
///   ESTABLISHED). The lost tail of a flow the server closes is then probed
///   after 2 SRTT + 10 ms (`closingPeerAllowance`) rather than resent after
///   the RTO; a peer that delays after all costs one needless copy of that
///   segment per connection (`probeEnd` allows no second probe), counted as a
///   probe (its D-SACK shows it needless). A FIN with no data outstanding
///   before it (an idle connection closed, or the data acknowledged first)
///   keeps the allowance: nothing makes its peer answer soon.
struct LossDetection {
    /// What the retransmission deadline is timing.
    enum Timer { case timeout, lossProbe, reorderWindow, headProbe }

    /// WCDelAckT (RFC 8985 §7.2): a probe for a lone segment waits this much more.
    static let delayedAckAllowance = TimeSpan.milliseconds(200)
    /// What a probe for a lone segment ending with our FIN after data waits
    /// instead (see the type's notes): time for the peer's application to read
    /// and close. With the 2-ms floor, about 1 short flow in 3,000 drew a
    /// needless probe over memif (SRTT rounds to 0 there, and a loaded client
    /// answered later than that); 10 ms is a judgment above it.
    static let closingPeerAllowance = TimeSpan.milliseconds(10)
    /// Added to 2 SRTT with more in flight (Linux: TCP_TIMEOUT_MIN): timestamps
    /// measure whole milliseconds, so on a sub-millisecond path SRTT reaches 0.
    static let probeFloor = TimeSpan.milliseconds(2)

    var timer = Timer.timeout
    /// When the RTO expires. A probe or a reordering window takes the deadline
    /// before it, but new data sent meanwhile does not postpone it (RFC 6298
    /// §5.1: the timer restarts only for an ACK of new data).
    var timeoutAt = Instant.zero
    /// The sequence number after the outstanding probe (TLP.end_seq): no second
    /// probe until an ACK covers it or a timeout ends the episode.
    var probeEnd: SequenceNumber? = nil
    var probeWasRetransmission = false
    /// A probe of new data waits on the data list: the next new segment it
    /// sends is the probe, and may go beyond cwnd by that one segment.
    var newDataProbeQueued = false
    /// Fast recovery started while the probe was outstanding: the probe's ACK
    /// revealed the loss.
    var recoveryDuringProbe = false
    /// TSval of the first retransmission of a timeout episode (a repeated
    /// timeout before any ACK keeps it): an ACK echoing an older one
    /// acknowledges the original transmission, and the timeout was spurious
    /// (the Eifel detection of RFC 3522).
    var timeoutTimestamp: UInt32? = nil
    /// The newest echo of an ACK of new data, first our TSval at open: an echo
    /// of the original transmission of SND.UNA is no older, so an older one is
    /// not taken as proof that a timeout was spurious.
    var echoFloor: UInt32 = 0
    /// When SND.UNA was last resent in this recovery, and SND.MAX then: a SACK
    /// above that SND.MAX is for data sent after the retransmission.
    var headResentAt: Instant? = nil
    var headResentBelow = SequenceNumber(0)
    /// Holes resent from here up to HighRxt left after SND.UNA's retransmission.
    var headResentAbove = SequenceNumber(0)
    /// An ACK SACKed one of those since: a transmission that followed SND.UNA's
    /// was delivered (RFC 8985 §6.2 compares send times; holes are resent in
    /// order, so their sequence numbers stand in for the times).
    var deliveredAfterHeadResent = false
    /// When a hole was last resent in this recovery, and SND.MAX then: once a
    /// partial ACK makes an already resent hole SND.UNA, its retransmission left
    /// at the latest then (RACK needs no more than that bound, RFC 8985 §6.2).
    var holeResentAt: Instant? = nil
    var holeResentBelow = SequenceNumber(0)
    /// SND.UNA when its retransmission was last probed in fast recovery: one
    /// probe per hole at the head, then the RTO.
    var headProbedAt: SequenceNumber? = nil
    /// RACK's reo_wnd in steps of SRTT/4 (RFC 8985 §6.2 step 4's
    /// reo_wnd_mult), raised by D-SACKs, back to one after sixteen recoveries
    /// without one (`reorderWindowPersist`).
    var reorderWindowSteps = 1
    var reorderWindowPersist = 0
    var reorderWindowWidenedAt: Instant? = nil
    /// The holes above SND.UNA resent in this fast recovery, timed: its count
    /// beside the scalars above, its records after them.
    var resentHoles = RetransmissionLog()
    /// The congestion window (and CUBIC's state) before a timeout that did not
    /// interrupt fast recovery: restored if the timeout proves spurious (the
    /// Eifel response of RFC 4015, RFC 9438 §4.9 for CUBIC). After the records:
    /// 176 bytes that only a timeout touches, kept off the lines every ACK does.
    var congestionBeforeTimeout: CongestionControl? = nil

    /// Where the retransmission records lie in the struct, in bytes.
    static var inlineArrayBytes: Range<Int> {
        MemoryLayout<Self>.bytes(RetransmissionLog.inlineArrayBytes, within: \Self.resentHoles)
    }

    /// A D-SACK: a step wider, at most once per round trip (at least 1 ms: a
    /// burst of reports for one reordering is one step).
    mutating func widenReorderWindow(now: Instant, srtt: TimeSpan?) {
        if let widened = reorderWindowWidenedAt, now.since(widened) < max(srtt ?? .zero, .milliseconds(1)) { return }
        reorderWindowWidenedAt = now
        reorderWindowSteps = min(reorderWindowSteps + 1, Self.maximumReorderWindowSteps)
        reorderWindowPersist = 16
    }

    /// A recovery ended: the widening wears off after sixteen without a D-SACK.
    mutating func recoveryEnded() {
        guard reorderWindowPersist > 0 else { return }
        reorderWindowPersist -= 1
        if reorderWindowPersist == 0 { reorderWindowSteps = 1 }
    }

    /// reo_wnd never exceeds SRTT (§6.2): four steps of SRTT/4.
    static let maximumReorderWindowSteps = 4
}

extension TCPConnection {
    /// Arms the retransmission deadline: a tail loss probe when RFC 8985 §7.2
    /// allows one and it comes before the RTO, else the RTO.
    @inline(__always)
    mutating func armRetransmission(now: Instant) {
        lossDetection.timeoutAt = now + rtt.rto
        armLossProbeBeforeTimeout(now: now)
    }

    /// Points the retransmission deadline at a PTO from now when a probe is
    /// allowed and due before the RTO expiry (RFC 8985 §7.2), else at that
    /// expiry, which stays where it was (for an ACK, new data sent, the end of a
    /// reordering window).
    @inline(__always)
    mutating func armLossProbeBeforeTimeout(now: Instant) {
        if let probe = headProbeTimeout, now + probe < lossDetection.timeoutAt {
            lossDetection.timer = .headProbe
            setDeadline(.retransmission, now + probe)
        } else if let probe = probeTimeout, now + probe < lossDetection.timeoutAt {
            lossDetection.timer = .lossProbe
            setDeadline(.retransmission, now + probe)
        } else {
            lossDetection.timer = .timeout
            setDeadline(.retransmission, lossDetection.timeoutAt)
        }
    }

    /// New data left (RFC 8985 §7.2: the PTO restarts after new data is sent).
    /// The ACK that clocked it out set the deadline before it left, often with
    /// one segment in flight, whose PTO (with the delayed-ACK allowance) lies
    /// past the RTO: without this the segments it let out had only the RTO.
    /// A reordering window keeps the deadline: it is due sooner.
    @inline(__always)
    mutating func restartLossProbeAfterNewData(now: Instant) {
        guard lossDetection.timer == .lossProbe || (lossDetection.timer == .timeout && probeTimeout != nil)
        else { return }
        armLossProbeBeforeTimeout(now: now)
    }

    /// PTO (RFC 8985 §7.2): 2 SRTT, plus the delayed-ACK allowance when a single
    /// segment is in flight (a shorter one when the flight ends with our FIN
    /// after data, see the type's notes), else a floor; nil when no probe may be scheduled
    /// (no SACK, a recovery or a probe under way, SACKed data outstanding —
    /// RACK's reordering window covers that, and Linux probes only then —, no
    /// RTT sample yet, nothing in flight).
    @inline(__always)
    private var probeTimeout: TimeSpan? {
        guard selectiveAcknowledgmentsEnabled, state.isSynchronized, case .none = recovery, scoreboard.isEmpty,
              lossDetection.probeEnd == nil, bytesInFlight > 0, let srtt = rtt.smoothedRTT else { return nil }
        let probe = srtt * 2
        guard bytesInFlight <= payloadLimit else { return probe + LossDetection.probeFloor }
        return probe + (finEndsDataInFlight ? LossDetection.closingPeerAllowance : LossDetection.delayedAckAllowance)
    }

    /// Our FIN is in flight (SND.NXT past it, not only SND.MAX) with data
    /// before it: the end of a response whose peer is reading it.
    @inline(__always)
    private var finEndsDataInFlight: Bool { finQueued && sendNext > finSequence && bytesInFlight > 1 }

    /// A duplicate ACK in fast recovery: the head probe's PTO counts from the
    /// last ACK (it may have just SACKed the last segment but SND.UNA's
    /// retransmission); a reordering window keeps its deadline.
    @inline(__always)
    mutating func rearmHeadProbe(now: Instant) {
        guard lossDetection.timer == .timeout || lossDetection.timer == .headProbe else { return }
        armLossProbeBeforeTimeout(now: now)
    }

    /// The head probe's PTO (see the type's notes): in fast recovery, with
    /// SND.UNA resent and not yet probed. Every ACK pushes it back, so it only
    /// comes when the ACKs stop.
    @inline(__always)
    private var headProbeTimeout: TimeSpan? {
        guard inFastRecovery, lossDetection.headResentAt != nil, lossDetection.headProbedAt != sendUnacknowledged,
              let srtt = rtt.smoothedRTT else { return nil }
        return srtt * 2 + LossDetection.probeFloor
    }

    /// The retransmission deadline passed while it timed a probe or a reordering
    /// window. Returns false when it timed the RTO, which the caller then runs.
    mutating func lossDetectionTimerExpired<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) -> Bool {
        let timer = lossDetection.timer
        lossDetection.timer = .timeout
        switch timer {
        case .timeout:
            return false
        case .lossProbe:
            sendLossProbe(now: now, &environment)
        case .headProbe:
            probeHeadRetransmission(now: now, &environment)
            // A reordering window it kept from the deadline is timed again here.
            resendLostHoleRetransmissions(now: now, &environment)
        case .reorderWindow:
            // RFC 8985 §6.3: the reordering window passed with the hole still open
            // (or, in recovery, with a retransmission of SND.UNA not delivered).
            if inFastRecovery {
                resendLostHeadRetransmission(now: now, &environment)
                resendLostHoleRetransmissions(now: now, &environment)
            } else if !scoreboard.isEmpty && mayStartFastRecovery {
                environment.connectionStatistics.rackMarkedLost &+= 1
                startFastRecovery(now: now, &environment)
            }
        }
        if bytesInFlight > 0 && deadlines[.retransmission] == nil { armLossProbeBeforeTimeout(now: now) }
        return true
    }

    /// A duplicate ACK SACKed data above a hole that is not yet taken as lost:
    /// RACK marks it lost once a reordering window has passed (RFC 8985 §6.2).
    mutating func armReorderWindow(now: Instant) {
        guard lossDetection.timer != .reorderWindow, let srtt = rtt.smoothedRTT else { return }
        lossDetection.timer = .reorderWindow
        setDeadline(.retransmission, now + reorderWindow(srtt))
    }

    /// RACK's rule for a lost retransmission (RFC 8985 §6.2), for that of
    /// SND.UNA: data sent after it has been SACKed and SRTT plus the reordering
    /// window have passed since it left, so it is resent once more.
    mutating func resendLostHeadRetransmission<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        guard let resentAt = lossDetection.headResentAt, let highest = scoreboard.highestSacked,
              highest > lossDetection.headResentBelow || lossDetection.deliveredAfterHeadResent,
              let srtt = rtt.smoothedRTT,
              let hole = scoreboard.hole(from: sendUnacknowledged), hole.start == sendUnacknowledged else { return }
        let due = resentAt + srtt + reorderWindow(srtt)
        guard now >= due else {
            // §6.3: the reordering timer, not a later ACK that may never come
            // (everything after the retransmission may be SACKed already).
            return armReorderTimer(at: due)
        }
        guard resendHead(upTo: hole.length, now: now, &environment) else { return }
        environment.connectionStatistics.rackMarkedLost &+= 1
        armRetransmission(now: now)
    }

    /// RACK's rule (RFC 8985 §6.2) for the holes resent above SND.UNA in this
    /// recovery: one is lost once a transmission that left after it was
    /// delivered (data sent after it SACKed, or a later retransmission
    /// delivered) and SRTT plus the reordering window have passed since it
    /// left; what of it is still unSACKed is resent then, and timed anew. One
    /// overtaken but not yet due arms the reordering timer. SND.UNA's
    /// retransmission keeps its own timing (`resendLostHeadRetransmission`).
    mutating func resendLostHoleRetransmissions<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        guard inFastRecovery, !lossDetection.resentHoles.isEmpty, let highest = scoreboard.highestSacked else { return }
        // The delivered ones first: each shows the older ones overtaken.
        var index = 0
        while index < lossDetection.resentHoles.count {
            let record = lossDetection.resentHoles[index]
            let unacknowledgedStart = max(record.start, sendUnacknowledged)
            let delivered = record.end <= sendUnacknowledged
                || (record.end <= highest && scoreboard.unsackedBytes(from: unacknowledgedStart, below: record.end) == 0)
            if delivered { lossDetection.resentHoles.delivered(at: index) } else { index += 1 }
        }
        guard let srtt = rtt.smoothedRTT else { return }
        let wait = srtt + reorderWindow(srtt)
        var nextDue: Instant? = nil
        var resent = 0
        for index in 0..<lossDetection.resentHoles.count {
            var record = lossDetection.resentHoles[index]
            let overtaken = highest > record.sendMaximum || lossDetection.resentHoles.overtook(record)
            guard record.start > sendUnacknowledged, overtaken, let hole = scoreboard.hole(from: record.start),
                  hole.start < record.end else { continue }
            let due = record.sentAt + wait
            guard now >= due else {
                nextDue = min(nextDue ?? due, due)
                continue
            }
            // Lost copies leave the network, so their resends are not held to
            // cwnd as new holes are; but no more of them per ACK than cwnd has
            // segments, whatever tiny holes a receiver reports.
            guard resent == 0 || resent < congestion.cwnd / sendMSS else { break }
            let length = min(retransmissionLength(hole: min(hole.length, record.end - hole.start)),
                             send.count - (hole.start - sendBufferStart))
            guard length > 0, transmitSegment(flags: .ack, sequence: hole.start, dataLength: length, now: now,
                                              &environment) else { break }
            environment.connectionStatistics.retransmittedSegments &+= 1
            environment.connectionStatistics.rackMarkedLost &+= 1
            rttProbeActive = false
            resent += 1
            record.sentAt = now
            record.sendMaximum = sendMaximum
            lossDetection.resentHoles[index] = record
        }
        if resent > 0 {
            // The bound the head takes when a hole without a record becomes SND.UNA.
            lossDetection.holeResentAt = now
            lossDetection.holeResentBelow = sendMaximum
        }
        if let nextDue { armReorderTimer(at: nextDue) }
    }

    /// Points the retransmission deadline at the end of a reordering window,
    /// unless the RTO comes first or an earlier window or head probe is already
    /// timed (both run the reordering checks when they fire).
    @inline(__always)
    private mutating func armReorderTimer(at due: Instant) {
        guard due < lossDetection.timeoutAt else { return }
        if lossDetection.timer == .reorderWindow || lossDetection.timer == .headProbe,
           let current = deadlines[.retransmission], current <= due { return }
        lossDetection.timer = .reorderWindow
        setDeadline(.retransmission, due)
    }

    /// A PTO passed in fast recovery without an ACK: SND.UNA is sent once more
    /// (up to the SACKed range above it, or a segment when none is left).
    private mutating func probeHeadRetransmission<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        guard inFastRecovery else { return }
        lossDetection.headProbedAt = sendUnacknowledged
        let room = scoreboard.hole(from: sendUnacknowledged)?.length ?? (sendMaximum - sendUnacknowledged)
        guard resendHead(upTo: room, now: now, &environment) else { return }
        environment.connectionStatistics.tlpProbes &+= 1
        armLossProbeBeforeTimeout(now: now)
    }

    /// Resends up to `limit` bytes from SND.UNA as the head's retransmission
    /// of this recovery. False when nothing could be sent.
    private mutating func resendHead<Environment: TCPConnectionEnvironment & ~Copyable>(
        upTo limit: Int, now: Instant, _ environment: inout Environment) -> Bool {
        let start = sendUnacknowledged
        let length = min(retransmissionLength(hole: limit), send.count - (start - sendBufferStart))
        guard length > 0, transmitSegment(flags: .ack, sequence: start, dataLength: length, now: now, &environment)
        else { return false }
        environment.connectionStatistics.retransmittedSegments &+= 1
        // Holes resent before this copy left before it too.
        noteHeadRetransmission(now: now, end: max(highestRetransmitted, start + length))
        return true
    }

    @inline(__always)
    mutating func noteHeadRetransmission(now: Instant, end: SequenceNumber) {
        lossDetection.headResentAt = now
        lossDetection.headResentBelow = sendMaximum
        lossDetection.headResentAbove = end
        lossDetection.deliveredAfterHeadResent = false
    }

    /// SACKed bytes among the holes resent after SND.UNA's retransmission:
    /// taken before and after an ACK's blocks are recorded, a rise is a
    /// delivery of one of them.
    @inline(__always)
    var sackedAfterHeadResent: Int {
        mutating get {
            guard lossDetection.headResentAt != nil, lossDetection.headResentAbove < highestRetransmitted else { return 0 }
            return scoreboard.sackedBytes(below: highestRetransmitted)
                - scoreboard.sackedBytes(below: lossDetection.headResentAbove)
        }
    }

    /// RACK's reo_wnd: SRTT/4 per step (one, unless D-SACKs showed reordering),
    /// at least 1 ms.
    @inline(__always)
    private func reorderWindow(_ srtt: TimeSpan) -> TimeSpan {
        max(TimeSpan(nanoseconds: srtt.nanoseconds / 4 * UInt64(lossDetection.reorderWindowSteps)),
            .milliseconds(1))
    }

    /// The tail loss probe (RFC 8985 §7.3): one new segment if the peer's window
    /// takes it, else the last segment sent again. Its ACK (or SACK) shows a tail
    /// loss to fast recovery a round trip later instead of an RTO later.
    ///
    /// New data goes the way all new data goes, on the data list: in the order
    /// `data_scheduling` gives it and as the line's credit allows, charged to the
    /// flow's turn (the list is flushed after the timers in the same iteration,
    /// so on an idle line it leaves at once). `sendData` makes its first new
    /// segment the probe (`newDataProbeSent`); the RTO guards meanwhile.
    private mutating func sendLossProbe<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        guard bytesInFlight > 0, case .none = recovery else { return }
        let newData = min(payloadLimit, unsentBytes)
        if sendNext == sendMaximum && newData > 0 && sendWindow - bytesInFlight >= newData {
            lossDetection.newDataProbeQueued = true
            lossDetection.timer = .timeout
            setDeadline(.retransmission, max(lossDetection.timeoutAt, now))
            queueData(shortFlowThreshold: environment.tcpConfiguration.shortFlowThreshold)
            return
        }
        guard retransmitLastSegment(now: now, &environment) else { return }
        lossDetection.probeWasRetransmission = true
        probeSent(now: now, &environment)
    }

    /// The room a queued probe of new data has beyond `sendRoom`: one segment the
    /// peer's window takes, whatever cwnd says (RFC 8985 §7.3).
    @inline(__always)
    var newDataProbeRoom: Int {
        guard lossDetection.newDataProbeQueued, sendNext == sendMaximum, case .none = recovery else { return 0 }
        return min(payloadLimit, sendWindow - bytesInFlight)
    }

    /// The data list sent the queued probe of new data.
    mutating func newDataProbeSent<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        lossDetection.newDataProbeQueued = false
        lossDetection.probeWasRetransmission = false
        probeSent(now: now, &environment)
    }

    private mutating func probeSent<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        environment.connectionStatistics.tlpProbes &+= 1
        lossDetection.probeEnd = sendMaximum
        // §7.3: after the probe the RTO guards what is still outstanding.
        armRetransmission(now: now)
    }

    /// An ACK of new data: ends a probe's episode once it covers the probe
    /// (RFC 8985 §7.4.2). A probe of new data ends it at once; one whose
    /// episode saw fast recovery repaired the loss through that. A probe that
    /// resent the tail ends it only with an ACK beyond its end: the ACK of the
    /// probe itself may be followed by a D-SACK of the other copy, which shows
    /// the probe needless (`lossProbeShownNeedless`). Beyond it, with no such
    /// report, the probe repaired a loss, and the window is reduced as fast
    /// recovery would have, from cwnd: the flight at a probe is the tail of a
    /// burst, often one segment, and would leave 2 MSS.
    mutating func lossProbeAcknowledged<Environment: TCPConnectionEnvironment & ~Copyable>(
        upTo ack: SequenceNumber, now: Instant, _ environment: inout Environment) {
        // An ACK came before a queued probe of new data left: no probe is needed.
        lossDetection.newDataProbeQueued = false
        guard let end = lossDetection.probeEnd, ack >= end else { return }
        let repairedByProbe = lossDetection.probeWasRetransmission && !lossDetection.recoveryDuringProbe
        if repairedByProbe && ack == end { return }
        lossDetection.probeEnd = nil
        if repairedByProbe || lossDetection.recoveryDuringProbe {
            environment.connectionStatistics.tlpRecoveries &+= 1
        }
        lossDetection.recoveryDuringProbe = false
        if repairedByProbe, case .none = recovery {
            congestion.onDuplicateAcksEnterRecovery(flightSize: congestion.cwnd, now: now, sack: true,
                                                    delivered: deliveryRate.delivered)
            congestion.onRecoveryExit(flightSize: congestion.ssthresh)
        }
    }

    /// An ACK during the episode of a probe that resent the tail, showing both
    /// copies arrived (RFC 8985 §7.4.2): a D-SACK reaching the probe's end, or,
    /// from a receiver without D-SACK, a bare duplicate ACK at that end. The
    /// episode ends with no recovery counted and the window left alone.
    mutating func lossProbeShownNeedless(_ segment: IncomingSegment, reportsDuplicate: Bool,
                                         unacknowledged: SequenceNumber, windowUnchanged: Bool) {
        guard let end = lossDetection.probeEnd, lossDetection.probeWasRetransmission else { return }
        let ack = segment.acknowledgment
        let blocks = segment.options.sackBlocks
        let needless: Bool
        if reportsDuplicate, let report = blocks.first {
            // Ending where the probe ended (a copy of a probe that carried our
            // FIN may be reported with or without it), as Linux matches it.
            let right = SequenceNumber(report.right)
            let endsWithProbe = right == end || (finSent && end == finSequence + 1 && right == finSequence)
            needless = endsWithProbe && SequenceNumber(report.left) < end
        } else {
            needless = ack == end && ack == unacknowledged && blocks.isEmpty && segment.payload.isEmpty
                && !segment.flags.contains(.fin) && windowUnchanged
        }
        guard needless else { return }
        lossDetection.probeEnd = nil
        lossDetection.recoveryDuringProbe = false
    }

    /// The first ACK of new data after a timeout: if it echoes a timestamp older
    /// than the timeout's retransmission (and no older than the echoes before
    /// it, so it is one of ours for this data), the original transmission
    /// arrived and the timeout was spurious (RFC 3522). The Eifel response
    /// (RFC 4015 §4) follows where the window was saved: cwnd, ssthresh and
    /// CUBIC's state come back as they were before the timeout, the recovery
    /// the timeout entered ends, and sending resumes with new data from SND.MAX
    /// instead of resending what the original transmissions carry. The RTO
    /// backoff ends with this ACK's RTT sample (`acknowledge`), which measures
    /// the original transmission and so lengthens the RTO for the delay.
    mutating func checkSpuriousTimeout<Environment: TCPConnectionEnvironment & ~Copyable>(
        _ segment: IncomingSegment, _ environment: inout Environment) {
        guard let resent = lossDetection.timeoutTimestamp else { return }
        lossDetection.timeoutTimestamp = nil
        let before = lossDetection.congestionBeforeTimeout
        lossDetection.congestionBeforeTimeout = nil
        guard case .afterTimeout = recovery, let echo = segment.options.timestamp?.echoReply, echo != 0,
              Int32(bitPattern: echo &- resent) < 0, Int32(bitPattern: echo &- lossDetection.echoFloor) >= 0
        else { return }
        environment.connectionStatistics.spuriousTimeouts &+= 1
        guard let before else { return }
        environment.connectionStatistics.spuriousTimeoutsUndone &+= 1
        congestion = before
        recovery = .none
        sendNext = sendMaximum
    }
}
