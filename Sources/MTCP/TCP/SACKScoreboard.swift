/// What the peer reported holding beyond SND.UNA (RFC 6675 §3's scoreboard):
/// up to `capacity` disjoint sequence ranges, sorted, in fixed inline storage.
///
/// The sender uses it to resend only the holes during recovery, and to see a
/// loss after fewer duplicate ACKs. When more ranges are reported than fit, the
/// highest are dropped: they make the sender resend data the peer holds. The
/// capacity matches what a receiver here holds (`ReceiveBuffer.maxRanges`): a
/// kernel receiver at 10% loss reported more than 32 ranges, and resending
/// what was dropped drew 1,318 D-SACKs in one 10 MiB echo.
struct SACKScoreboard {
    typealias Bounds = InlineArray<128, UInt32>
    static var capacity: Int { Bounds.count }
    private(set) var count = 0
    /// Bytes covered by the ranges.
    private(set) var sackedBytes = 0
    private var starts = Bounds(repeating: 0)
    private var ends = Bounds(repeating: 0)

    var isEmpty: Bool { count == 0 }

    /// Where `starts` and `ends` lie in the struct, in bytes: entries past
    /// `count` are never read, so a reset need not touch them (`ConnectionPool`).
    static var inlineArrayBytes: Range<Int> {
        let starts = MemoryLayout<Self>.bytes(of: \Self.starts), ends = MemoryLayout<Self>.bytes(of: \Self.ends)
        precondition(starts.upperBound == ends.lowerBound, "the bounds must be adjacent")
        return starts.lowerBound..<ends.upperBound
    }

    // The readers of the ranges below are `mutating` only so that `self` comes
    // by address: a non-mutating method gets the struct as a value, and the
    // compiler copies all of it (1 KB) to the stack to call one, even where
    // the caller then only reads `count` (seen in the release binary; callgrind:
    // two such copies, 250 instructions, for every mtcp-httpd short flow).

    /// The end of the highest range (RFC 6675 HighACK + ... "highest SACKed").
    var highestSacked: SequenceNumber? { mutating get { count == 0 ? nil : SequenceNumber(ends[count - 1]) } }

    /// The start of the lowest range.
    var lowestSacked: SequenceNumber? { mutating get { count == 0 ? nil : SequenceNumber(starts[0]) } }

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
    mutating func hole(from: SequenceNumber) -> (start: SequenceNumber, length: Int)? {
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
    mutating func contains(_ sequence: SequenceNumber) -> Bool {
        for index in 0..<count where SequenceNumber(starts[index]) <= sequence {
            if sequence < SequenceNumber(ends[index]) { return true }
        }
        return false
    }

    /// Bytes from `from` up to the highest SACKed byte, and below `limit`, that
    /// are not SACKed: the holes a sender resends in recovery.
    mutating func unsackedBytes(from: SequenceNumber, below limit: SequenceNumber) -> Int {
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
    mutating func sackedBytes(below limit: SequenceNumber) -> Int {
        guard let highest = highestSacked, limit < highest else { return sackedBytes }
        var bytes = 0
        for index in 0..<count {
            let start = SequenceNumber(starts[index])
            let end = min(SequenceNumber(ends[index]), limit)
            if start < end { bytes += end - start }
        }
        return bytes
    }

    /// Adds `[left, right)`, merged with every range it touches or overlaps.
    private mutating func insert(_ left: SequenceNumber, _ right: SequenceNumber) {
        // The ranges it touches are first..<last (ends are sorted like starts).
        var first = 0
        var high = count
        while first < high {
            let middle = (first + high) / 2
            if SequenceNumber(ends[middle]) < left { first = middle + 1 } else { high = middle }
        }
        var last = first
        while last < count && SequenceNumber(starts[last]) <= right { last += 1 }
        guard first == last else {
            let start = min(left, SequenceNumber(starts[first]))
            let end = max(right, SequenceNumber(ends[last - 1]))
            for index in first..<last { sackedBytes -= SequenceNumber(ends[index]) - SequenceNumber(starts[index]) }
            starts[first] = start.rawValue
            ends[first] = end.rawValue
            sackedBytes += end - start
            let removed = last - first - 1
            for index in last..<count {
                starts[index - removed] = starts[index]
                ends[index - removed] = ends[index]
            }
            count -= removed
            return
        }
        if count == Self.capacity {
            // Full: the highest range makes way, unless this one is the highest.
            guard first < count else { return }
            count -= 1
            sackedBytes -= SequenceNumber(ends[count]) - SequenceNumber(starts[count])
        }
        var index = count
        while index > first {
            starts[index] = starts[index - 1]
            ends[index] = ends[index - 1]
            index -= 1
        }
        starts[first] = left.rawValue
        ends[first] = right.rawValue
        count += 1
        sackedBytes += right - left
    }
}
