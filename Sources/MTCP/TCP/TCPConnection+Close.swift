/// How a connection ends: our FIN, TIME-WAIT, the orderly end, and abort.
/// Freeing the slot and its buffers is the engine's (`ConnectionRequests.ended`).
extension TCPConnection {
    /// Closes our direction: a FIN follows the data already written.
    mutating func queueFIN(shortFlowThreshold: Int) {
        guard !finQueued else { return }
        switch state {
        case .established, .synReceived:
            state = .finWait1
        case .closeWait:
            state = .lastAck
        case .synSent:
            // Remembered: the FIN follows the data once the handshake completes.
            finQueued = true
            return
        default:
            return
        }
        finQueued = true
        queueData(shortFlowThreshold: shortFlowThreshold)
    }

    mutating func enterTimeWait<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        state = .timeWait
        let wait = environment.tcpConfiguration.timeWait
        guard wait > .zero else { return finishClose(now: now, &environment) }
        cancelTimers()
        setDeadline(.retransmission, now + wait)
    }

    /// The peer's FIN again in TIME-WAIT: our ACK of it was lost. It is
    /// acknowledged again, and the wait starts over (RFC 9293 §3.10.7.4, eighth
    /// check; Linux too): the connection is not forgotten while the peer may
    /// still wait for that ACK, and a third copy would draw a reset.
    mutating func restartTimeWait(now: Instant, configuration: TCPConfiguration) {
        setDeadline(.retransmission, now + configuration.timeWait)
    }

    /// The orderly end of a connection (LAST-ACK acknowledged, TIME-WAIT over).
    mutating func finishClose<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        environment.connectionStatistics.closed &+= 1
        // The ACK of the peer's FIN must not die with the connection (TIME-WAIT of 0).
        if ackPending { sendPureAck(now: now, &environment) }
        end(error: nil)
    }

    /// Ends the connection at once, optionally telling the peer with a RST.
    /// `error` is what the application is told, if it holds the connection.
    mutating func abort<Environment: TCPConnectionEnvironment & ~Copyable>(
        sendReset: Bool, error: SocketError?, now: Instant, _ environment: inout Environment) {
        if sendReset {
            let reset = OutgoingSegment(tuple: tuple, sequence: sendNext, acknowledgment: receiveNext,
                                        flags: [.rst, .ack], window: 0)
            if environment.transmit(reset, now: now) { environment.connectionStatistics.resetsSent &+= 1 }
        }
        end(error: error)
    }

    /// CLOSED, with no timers. An application that holds the handle is told (HUP
    /// or ERR) and keeps the connection, with any unread data, until it closes the
    /// handle; the engine takes it out of the flow table and, if nobody holds it,
    /// frees it.
    private mutating func end(error: SocketError?) {
        if state == .synReceived && listener >= 0 { requests.insert(.endedHalfOpen) }
        requests.insert(error == nil ? .ended : [.ended, .endedInError])
        cancelTimers()
        state = .closed
        guard ownedByApplication else { return }
        self.error = error
        postEvents(error == nil ? .closed : .error)
    }
}
