/// The epoll-like interface of `SocketContext`: readiness is collected while
/// the engine processes input, and `wait` hands the batch to the application.
extension SocketContext {
    /// What `control` does with a registration (EPOLL_CTL_ADD/MOD/DEL).
    public enum EventPollOperation: Sendable {
        case add, modify, delete
    }

    /// A new event poll (epoll_create); `.noResources` beyond a handful per core.
    public mutating func createEventPoll() throws(SocketError) -> EventPoll {
        guard let poll = polls.create() else { throw .noResources }
        return poll
    }

    /// Closes an event poll; its sockets are unregistered.
    public mutating func closeEventPoll(_ poll: EventPoll) throws(SocketError) {
        guard polls.isValid(poll) else { throw .invalidHandle }
        for index in sockets.entries.indices where sockets.entries[index].poll == Int32(poll.index) {
            polls.remove(Int32(index), in: sockets.entries)
            sockets.entries[index].poll = -1
        }
        polls.destroy(poll.index)
    }

    /// Registers, changes or removes the interest of `poll` in `socket`
    /// (epoll_ctl). `events` are the conditions wanted plus `.edgeTriggered` or
    /// `.oneShot`; `.error` and `.hangUp` are reported whether asked for or not.
    /// A socket belongs to one poll at a time. Errors: `.invalidHandle`,
    /// `.alreadyRegistered` (add twice), `.notRegistered` (modify or delete
    /// without add).
    public mutating func control(_ poll: EventPoll, _ operation: EventPollOperation, _ socket: Socket,
                                 events: EventPollEvents = [], data: UInt64 = 0) throws(SocketError) {
        guard polls.isValid(poll) else { throw .invalidHandle }
        let index = try entry(socket)
        let registered = sockets.entries[index].poll
        switch operation {
        case .add:
            guard registered < 0 else { throw .alreadyRegistered }
        case .modify, .delete:
            guard registered == Int32(poll.index) else { throw .notRegistered }
        }
        polls.remove(Int32(index), in: sockets.entries)
        guard operation != .delete else {
            sockets.entries[index].poll = -1
            return
        }
        sockets.entries[index].poll = Int32(poll.index)
        sockets.entries[index].interest = events
        sockets.entries[index].data = data
        sockets.entries[index].armed = true
        if case .listener(let listener) = sockets.entries[index].kind {
            sockets.entries[index].acceptQueueSeen = engine.acceptQueueLength(listener)
        }
        // A condition that already holds is reported, in both modes (as on Linux).
        if !reportable(index).isEmpty { polls.enqueue(Int32(index), in: sockets.entries) }
    }

    /// Fills `events` with the ready sockets of `poll` and returns how many
    /// (epoll_wait with a zero timeout: the engine loop is what waits).
    /// Level-triggered sockets whose condition still holds are reported again
    /// by the next `wait`; edge-triggered ones only after a new event.
    public mutating func wait(_ poll: EventPoll, into events: UnsafeMutableBufferPointer<EventPollEvent>) -> Int {
        guard polls.isValid(poll) else { return 0 }
        var count = 0
        // Only the sockets queued now: level-triggered ones queued again below
        // wait for the next call.
        var remaining = polls.count(poll.index)
        while count < events.count, remaining > 0, let index = polls.dequeue(poll.index, in: sockets.entries) {
            remaining -= 1
            let ready = reportable(Int(index))
            guard !ready.isEmpty else { continue }
            events[count] = EventPollEvent(events: ready, data: sockets.entries[Int(index)].data)
            count += 1
            let interest = sockets.entries[Int(index)].interest
            if interest.contains(.oneShot) {
                sockets.entries[Int(index)].armed = false
            } else if !interest.contains(.edgeTriggered) {
                polls.enqueue(index, in: sockets.entries)
            }
        }
        return count
    }

    /// Queues a socket that had an event, if a poll is interested.
    mutating func signal(_ index: Int32) {
        let entry = sockets.entries[Int(index)]
        guard entry.poll >= 0, entry.armed else { return }
        polls.enqueue(index, in: sockets.entries)
    }

    /// Queues a socket after connection events, only if they can have made a
    /// condition it is registered for hold: as Linux filters a wake-up by the
    /// registration's mask, an ACK freeing send space is no new edge for an
    /// edge-triggered `.input` registration (it was reported again before).
    mutating func signal(_ index: Int32, after events: ConnectionEvents) {
        let interest = sockets.entries[Int(index)].interest.union(EventPollEvents.alwaysReported)
        guard !Self.conditions(after: events).isDisjoint(with: interest) else { return }
        signal(index)
    }

    /// The conditions that connection events can make hold.
    static func conditions(after events: ConnectionEvents) -> EventPollEvents {
        if !events.isDisjoint(with: [.closed, .error]) { return EventPollEvents.conditions }
        var conditions: EventPollEvents = []
        if events.contains(.readable) { conditions.insert(.input) }
        // A FIN completes HUP when our direction was closed already.
        if events.contains(.peerClosed) { conditions.formUnion([.input, .peerHangUp, .hangUp]) }
        if !events.isDisjoint(with: [.writable, .connected]) { conditions.insert(.output) }
        return conditions
    }

    /// The conditions of the socket that its registration reports now.
    @inline(__always)  // as `readiness`
    private func reportable(_ index: Int) -> EventPollEvents {
        let entry = sockets.entries[index]
        guard entry.armed else { return [] }
        return readiness(index).intersection(entry.interest.union(EventPollEvents.alwaysReported))
    }

    /// The conditions that hold for a socket now (level). Inlined: out of line,
    /// `control` (a mutating method) had the whole context (2 KiB) copied for its
    /// `self` first, once a connection.
    @inline(__always)
    func readiness(_ index: Int) -> EventPollEvents {
        switch sockets.entries[index].kind {
        case .free:
            return []
        case .unconnected:
            return [.output, .hangUp]  // as Linux reports an unconnected TCP socket
        case .listener(let listener):
            return engine.acceptQueueLength(listener) > 0 ? .input : []
        case .connection(let connection):
            guard let status = engine.status(of: connection) else { return [.error, .hangUp] }
            if status.error != nil { return [.input, .output, .error, .hangUp, .peerHangUp] }
            if status.state == .closed { return [.input, .hangUp, .peerHangUp] }
            var ready: EventPollEvents = []
            if status.readableBytes > 0 || status.peerClosed || sockets.entries[index].readShutDown {
                ready.insert(.input)
            }
            if status.peerClosed { ready.insert(.peerHangUp) }
            if status.peerClosed && status.closedForWriting { ready.insert(.hangUp) }
            if status.state.isSynchronized, !status.closedForWriting, sendRoom(index, status) > 0 {
                ready.insert(.output)
            }
            return ready
        }
    }
}
