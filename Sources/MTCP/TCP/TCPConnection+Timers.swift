/// A connection's timers: their deadlines and what happens when one expires —
/// retransmission (RFC 6298) with TIME-WAIT sharing its deadline, persist,
/// delayed ACK, and the idle timeout with keep-alive.
extension TCPConnection {
    /// Sets or stops a timer and tells the engine its wheel must follow.
    @inline(__always)
    mutating func setDeadline(_ timer: TCPTimer, _ deadline: Instant?) {
        // Unchanged: the wheel holds it already (a timer's deadline is cleared
        // before it runs), and a reschedule per segment sent would be work for nothing.
        guard deadlines[timer] != deadline else { return }
        deadlines[timer] = deadline
        requests.insert(.timer(timer))
    }

    /// Persist timer (RFC 9293 §3.8.6.1): the peer's window is zero (or too small
    /// to use) and nothing is in flight, so only a probe (or a runt) can learn when
    /// it opens. The interval is the RTO doubled per expiry, up to the RTO's bound.
    mutating func armPersist(now: Instant) {
        guard deadlines[.persist] == nil else { return }
        let interval = min(rtt.rto * (UInt64(1) << UInt64(min(persistBackoff, 16))), rtt.maximum)
        setDeadline(.persist, now + interval)
    }

    /// The idle deadline is the first of: the idle timeout, the next keep-alive
    /// probe. With neither configured it stays off.
    mutating func armIdleTimer(_ configuration: TCPConfiguration, now: Instant) {
        var deadline: Instant? = configuration.idleTimeout.map { lastActivity + $0 }
        if let keepAlive = configuration.keepAliveIdle {
            let probeAt = lastActivity + keepAlive + configuration.keepAliveInterval * UInt64(keepAliveProbes)
            deadline = min(deadline ?? probeAt, probeAt)
        }
        guard let deadline else { return }
        setDeadline(.idle, max(deadline, now))
    }

    /// Stops every timer (the connection ended, or TIME-WAIT replaces them).
    mutating func cancelTimers() {
        deadlines = ConnectionDeadlines()
        requests.formUnion(.allTimers)
    }

    /// The engine's wheel says `timer` is due; its deadline is already cleared.
    mutating func timerExpired<Environment: TCPConnectionEnvironment & ~Copyable>(
        _ timer: TCPTimer, now: Instant, _ environment: inout Environment) {
        switch timer {
        case .retransmission: retransmissionTimerExpired(now: now, &environment)
        case .delayedAck:
            // A wheel node the engine has not yet moved may fire after an ACK went
            // out: a duplicate ACK then would count toward the peer's fast retransmit.
            guard lastAcknowledgmentSent != receiveNext else { return }
            environment.connectionStatistics.delayedAcks &+= 1
            queueAck()
        case .idle: idleTimerExpired(now: now, &environment)
        case .persist: persistTimerExpired(now: now, &environment)
        }
    }

