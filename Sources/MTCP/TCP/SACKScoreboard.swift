/// What the peer reported holding beyond SND.UNA (RFC 6675 §3's scoreboard):
/// up to `capacity` disjoint sequence ranges, sorted, in fixed inline storage.
///
/// The sender uses it to resend only the holes during recovery, and to see a
/// loss after fewer duplicate ACKs. When more ranges are reported than fit, the
/// highest are dropped: they only make the sender resend a little more.
struct SACKScoreboard {
    static let capacity = 32
    private var starts = InlineArray<32, UInt32>(repeating: 0)
    private var ends = InlineArray<32, UInt32>(repeating: 0)
    private(set) var count = 0
    /// Bytes covered by the ranges.
    private(set) var sackedBytes = 0

    var isEmpty: Bool { count == 0 }

    /// The end of the highest range (RFC 6675 HighACK + ... "highest SACKed").
    var highestSacked: SequenceNumber? { count == 0 ? nil : SequenceNumber(ends[count - 1]) }

    /// The start of the lowest range.
    var lowestSacked: SequenceNumber? { count == 0 ? nil : SequenceNumber(starts[0]) }

    mutating func clear() {
        count = 0
        sackedBytes = 0
    }

    /// Adds the peer's blocks; those outside (SND.UNA, SND.MAX] are ignored
    /// (RFC 2018 §8: a SACK block below the cumulative ACK is stale, one beyond
    /// what was sent is bogus).
    mutating func record(_ blocks: SACKBlockList, unacknowledged: SequenceNumber, maximum: SequenceNumber) {
        for block in blocks {
            let left = SequenceNumber(block.left)
            let right = SequenceNumber(block.right)
            guard left < right, left > unacknowledged, right <= maximum else { continue }
            insert(left, right)
        }
    }

    /// Forgets everything at or below the new cumulative ACK.
    mutating func acknowledge(upTo ack: SequenceNumber) {
        var kept = 0
        var bytes = 0
        for index in 0..<count {
            var start = SequenceNumber(starts[index])
            let end = SequenceNumber(ends[index])
            guard end > ack else { continue }
            if start < ack { start = ack }
            starts[kept] = start.rawValue
            ends[kept] = end.rawValue
            bytes += end - start
            kept += 1
        }
        count = kept
        sackedBytes = bytes
    }

    /// The first byte at or after `from` that is not SACKed, and how many bytes
    /// follow it before the next SACKed range — a hole — provided a SACKed range
    /// lies above it (data above the highest SACK is not known to be lost).
    func hole(from: SequenceNumber) -> (start: SequenceNumber, length: Int)? {
        var position = from
        for index in 0..<count {
            let start = SequenceNumber(starts[index])
            let end = SequenceNumber(ends[index])
            if position < start { return (position, start - position) }
            if position < end { position = end }
        }
        return nil
    }

    /// Whether the byte at `sequence` is SACKed.
    func contains(_ sequence: SequenceNumber) -> Bool {
        for index in 0..<count where SequenceNumber(starts[index]) <= sequence {
            if sequence < SequenceNumber(ends[index]) { return true }
        }
        return false
    }

    /// Bytes from `from` up to the highest SACKed byte, and below `limit`, that
    /// are not SACKed: the holes a sender resends in recovery.
    func unsackedBytes(from: SequenceNumber, below limit: SequenceNumber) -> Int {
        var position = from
        var bytes = 0
        for index in 0..<count {
            let start = min(SequenceNumber(starts[index]), limit)
            let end = min(SequenceNumber(ends[index]), limit)
            if position < start { bytes += start - position }
            if position < end { position = end }
        }
        return bytes
    }

    /// Bytes SACKed below `limit`.
    func sackedBytes(below limit: SequenceNumber) -> Int {
        guard let highest = highestSacked, limit < highest else { return sackedBytes }
        var bytes = 0
        for index in 0..<count {
            let start = SequenceNumber(starts[index])
            let end = min(SequenceNumber(ends[index]), limit)
            if start < end { bytes += end - start }
        }
        return bytes
    }

    private mutating func insert(_ left: SequenceNumber, _ right: SequenceNumber) {
        var newStart = left
        var newEnd = right
        // Merge with every range it touches; keep the others in order.
        var mergedStarts = InlineArray<32, UInt32>(repeating: 0)
        var mergedEnds = InlineArray<32, UInt32>(repeating: 0)
        var merged = 0
        var placed = false
        for index in 0..<count {
            let start = SequenceNumber(starts[index])
            let end = SequenceNumber(ends[index])
            if end < newStart {
                merged = Self.append(start, end, &mergedStarts, &mergedEnds, merged)
            } else if newEnd < start {
                if !placed {
                    merged = Self.append(newStart, newEnd, &mergedStarts, &mergedEnds, merged)
                    placed = true
                }
                merged = Self.append(start, end, &mergedStarts, &mergedEnds, merged)
            } else {
                newStart = min(newStart, start)
                newEnd = max(newEnd, end)
            }
        }
        if !placed { merged = Self.append(newStart, newEnd, &mergedStarts, &mergedEnds, merged) }
        starts = mergedStarts
        ends = mergedEnds
        count = merged
        sackedBytes = 0
        for index in 0..<count { sackedBytes += SequenceNumber(ends[index]) - SequenceNumber(starts[index]) }
    }

    /// Appends a range if there is room (the highest ranges are the ones lost).
    private static func append(_ start: SequenceNumber, _ end: SequenceNumber, _ starts: inout InlineArray<32, UInt32>,
                               _ ends: inout InlineArray<32, UInt32>, _ count: Int) -> Int {
        guard count < capacity else { return count }
        starts[count] = start.rawValue
        ends[count] = end.rawValue
        return count + 1
    }
}
