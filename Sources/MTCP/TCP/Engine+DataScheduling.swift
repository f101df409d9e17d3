/// Placing a connection on the data list and serving it by `DataScheduling`:
/// FIFO and two classes use the rings of `TCPLayer`, SRPT its size-ordered heap.
extension Engine {
    /// Puts a connection with data to send on the data list; false when full.
    /// `short`: it asked for the short class (two-class scheduling).
    @inline(__always)
    mutating func queueForData(_ connection: UnsafeMutablePointer<TCPConnection>, short: Bool) -> Bool {
        guard tcp.configuration.dataScheduling == .srpt else {
            return tcp.push(connection.pointee.id, to: short ? .shortData : .bulkData)
        }
        return pushSizeOrdered(connection, waitingFrom: iterationTime)
    }

    /// Enters the flow in the heap as if it had waited since `start` less the
    /// time it has already waited (`lineWaited`): entries age alike while in the
    /// heap, so one key per entry, computed once, keeps them in order.
    private mutating func pushSizeOrdered(_ connection: UnsafeMutablePointer<TCPConnection>,
                                          waitingFrom start: Instant) -> Bool {
        let id = connection.pointee.id
        let size = connection.pointee.sizeForScheduling
        let waited = min(connection.pointee.lineWaited.nanoseconds, start.nanoseconds)
        let waitingSince = Instant(nanoseconds: start.nanoseconds - waited)
        if tcp.sizeOrderedData.push(id, remaining: size, waitingSince: waitingSince) { return true }
        let lookup = tcp.connections.lookup
        tcp.sizeOrderedData.compact { lookup.isLive($0) }
        return tcp.sizeOrderedData.push(id, remaining: size, waitingSince: waitingSince)
    }

    /// Serves the flow with the fewest bytes left (less what waiting earned it)
    /// while the line has credit. The time a flow waited in the heap is added to
    /// its age; a flow stopped by the line goes back with what is left, and waits
    /// again only from when the line has carried what it was just given.
    mutating func flushSizeOrderedData(now: Instant) {
        var remaining = tcp.sizeOrderedData.count
        while remaining > 0, shaper.hasCredit, let entry = tcp.sizeOrderedData.pop() {
            remaining -= 1
            guard let connection = tcp.connections.block(entry.id), connection.pointee.inDataList else { continue }
            connection.pointee.inDataList = false
            connection.pointee.lineWaited = max(connection.pointee.lineWaited, now.since(entry.waitingSince))
            let mark = shaper.creditMark
            let sentAll = sendDataListSegments(connection, now: now)
            if connection.pointee.remainingBytes == 0 { connection.pointee.lineWaited = .zero }
            if !sentAll {
                let served = shaper.lineTime(since: mark)
                connection.pointee.inDataList = pushSizeOrdered(connection, waitingFrom: now + served)
            }
            settle(connection)
            if !sentAll { return }
        }
    }
}

extension TCPLayer {
    /// Puts a connection popped from a data list back at the head of `list`.
    @inline(__always)
    mutating func returnToFront(_ id: ConnectionID, of list: OutputList) -> Bool {
        switch list {
        case .shortData: shortDataList.pushFront(id)
        case .bulkData: bulkDataList.pushFront(id)
        case .control, .ack, .events: false
        }
    }
}
