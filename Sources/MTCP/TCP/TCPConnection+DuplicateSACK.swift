/// D-SACK (RFC 2883) both ways. As a receiver: a segment whose data was all
/// here already is reported in the first SACK block of the ACK it draws, so
/// its sender learns the retransmission was needless (the original was
/// reordered or delayed, not lost). As a sender: such a report widens RACK's
/// reordering window (RFC 8985 §6.2 step 4), so that a path that reorders does
/// not have every late segment resent and every reordering taken for a loss.
extension TCPConnection {
    /// Data from `start` to `end` arrived again: the next ACK reports it (once).
    /// When the owed ACK still holds an unsent report of an earlier copy, that
    /// ACK goes now: the new report would replace the old one, and the peer
    /// would learn of one needless resend of the two.
    @inline(__always)
    mutating func reportDuplicate<Environment: TCPConnectionEnvironment & ~Copyable>(
        from start: SequenceNumber, to end: SequenceNumber, now: Instant, _ environment: inout Environment) {
        guard selectiveAcknowledgmentsEnabled, start < end else { return }
        if ackPending && duplicateReport != nil { sendPureAck(now: now, &environment) }
        duplicateReport = SACKBlock(left: start.rawValue, right: end.rawValue)
    }

    /// The part of a data segment (`offset` bytes from RCV.NXT, `count` bytes)
    /// already held, which a D-SACK reports: all of it below RCV.NXT or inside an
    /// out-of-order range, or the part below RCV.NXT; nil when it is all new.
    @inline(__always)
    mutating func alreadyHeld(dataStart: SequenceNumber, offset: Int, count: Int) -> Range<SequenceNumber>? {
        if offset + count <= 0 || (offset > 0 && receive.range(holding: offset, count: count) != nil) {
            return dataStart..<(dataStart + count)
        }
        return offset < 0 ? dataStart..<receiveNext : nil
    }

    /// The SACK blocks for the next segment: the duplicate report first, then
    /// the out-of-order ranges most recent first, the one that holds a
    /// duplicate above RCV.NXT right after it (RFC 2883 §4: else the peer reads
    /// the report as an ordinary SACK; with room for one block only, the report
    /// waits). The report is dropped once a segment the peer accepts has
    /// carried it first (reported once).
    @inline(__always)
    mutating func sackBlocks(limit: Int) -> SACKBlockList {
        let reportOffset = duplicateReport.map { Int(Int32(bitPattern: $0.left &- receiveNext.rawValue)) } ?? 0
        guard let report = duplicateReport, reportOffset <= 0 || limit >= 2 else {
            return receive.sackBlockList(limit: limit, receiveNext: receiveNext.rawValue)
        }
        var blocks = SACKBlockList()
        blocks.append(report)
        let containing = reportOffset > 0
            ? receive.range(holding: reportOffset, count: Int(report.right &- report.left)) : nil
        if let containing { blocks.append(block(containing)) }
        let ranges = receive.sackBlockList(limit: SACKBlockList.capacity, receiveNext: receiveNext.rawValue)
        for range in ranges where containing.map({ range != block($0) }) ?? true {
            guard blocks.count < limit else { break }
            blocks.append(range)
        }
        return blocks
    }

    /// An out-of-order range as a SACK block.
    @inline(__always)
    private func block(_ range: ReceiveBufferRange) -> SACKBlock {
        SACKBlock(left: receiveNext.rawValue &+ UInt32(range.start), right: receiveNext.rawValue &+ UInt32(range.end))
    }

    /// Blocks `sackBlocks` has to give: the report and the out-of-order ranges.
    @inline(__always)
    var sackBlocksAvailable: Int { receive.outOfOrderRanges + (duplicateReport == nil ? 0 : 1) }

    /// An ACK whose first SACK block is a D-SACK (RFC 2883 §4): below its
    /// cumulative acknowledgment, or inside its second block. Widens RACK's
    /// reordering window by a step, at most once per round trip, and keeps it
    /// wide for the next sixteen recoveries (RFC 8985 §6.2 step 4). Returns
    /// whether it was one.
    @discardableResult
    mutating func noteDuplicateReport<Environment: TCPConnectionEnvironment & ~Copyable>(
        _ blocks: SACKBlockList, acknowledgment: SequenceNumber, now: Instant, _ environment: inout Environment) -> Bool {
        guard let first = blocks.first else { return false }
        let left = SequenceNumber(first.left)
        let right = SequenceNumber(first.right)
        guard left < right else { return false }
        // Below the cumulative ACK where it starts, as Linux takes it.
        var isDuplicate = left < acknowledgment
        if !isDuplicate, blocks.count > 1 {
            let second = blocks[1]
            isDuplicate = SequenceNumber(second.left) <= left && right <= SequenceNumber(second.right)
        }
        guard isDuplicate else { return false }
        environment.connectionStatistics.duplicateSACKsReceived &+= 1
        lossDetection.widenReorderWindow(now: now, srtt: rtt.smoothedRTT)
        return true
    }
}
