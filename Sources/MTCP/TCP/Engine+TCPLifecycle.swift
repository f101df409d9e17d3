/// How connections end: TIME-WAIT, orderly close, abort; and giving their
/// resources back to the per-core pools.
extension Engine {
    mutating func enterTimeWait(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>, now: Instant) {
        block.pointee.state = .timeWait
        let wait = tcp.configuration.timeWait
        guard wait > .zero else { return finishClose(id, block, now: now) }
        cancelTimers(id.index)
        tcp.timers.schedule(TCPTimer.retransmission.node(id.index), at: now + wait)
    }

    /// The orderly end of a connection (LAST-ACK acknowledged, TIME-WAIT over).
    mutating func finishClose(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>, now: Instant) {
        tcp.statistics.closed &+= 1
        // The ACK of the peer's FIN must not die with the connection (TIME-WAIT of 0).
        if block.pointee.ackPending {
            sendPureAck(block, now: now)
        }
        end(id, block, error: nil)
    }

    /// Ends a connection at once, optionally telling the peer with a RST.
    /// `error` is what the application is told, if it holds the connection.
    mutating func abort(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>, sendReset: Bool,
                        error: SocketError?, now: Instant) {
        if sendReset {
            tcp.statistics.resetsSent &+= 1
            emitSegment(tuple: block.pointee.tuple, sequence: block.pointee.sendNext,
                        acknowledgment: block.pointee.receiveNext, flags: [.rst, .ack], window: 0,
                        options: TCPOptions(), now: now)
        }
        end(id, block, error: error)
    }

    /// Takes the connection out of the flow table and the timer wheel. An
    /// application that holds the handle is told (HUP or ERR) and keeps the block,
    /// with any unread data, until it closes the handle; otherwise the block and
    /// its buffers go back to the pools now.
    private mutating func end(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>, error: SocketError?) {
        if block.pointee.state == .synReceived, block.pointee.listener >= 0,
           tcp.listeners.isActive(Int(block.pointee.listener)) {
            tcp.listeners[Int(block.pointee.listener)].halfOpen -= 1
        }
        _ = tcp.flows.remove(block.pointee.tuple)
        cancelTimers(id.index)
        block.pointee.state = .closed
        guard block.pointee.ownedByApplication else { return release(id.index, block) }
        block.pointee.error = error
        postEvents(id, block, error == nil ? .closed : .error)
    }

    private mutating func cancelTimers(_ index: Int32) {
        for timer in TCPTimer.allCases { tcp.timers.cancel(timer.node(index)) }
    }

    /// Returns the block and its buffers to the pools; handles to it go stale.
    mutating func release(_ index: Int32, _ block: UnsafeMutablePointer<ControlBlock>) {
        if block.pointee.send.storage.baseAddress != nil { tcp.sendChunks.give(block.pointee.send.storage) }
        if block.pointee.receive.storage.baseAddress != nil { tcp.receiveChunks.give(block.pointee.receive.storage) }
        tcp.connections.release(index)
    }
}