    private mutating func retransmissionTimerExpired<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        let configuration = environment.tcpConfiguration
        switch state {
        case .timeWait:
            return finishClose(now: now, &environment)
        case .closed, .listen:
            return
        case .synSent, .synReceived:
            retransmissions += 1
            // A seeded first timeout was an extra try (`RTTEstimator.handshakeBackOff`).
            let limit = configuration.maximumSYNRetransmissions + (rtt.startedFromSeed ? 1 : 0)
            guard retransmissions <= limit else {
                environment.connectionStatistics.timeouts &+= 1
                return abort(sendReset: state == .synReceived, error: .timedOut, now: now, &environment)
            }
            rtt.handshakeBackOff()
            rttProbeActive = false
            queueControl(.syn)  // counted as a retransmission when it leaves (`sendControl`)
            armRetransmission(now: now)
            return
        default:
            break
        }
        guard bytesInFlight > 0, !lossDetectionTimerExpired(now: now, &environment) else { return }
        // A peer heard from within the last RTO is alive (its window may just be
        // closed): only silent timeouts count towards giving up.
        if now.since(lastActivity) >= rtt.rto { retransmissions += 1 }
        environment.connectionStatistics.timeouts &+= 1
        guard retransmissions <= configuration.maximumRetransmissions else {
            return abort(sendReset: true, error: .timedOut, now: now, &environment)
        }
        // RFC 6298 §5.4-5.6 and RFC 5681 §3.1: resend the oldest segment at once
        // (whatever the window: it was inside the window when first sent), back
        // off, collapse the window, and go on from there as the window allows.
        // A timeout before an ACK reached the previous one's recovery point resends
        // data the timer already resent: ssthresh is held (RFC 5681 §3.1).
        var repeated = false
        if case .afterTimeout = recovery { repeated = true }
        if timestampsEnabled && lossDetection.timeoutTimestamp == nil {
            lossDetection.timeoutTimestamp = timestampValue(now)
            if case .none = recovery { lossDetection.congestionBeforeTimeout = congestion }
        }
        congestion.onRetransmissionTimeout(flightSize: bytesInFlight, now: now, repeated: repeated)
        rtt.backOff()
        duplicateAcknowledgments = 0
        recovery = .afterTimeout(recover: sendMaximum)
        lossDetection.resentHoles.clear()
        lossDetection.probeEnd = nil
        lossDetection.newDataProbeQueued = false
        lossDetection.recoveryDuringProbe = false
        // The scoreboard is kept (RFC 6675 §5.1 leaves it to a reneging test, as
        // Linux does): `acknowledge` clears it when the receiver shows it
        // discarded SACKed data, and what it still holds is not sent again.
        let resent = retransmitOldest(now: now, &environment)
        sendNext = sendUnacknowledged + resent
        queueData(shortFlowThreshold: configuration.shortFlowThreshold)
    }

    private mutating func persistTimerExpired<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        guard state.isSynchronized, bytesInFlight == 0, unsentBytes > 0 else { return }
        persistBackoff += 1
        guard sendWindow == 0 else {
            // A window too small for silly-window avoidance: send into it anyway
            // (RFC 9293 §3.8.6.2.1's override). Without a transmit buffer, the
            // data list tries again next iteration.
            if !sendData(now: now, overridingSWS: true, &environment) {
                queueData(shortFlowThreshold: environment.tcpConfiguration.shortFlowThreshold)
            }
            return
        }
        // Zero-window probe: an old sequence number with no data makes the
        // peer answer with its current window, and puts nothing in flight.
        environment.connectionStatistics.zeroWindowProbes &+= 1
        _ = transmitSegment(flags: .ack, sequence: sendUnacknowledged - 1, dataLength: 0, now: now, &environment)
        armPersist(now: now)
    }

    /// Idle timeout (`tcp_timeout`, mTCP's) and keep-alive (RFC 1122 §4.2.3.6).
    private mutating func idleTimerExpired<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        guard state != .closed else { return }
        let configuration = environment.tcpConfiguration
        // A connection with data outstanding is not idle: its retransmission limit
        // decides when the peer is gone.
        if bytesInFlight > 0 || unsentBytes > 0 {
            let recheck = configuration.idleTimeout ?? configuration.keepAliveIdle ?? .seconds(1)
            return setDeadline(.idle, now + recheck)
        }
        let idle = now.since(lastActivity)
        if let timeout = configuration.idleTimeout, idle >= timeout {
            environment.connectionStatistics.timeouts &+= 1
            return abort(sendReset: true, error: .timedOut, now: now, &environment)
        }
        if let keepAlive = configuration.keepAliveIdle, state.isSynchronized,
           idle >= keepAlive + configuration.keepAliveInterval * UInt64(keepAliveProbes) {
            guard keepAliveProbes < configuration.keepAliveProbes else {
                environment.connectionStatistics.timeouts &+= 1
                return abort(sendReset: true, error: .timedOut, now: now, &environment)
            }
            // An old sequence number with no data: the peer answers with an ACK.
            keepAliveProbes += 1
            environment.connectionStatistics.keepAliveProbes &+= 1
            _ = transmitSegment(flags: .ack, sequence: sendUnacknowledged - 1, dataLength: 0, now: now, &environment)
        }
        armIdleTimer(configuration, now: now)
    }
}
