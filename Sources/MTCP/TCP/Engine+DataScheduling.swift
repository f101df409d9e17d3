/// Placing a connection on the data list and serving it by `DataScheduling`:
/// FIFO and two classes use the rings of `TCPLayer`, SRPT its heaps.
///
/// SRPT serves the flow with the fewest bytes left. Its starvation guard is a
/// share of the line for the oldest flow, as Homa gives a share of its grants
/// to its oldest message: for every `oldestFlowShare - 1` bytes the data list
/// sends by size, the flow that began waiting first may send one. The share is
/// the line's, not each flow's: however many long flows wait together (a
/// backlog of downloads on a saturated port), short ones lose no more than it
/// to them, and every flow, once it is the oldest, moves at that share at least.
extension Engine {
    /// Puts a connection with data to send on the data list; false when full.
    /// `short`: it asked for the short class (two-class scheduling).
    @inline(__always)
    mutating func queueForData(_ connection: UnsafeMutablePointer<TCPConnection>, short: Bool) -> Bool {
        guard tcp.configuration.dataScheduling == .srpt else {
            return tcp.push(connection.pointee.id, to: short ? .shortData : .bulkData)
        }
        if connection.pointee.backlogOrder == 0 { enterBacklog(connection) }
        return pushSizeOrdered(connection)
    }

    /// By size, and among flows of one size the one that began waiting first,
    /// so that equal flows (undeclared ones rank by their whole size) finish one
    /// after another rather than all together.
    private mutating func pushSizeOrdered(_ connection: UnsafeMutablePointer<TCPConnection>) -> Bool {
        let id = connection.pointee.id
        let size = UInt64(connection.pointee.sizeForScheduling), order = connection.pointee.backlogOrder
        if tcp.sizeOrderedData.push(id, key: size, tieBreak: order) { return true }
        let lookup = tcp.connections.lookup
        tcp.sizeOrderedData.compact { lookup.isLive($0.id) }
        return tcp.sizeOrderedData.push(id, key: size, tieBreak: order)
    }

    /// The flow begins to wait with bytes to send: it takes its place among the
    /// oldest flows, which it keeps across its turns and its waits for the peer
    /// until it has nothing left (`leaveBacklogIfDone`).
    private mutating func enterBacklog(_ connection: UnsafeMutablePointer<TCPConnection>) {
        tcp.backlogsBegun &+= 1
        let order = tcp.backlogsBegun, id = connection.pointee.id
        if !tcp.flowsByAge.push(id, key: order) {
            let lookup = tcp.connections.lookup
            tcp.flowsByAge.compact { lookup.isInBacklog($0.id, order: $0.key) }
            guard tcp.flowsByAge.push(id, key: order) else { return }
        }
        connection.pointee.backlogOrder = order
    }

    @inline(__always)
    private func leaveBacklogIfDone(_ connection: UnsafeMutablePointer<TCPConnection>) {
        if connection.pointee.remainingBytes == 0 { connection.pointee.backlogOrder = 0 }
    }

    /// The oldest flow with bytes left, if it is on the data list now (not
    /// waiting for its peer). Flows that ended or have nothing left are dropped
    /// from the age order on the way.
    private mutating func oldestWaitingFlow() -> UnsafeMutablePointer<TCPConnection>? {
        while let entry = tcp.flowsByAge.top {
            if let connection = tcp.connections.block(entry.id), connection.pointee.backlogOrder == entry.key {
                if connection.pointee.remainingBytes > 0 { return connection.pointee.inDataList ? connection : nil }
                connection.pointee.backlogOrder = 0
            }
            _ = tcp.flowsByAge.pop()
        }
        return nil
    }

    /// One turn: the flow sends while the line has credit and its windows allow.
    /// Whether it sent all it could, and how many new bytes it sent.
    @inline(__always)
    private mutating func serveTurn(_ connection: UnsafeMutablePointer<TCPConnection>,
                                    now: Instant) -> (sentAll: Bool, bytes: Int) {
        let before = connection.pointee.sendMaximum
        let sentAll = sendDataListSegments(connection, now: now)
        leaveBacklogIfDone(connection)
        return (sentAll, connection.pointee.sendMaximum - before)
    }

    /// First the oldest flow's turn if its share is due, then the flows with the
    /// fewest bytes left while the line has credit. A flow stopped by the line
    /// goes back with what it has left. The oldest flow keeps its entry on the
    /// data list through its turn (it is still waiting by size as well).
    mutating func flushSizeOrderedData(now: Instant) {
        if tcp.oldestFlowDue > 0, shaper.hasCredit, let oldest = oldestWaitingFlow() {
            let turn = serveTurn(oldest, now: now)
            tcp.oldestFlowDue -= turn.bytes * (TCPLayer.oldestFlowShare - 1)
            settle(oldest)
            if !turn.sentAll { return }
        }
        var remaining = tcp.sizeOrderedData.count
        while remaining > 0, shaper.hasCredit, let entry = tcp.sizeOrderedData.pop() {
            remaining -= 1
            guard let connection = tcp.connections.block(entry.id), connection.pointee.inDataList else { continue }
            connection.pointee.inDataList = false
            let turn = serveTurn(connection, now: now)
            tcp.oldestFlowDue = min(tcp.oldestFlowDue + turn.bytes, TCPLayer.oldestFlowDueLimit)
            if !turn.sentAll { connection.pointee.inDataList = pushSizeOrdered(connection) }
            settle(connection)
            if !turn.sentAll { return }
        }
    }
}

extension TCPLayer {
    /// SRPT's starvation guard: the oldest flow may have one byte in this many
    /// of the data list's (12.5%) when it competes with shorter flows.
    static let oldestFlowShare = 8

    /// What the oldest flow's share may build up to while it waits for its peer
    /// (64 KiB sent by size: 9 KiB for it), so it does not hold the line for
    /// long when it can send again.
    static let oldestFlowDueLimit = 64 * 1024

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
