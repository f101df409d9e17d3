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
/// The oldest flow is the oldest on the data list (one waiting for its peer
/// has no use for the line), its turn sends at most the bytes due to it (plus
/// the rest of a segment), and every turn is charged for the bytes it put on
/// the line, resent ones included.
extension Engine {
    /// Puts a connection with data to send on the data list; false when full.
    /// `short`: it asked for the short class (two-class scheduling).
    @inline(__always)
    mutating func queueForData(_ connection: UnsafeMutablePointer<TCPConnection>, short: Bool) -> Bool {
        guard tcp.configuration.dataScheduling == .srpt else {
            return tcp.push(connection.pointee.id, to: short ? .shortData : .bulkData)
        }
        if connection.pointee.backlogOrder == 0 {
            // It begins to wait with bytes to send: it takes its place among the
            // oldest flows, which it keeps across its turns and its waits for
            // the peer until it has nothing left (`advanceSendNext` clears it).
            tcp.backlogsBegun &+= 1
            connection.pointee.backlogOrder = tcp.backlogsBegun
        }
        tcp.flowsByAge.insert(connection.pointee.id, key: connection.pointee.backlogOrder)
        placeBySize(connection)
        return true
    }

    /// By size, and among flows of one size the one that began waiting first,
    /// so that equal flows (undeclared ones rank by their whole size) finish one
    /// after another rather than all together. Moves the entry it has.
    @inline(__always)
    private mutating func placeBySize(_ connection: UnsafeMutablePointer<TCPConnection>) {
        tcp.sizeOrderedData.insert(connection.pointee.id, key: UInt64(connection.pointee.sizeForScheduling),
                                   tieBreak: connection.pointee.backlogOrder)
    }

    /// The connection is off the data list (it sent all it could, or it ended):
    /// its entries go, so both heaps hold only the flows waiting now.
    @inline(__always)
    mutating func leaveSizeOrderedData(_ connection: UnsafeMutablePointer<TCPConnection>) {
        tcp.sizeOrderedData.remove(slot: connection.pointee.slot)
        tcp.flowsByAge.remove(slot: connection.pointee.slot)
    }

    /// One turn: the flow sends while the line has credit, its windows allow and
    /// it has sent fewer than `byteLimit` bytes. It leaves the data list when it
    /// sent all it could, else keeps its place with the size it has now. Whether
    /// it was stopped by the line or the transmit path (not by `byteLimit`), and
    /// the bytes it sent, resent ones included: they take the line as much.
    @inline(__always)
    private mutating func serveTurn(_ connection: UnsafeMutablePointer<TCPConnection>, byteLimit: Int = .max,
                                    now: Instant) -> (stopped: Bool, bytes: Int) {
        let sentAll = sendDataListSegments(connection, now: now, byteLimit: byteLimit)
        let bytes = dataTurnBytes
        if sentAll {
            connection.pointee.inDataList = false
            leaveSizeOrderedData(connection)
        } else {
            if connection.pointee.backlogOrder == 0 { tcp.flowsByAge.remove(slot: connection.pointee.slot) }
            placeBySize(connection)
        }
        return (!sentAll && !dataTurnLimited, bytes)
    }

    /// The oldest flow on the data list. An ended connection leaves both heaps
    /// (`settle`), so the loop is not expected to drop anything; it is a loop,
    /// not a recursive call, because a call cycle here stops the release build
    /// from specialising the core loop (Tests/system/test_specialisation.py).
    @inline(__always)
    private mutating func oldestFlow() -> UnsafeMutablePointer<TCPConnection>? {
        while let entry = tcp.flowsByAge.top {
            if let connection = tcp.connections.block(entry.id) { return connection }
            tcp.flowsByAge.remove(slot: entry.id.index)
        }
        return nil
    }

    /// First the oldest flow's turn if its share is due (at most the bytes due
    /// to it, plus the rest of a segment), then the flows with the fewest bytes
    /// left while the line has credit. A flow stopped by the line keeps its place
    /// with what it has left.
    mutating func flushSizeOrderedData(now: Instant) {
        if tcp.oldestFlowDue > 0, shaper.hasCredit, let oldest = oldestFlow() {
            let share = TCPLayer.oldestFlowShare - 1
            let turn = serveTurn(oldest, byteLimit: (tcp.oldestFlowDue + share - 1) / share, now: now)
            tcp.oldestFlowDue -= turn.bytes * share
            settle(oldest)
            if turn.stopped { return }
        }
        // Bounded by the entries at the start: a connection queued again while
        // being served waits for the next iteration.
        var remaining = tcp.sizeOrderedData.count
        while remaining > 0, shaper.hasCredit, let entry = tcp.sizeOrderedData.top {
            remaining -= 1
            guard let connection = tcp.connections.block(entry.id) else {
                // Not reached: an ended connection leaves both heaps (`settle`).
                tcp.sizeOrderedData.remove(slot: entry.id.index)
                continue
            }
            let turn = serveTurn(connection, now: now)
            tcp.oldestFlowDue = min(tcp.oldestFlowDue + turn.bytes, TCPLayer.oldestFlowDueLimit)
            settle(connection)
            if turn.stopped { return }
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

    /// Puts a connection popped from an output list back at the head of `list`.
    @inline(__always)
    mutating func returnToFront(_ id: ConnectionID, of list: OutputList) -> Bool {
        switch list {
        case .control: controlList.pushFront(id)
        case .ack: ackList.pushFront(id)
        case .shortData: shortDataList.pushFront(id)
        case .bulkData: bulkDataList.pushFront(id)
        case .events: false
        }
    }
}
