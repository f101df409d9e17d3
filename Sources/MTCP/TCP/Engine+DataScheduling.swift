/// Placing a connection on the data list and serving it by `DataScheduling`:
/// FIFO and two classes use the rings of `TCPLayer`, SRPT its size-ordered heap.
extension Engine {
    /// Puts a connection with data to send on the data list; false when full.
    /// `short`: it asked for the short class (two-class scheduling).
    @inline(__always)
    mutating func queueForData(_ connection: UnsafeMutablePointer<TCPConnection>, short: Bool) -> Bool {
        let id = connection.pointee.id
        guard tcp.configuration.dataScheduling == .srpt else {
            return tcp.push(id, to: short ? .shortData : .bulkData)
        }
        return pushSizeOrdered(id, remaining: connection.pointee.remainingBytes, waitingSince: iterationTime)
    }

    private mutating func pushSizeOrdered(_ id: ConnectionID, remaining: Int, waitingSince: Instant) -> Bool {
        if tcp.sizeOrderedData.push(id, remaining: remaining, waitingSince: waitingSince) { return true }
        let lookup = tcp.connections.lookup
        tcp.sizeOrderedData.compact { lookup.isLive($0) }
        return tcp.sizeOrderedData.push(id, remaining: remaining, waitingSince: waitingSince)
    }

    /// Serves the flow with the fewest bytes left (less what waiting earned it)
    /// while the line has credit. A flow stopped by the line goes back with what
    /// is left and the time it started waiting.
    mutating func flushSizeOrderedData(now: Instant) {
        var remaining = tcp.sizeOrderedData.count
        while remaining > 0, shaper.hasCredit, let entry = tcp.sizeOrderedData.pop() {
            remaining -= 1
            guard let connection = tcp.connections.block(entry.id), connection.pointee.inDataList else { continue }
            connection.pointee.inDataList = false
            let sentAll = sendDataListSegments(connection, now: now)
            if !sentAll {
                connection.pointee.inDataList = pushSizeOrdered(entry.id, remaining: connection.pointee.remainingBytes,
                                                                waitingSince: entry.waitingSince)
            }
            settle(connection)
            if !sentAll { return }
        }
    }
}

extension TCPLayer {
    /// Puts a connection popped from a data list back at its head.
    @inline(__always)
    mutating func returnToFront(_ id: ConnectionID, of list: OutputList) -> Bool {
        switch list {
        case .shortData: shortDataList.pushFront(id)
        case .bulkData: bulkDataList.pushFront(id)
        case .control, .ack, .events: false
        }
    }
}
