/// TCP timers on the engine's timer wheel: retransmission (RFC 6298) with
/// TIME-WAIT sharing its node, persist, delayed ACK, and idle timeout.
extension Engine {
    @inline(__always)
    mutating func armRetransmission(_ index: Int32, _ block: UnsafeMutablePointer<ControlBlock>, now: Instant) {
        tcp.timers.schedule(TCPTimer.retransmission.node(index), at: now + block.pointee.rtt.rto)
    }

    /// Persist timer (RFC 9293 §3.8.6.1): the peer's window is zero (or too small
    /// to use) and nothing is in flight, so only a probe (or a runt) can learn when
    /// it opens. The interval is the RTO doubled per expiry, up to the RTO's bound.
    mutating func armPersist(_ index: Int32, _ block: UnsafeMutablePointer<ControlBlock>, now: Instant) {
        let node = TCPTimer.persist.node(index)
        guard !tcp.timers.isScheduled(node) else { return }
        let rtt = block.pointee.rtt
        let interval = min(rtt.rto * (UInt64(1) << UInt64(min(block.pointee.persistBackoff, 16))), rtt.maximum)
        tcp.timers.schedule(node, at: now + interval)
    }

    /// The idle node fires at the first of: the idle timeout, the next keep-alive
    /// probe. With neither configured it stays off.
    mutating func armIdleTimer(_ index: Int32, _ block: UnsafeMutablePointer<ControlBlock>, now: Instant) {
        let configuration = tcp.configuration
        var deadline: Instant? = configuration.idleTimeout.map { block.pointee.lastActivity + $0 }
        if let keepAlive = configuration.keepAliveIdle {
            let probeAt = block.pointee.lastActivity + keepAlive
                + configuration.keepAliveInterval * UInt64(block.pointee.keepAliveProbes)
            deadline = min(deadline ?? probeAt, probeAt)
        }
        guard let deadline else { return }
        tcp.timers.schedule(TCPTimer.idle.node(index), at: max(deadline, now))
    }

    /// Runs every TCP timer that is due.
    mutating func runTCPTimers(now: Instant) {
        while let node = tcp.timers.nextExpired(now: now) {
            let (index, timer) = TCPTimer.decode(node)
            let block = tcp.connections.block(at: index)
            guard block.pointee.inUse else { continue }
            let id = ConnectionID(index: index, generation: block.pointee.generation)
            switch timer {
            case .retransmission: retransmissionTimerFired(id, block, now: now)
            case .delayedAck:
                tcp.statistics.delayedAcks &+= 1
                queueAck(id, block)
            case .idle: idleTimerFired(id, block, now: now)
            case .persist: persistTimerFired(id, block, now: now)
            }
        }
    }

    private mutating func retransmissionTimerFired(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>,
                                                   now: Instant) {
        switch block.pointee.state {
        case .timeWait:
            return finishClose(id, block, now: now)
        case .closed, .listen:
            return
        case .synSent, .synReceived:
            block.pointee.retransmissions += 1
            guard block.pointee.retransmissions <= tcp.configuration.maximumSYNRetransmissions else {
                tcp.statistics.timeouts &+= 1
                return abort(id, block, sendReset: block.pointee.state == .synReceived, error: .timedOut, now: now)
            }
            block.pointee.rtt.backOff()
            block.pointee.rttProbeActive = false
            countRetransmission()
            queueControl(id, block, .syn)
            armRetransmission(id.index, block, now: now)
            return
        default:
            break
        }
        guard block.pointee.bytesInFlight > 0 else { return }
        // A peer heard from within the last RTO is alive (its window may just be
        // closed): only silent timeouts count towards giving up.
        if now.since(block.pointee.lastActivity) >= block.pointee.rtt.rto {
            block.pointee.retransmissions += 1
        }
        guard block.pointee.retransmissions <= tcp.configuration.maximumRetransmissions else {
            tcp.statistics.timeouts &+= 1
            return abort(id, block, sendReset: true, error: .timedOut, now: now)
        }
        tcp.statistics.timeouts &+= 1
        // RFC 6298 §5.4-5.6 and RFC 5681 §3.1: resend the oldest segment at once
        // (whatever the window: it was inside the window when first sent), back
        // off, collapse the window, and go on from there as the window allows.
        // A timeout before an ACK reached the previous one's recovery point resends
        // data the timer already resent: ssthresh is held (RFC 5681 §3.1).
        var repeated = false
        if case .afterTimeout = block.pointee.recovery { repeated = true }
        block.pointee.congestion.onRetransmissionTimeout(flightSize: block.pointee.bytesInFlight, now: now,
                                                         repeated: repeated)
        block.pointee.rtt.backOff()
        block.pointee.duplicateAcknowledgments = 0
        block.pointee.recovery = .afterTimeout(recover: block.pointee.sendMaximum)
        // RFC 6675 §5.1: after a timeout the receiver may have reneged on its SACKs.
        block.pointee.scoreboard.clear()
        let resent = retransmitOldest(id, block, now: now)
        block.pointee.sendNext = block.pointee.sendUnacknowledged + resent
        queueData(id, block)
    }

    private mutating func persistTimerFired(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>,
                                            now: Instant) {
        guard block.pointee.state.isSynchronized, block.pointee.bytesInFlight == 0,
              block.pointee.unsentBytes > 0 else { return }
        block.pointee.persistBackoff += 1
        guard block.pointee.sendWindow == 0 else {
            // A window too small for silly-window avoidance: send into it anyway
            // (RFC 9293 §3.8.6.2.1's override). Without a transmit buffer, the
            // data list tries again next iteration.
            if !sendData(id, block, now: now, overridingSWS: true) { queueData(id, block) }
            return
        }
        // Zero-window probe: an old sequence number with no data makes the
        // peer answer with its current window, and puts nothing in flight.
        tcp.statistics.zeroWindowProbes &+= 1
        _ = transmitSegment(block, flags: .ack, sequence: block.pointee.sendUnacknowledged - 1, dataLength: 0,
                            now: now)
        armPersist(id.index, block, now: now)
    }

    /// Idle timeout (`tcp_timeout`, mTCP's) and keep-alive (RFC 1122 §4.2.3.6).
    private mutating func idleTimerFired(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>,
                                         now: Instant) {
        guard block.pointee.state != .closed else { return }
        let configuration = tcp.configuration
        // A connection with data outstanding is not idle: its retransmission limit
        // decides when the peer is gone.
        if block.pointee.bytesInFlight > 0 || block.pointee.unsentBytes > 0 {
            let recheck = configuration.idleTimeout ?? configuration.keepAliveIdle ?? .seconds(1)
            return tcp.timers.schedule(TCPTimer.idle.node(id.index), at: now + recheck)
        }
        let idle = now.since(block.pointee.lastActivity)
        if let timeout = configuration.idleTimeout, idle >= timeout {
            tcp.statistics.timeouts &+= 1
            return abort(id, block, sendReset: true, error: .timedOut, now: now)
        }
        if let keepAlive = configuration.keepAliveIdle, block.pointee.state.isSynchronized,
           idle >= keepAlive + configuration.keepAliveInterval * UInt64(block.pointee.keepAliveProbes) {
            guard block.pointee.keepAliveProbes < configuration.keepAliveProbes else {
                tcp.statistics.timeouts &+= 1
                return abort(id, block, sendReset: true, error: .timedOut, now: now)
            }
            // An old sequence number with no data: the peer answers with an ACK.
            block.pointee.keepAliveProbes += 1
            tcp.statistics.keepAliveProbes &+= 1
            _ = transmitSegment(block, flags: .ack, sequence: block.pointee.sendUnacknowledged - 1, dataLength: 0,
                                now: now)
        }
        armIdleTimer(id.index, block, now: now)
    }
}
