/// The bytes of one connection received from the peer and not yet read by the
/// application, plus out-of-order data waiting for the gap before it to fill.
///
/// A ring over one chunk of a `BufferChunkPool`, held by value inside the
/// connection's control block: no class, no allocation, no reference counting.
/// In-order bytes occupy the ring from `head`; the byte at RCV.NXT goes right after
/// them, and a segment `offset` bytes beyond RCV.NXT is copied straight to its final
/// place `offset` bytes further on. That place is always free: an acceptable segment
/// lies inside the advertised window, and the window is exactly the ring's free
/// space (`capacity - readable`). When the gap fills, the out-of-order bytes are
/// already in position and become readable without a second copy.
///
/// Which offsets hold out-of-order data is a sorted list of disjoint ranges (at
/// most `maxRanges`, inline), merged whenever they touch. A segment that would
/// need one range too many is refused and counted rather than growing anything: the
/// peer retransmits it, and with SACK it learns what we hold. Each range carries a
/// stamp of its last update, which orders the SACK blocks as RFC 2018 §4 asks.
///
/// The limit must exceed the holes a sender leaves in one window: at 10% loss a
/// kernel sender (BBR, 4 MiB windows) had more than 32 open at once, and every
/// segment it sent above the last range was then refused; nothing after them
/// being SACKed, RACK could not mark them lost and only its RTO, backed off 17
/// times, repaired them (a 10 MiB echo took 6.6 s instead of 0.5 s). A range
/// takes 12 bytes (offsets below 2^32: `rcvbuf` is at most 64 MiB).
///
/// The buffer does not own its chunk, and needs one only while it holds bytes:
/// the engine attaches a chunk before a segment's payload is placed and takes
/// it back (`chunkCanGoBack`) once the application has read everything and no
/// out-of-order data waits (see `LentChunk`, and `SendBuffer` for why).
public struct ReceiveBuffer {
    /// Out-of-order ranges held at most (a receiver that sees more holes than this
    /// in one window is facing heavy loss or an attack; Linux prunes its queue too).
    @inline(__always) public static var maxRanges: Int { HeldRanges.count }
    /// Inline storage for the ranges.
    typealias HeldRanges = InlineArray<128, HeldRange>

    /// One range as stored: offsets from RCV.NXT and the `clock` of its last write.
    struct HeldRange {
        var start: UInt32
        var end: UInt32
        var stamp: UInt32

        @inline(__always) var range: ReceiveBufferRange { ReceiveBufferRange(start: Int(start), end: Int(end)) }
    }

    /// Disjoint, non-touching ranges sorted by `start`, relative to RCV.NXT; only
    /// the first `rangeCount` are meaningful. First: the scalars below end the
    /// struct, next to the connection's own (`TCPConnection` puts the buffer
    /// first), and a connection without holes reads and writes none of these
    /// cache lines on its data path. Methods that read them are `mutating`, to
    /// get `self` by address rather than as a 1.5 KB copy (see `SACKScoreboard`).
    private var ranges = HeldRanges(repeating: HeldRange(start: 0, end: 0, stamp: 0))
    /// The ring's chunk, while it holds bytes, and the capacity (see
    /// `LentChunk`); the engine attaches and detaches it.
    public internal(set) var chunk: LentChunk
    /// Ring index of the first readable byte.
    private var head = 0
    /// In-order bytes the application can read.
    public private(set) var readable = 0
    /// Out-of-order segments refused because all `maxRanges` ranges were in use.
    public private(set) var refusedSegments = 0

    private var rangeCount = 0
    /// Counts out-of-order writes. Stamps are compared by age (`clock - stamp`),
    /// so a wrap only misorders SACK blocks of a range untouched for 2^32 writes.
    private var clock: UInt32 = 0

    /// Where `ranges` lies in the struct, in bytes: ranges past `rangeCount` are
    /// never read, so a reset need not touch them (`ConnectionPool`).
    static var inlineArrayBytes: Range<Int> { MemoryLayout<Self>.bytes(of: \Self.ranges) }

    /// A buffer with no storage (capacity 0), for a control block not in use.
    @inline(__always)
    public init() { chunk = LentChunk(capacity: 0) }

    /// An empty buffer over `storage`, attached for good (the engine uses
    /// `reset` and lends chunks).
    @inline(__always)
    public init(storage: UnsafeMutableRawBufferPointer) {
        precondition(storage.count <= UInt32.max, "ReceiveBuffer: ranges are kept as 32-bit offsets")
        chunk = LentChunk(capacity: storage.count, storage: storage)
    }

    /// Empties the buffer, forgets out-of-order data and counters, for a new
    /// connection: `capacity` bytes, over `storage` or, when that is empty,
    /// without a chunk until the engine attaches one.
    @inline(__always)
    public mutating func reset(capacity: Int, storage: UnsafeMutableRawBufferPointer) {
        precondition(capacity <= UInt32.max, "ReceiveBuffer: ranges are kept as 32-bit offsets")
        chunk = LentChunk(capacity: capacity, storage: storage)
        head = 0
        readable = 0
        refusedSegments = 0
        rangeCount = 0
        clock = 0
    }

    /// Whether the chunk can go back to its pool: nothing to read and nothing
    /// held out of order.
    @inline(__always) public var chunkCanGoBack: Bool { readable == 0 && rangeCount == 0 && chunk.isAttached }

    /// Bytes the buffer can hold.
    @inline(__always) public var capacity: Int { chunk.capacity }

    /// The receive window to advertise (before window scaling): all space not
    /// taken by unread in-order bytes. Out-of-order bytes already lie inside it.
    @inline(__always) public var window: Int { capacity - readable }

    @inline(__always) public var hasOutOfOrderData: Bool { rangeCount > 0 }

    /// Bytes held beyond RCV.NXT, waiting for a gap to fill.
    public var outOfOrderBytes: Int {
        mutating get {
            var total = 0
            for index in 0..<rangeCount { total += Int(ranges[index].end - ranges[index].start) }
            return total
        }
    }

    // MARK: - Data from the peer

    /// Places a segment's payload that starts `offset` bytes after RCV.NXT (negative
    /// when it begins with bytes already received). Bytes before RCV.NXT and beyond
    /// the window are ignored; duplicates are harmless.
    ///
    /// - Returns: how many bytes became in-order, the segment's own plus any
    ///   out-of-order data it joined up with: the caller advances RCV.NXT by this.
    ///   Zero for out-of-order data (held, unless it needed a range beyond
    ///   `maxRanges`, in which case it is dropped and `refusedSegments` counts it).
    @discardableResult
    public mutating func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int {
        let window = self.window
        guard offset < window else { return 0 }
        let start = max(offset, 0)
        let end = min(offset + bytes.count, window)
        guard start < end else { return 0 }
        let source = bytes.baseAddress.unsafelyUnwrapped + (start - offset)

        if start == 0 {
            place(source, count: end, at: 0)
            return advance(to: end)
        }

        // Out of order: find the ranges this one touches or overlaps, first..<last.
        let first = firstRange(endingAtOrAfter: start)
        var last = first
        while last < rangeCount && Int(ranges[last].start) <= end { last += 1 }

        clock &+= 1
        if first == last {
            guard rangeCount < Self.maxRanges else {
                refusedSegments += 1
                return 0
            }
            var index = rangeCount
            while index > first {
                ranges[index] = ranges[index - 1]
                index -= 1
            }
            rangeCount += 1
            ranges[first] = HeldRange(start: UInt32(start), end: UInt32(end), stamp: clock)
        } else {
            let merged = HeldRange(start: min(UInt32(start), ranges[first].start),
                                   end: max(UInt32(end), ranges[last - 1].end), stamp: clock)
            removeRanges(first + 1..<last)
            ranges[first] = merged
        }
        place(source, count: end - start, at: start)
        return 0
    }

    /// The index of the first range whose end is at or after `offset` (ends are
    /// sorted, the ranges being disjoint): `rangeCount` if none. A binary search,
    /// as a lossy window can hold many ranges.
    @inline(__always)
    private mutating func firstRange(endingAtOrAfter offset: Int) -> Int {
        var low = 0
        var high = rangeCount
        while low < high {
            let middle = (low + high) / 2
            if Int(ranges[middle].end) < offset { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Makes `[0, end)` in-order, absorbing the ranges it reaches, and re-bases
    /// the remaining ranges on the new RCV.NXT. Returns how far RCV.NXT moved.
    @inline(__always)
    private mutating func advance(to end: Int) -> Int {
        var inOrder = end
        var absorbed = 0
        while absorbed < rangeCount && Int(ranges[absorbed].start) <= inOrder {
            inOrder = max(inOrder, Int(ranges[absorbed].end))
            absorbed += 1
        }
        let shift = UInt32(inOrder)
        for index in absorbed..<rangeCount {
            let range = ranges[index]
            ranges[index - absorbed] = HeldRange(start: range.start - shift, end: range.end - shift, stamp: range.stamp)
        }
        rangeCount -= absorbed
        readable += inOrder
        return inOrder
    }

    @inline(__always)
    private mutating func removeRanges(_ removed: Range<Int>) {
        guard !removed.isEmpty else { return }
        for index in removed.upperBound..<rangeCount {
            ranges[index - removed.count] = ranges[index]
        }
        rangeCount -= removed.count
    }

    /// Copies `count` bytes to the ring at `offset` bytes after RCV.NXT, in at most
    /// two copies. `offset + count <= window`, so this only ever fills free space.
    @inline(__always)
    private func place(_ source: UnsafeRawPointer, count: Int, at offset: Int) {
        precondition(chunk.isAttached, "placing a payload in a ring without its chunk")
        let base = chunk.storage.baseAddress.unsafelyUnwrapped
        // head < capacity and readable + offset < capacity: one subtraction wraps it.
        let position = wrap(head + readable + offset)
        let first = min(count, capacity - position)
        (base + position).copyMemory(from: source, byteCount: first)
        if first < count {
            base.copyMemory(from: source + first, byteCount: count - first)
        }
    }

    // MARK: - Reading by the application

    /// Out-of-order ranges held.
    public var outOfOrderRanges: Int { rangeCount }

    /// The out-of-order range that already holds all `count` bytes at `offset`
    /// from RCV.NXT (a duplicate, for D-SACK), if one does.
    public mutating func range(holding offset: Int, count: Int) -> ReceiveBufferRange? {
        let index = firstRange(endingAtOrAfter: offset + count)
        return index < rangeCount && Int(ranges[index].start) <= offset ? ranges[index].range : nil
    }

    /// Copies up to `destination.count` in-order bytes out and consumes them.
    public mutating func read(into destination: UnsafeMutableRawBufferPointer) -> Int {
        let n = min(destination.count, readable)
        guard n > 0 else { return 0 }
        let base = UnsafeRawPointer(chunk.storage.baseAddress.unsafelyUnwrapped)
        let target = destination.baseAddress.unsafelyUnwrapped
        let first = min(n, capacity - head)
        target.copyMemory(from: base + head, byteCount: first)
        if first < n {
            (target + first).copyMemory(from: base, byteCount: n - first)
        }
        consume(n)
        return n
    }

    /// The readable bytes in place, for parsers that do not want a copy: the
    /// second region is non-empty only when the data wraps around the ring's end.
    /// Valid until the next `write`, `consume`, `read`, `reset` or detached chunk
    /// (the engine detaches an empty buffer's chunk when a call returns).
    public var readableRegions: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) {
        guard readable > 0 else {
            return (UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let base = UnsafeRawPointer(chunk.storage.baseAddress.unsafelyUnwrapped)
        let first = min(readable, capacity - head)
        return (UnsafeRawBufferPointer(start: base + head, count: first),
                UnsafeRawBufferPointer(start: first < readable ? base : nil, count: readable - first))
    }

    /// Drops the `n` oldest readable bytes (the application has used them).
    @inline(__always)
    public mutating func consume(_ n: Int) {
        precondition(n >= 0 && n <= readable, "consuming more than is readable")
        readable -= n
        // With nothing held at all the ring restarts at index 0, so that the next
        // request arrives in one contiguous region for the application's parser.
        head = readable == 0 && rangeCount == 0 ? 0 : wrap(head + n)
    }

    // MARK: - Selective acknowledgement

    /// Up to `limit` (at most four, as the option holds) out-of-order ranges for
    /// the SACK option (RFC 2018 §4): first the one holding the most recently
    /// received segment, then the others from the most to the least recently
    /// updated, so that each range is reported in several ACKs in a row even when
    /// only a few fit. Offsets relative to RCV.NXT.
    public mutating func sackBlocks(limit: Int) -> ReceiveBufferSACKBlocks {
        var blocks = ReceiveBufferSACKBlocks()
        // Stamps are distinct (each write stamps one range anew), so each round
        // takes the youngest range older than the one taken before it.
        var youngerThanThis: UInt32? = nil
        for _ in 0..<min(max(limit, 0), rangeCount, ReceiveBufferSACKBlocks.capacity) {
            var best = -1
            var bestAge = UInt32.max
            for index in 0..<rangeCount {
                let age = clock &- ranges[index].stamp
                if age <= bestAge, youngerThanThis.map({ age > $0 }) ?? true {
                    best = index
                    bestAge = age
                }
            }
            guard best >= 0 else { break }
            youngerThanThis = bestAge
            blocks.append(ranges[best].range)
        }
        return blocks
    }

    /// Where the range that a write of `count` bytes at `offset` would update
    /// stands in the SACK option's order before that write: 0 when it extends the
    /// most recently updated range, `k` when `k` ranges were updated after it, and
    /// `outOfOrderRanges` when it would start a range of its own (every range
    /// then moves down a place). 0 for in-order data and for bytes the buffer
    /// would not take (beyond the window, or a range beyond `maxRanges`). What
    /// `write` would do, without doing it.
    public mutating func sackRecencyRank(ofWriteAt offset: Int, count: Int) -> Int {
        let start = max(offset, 0)
        let end = min(offset + count, window)
        guard start > 0, start < end else { return 0 }
        let first = firstRange(endingAtOrAfter: start)
        var youngestAge = UInt32.max
        var index = first
        while index < rangeCount && Int(ranges[index].start) <= end {
            youngestAge = min(youngestAge, clock &- ranges[index].stamp)
            index += 1
        }
        guard index > first else { return rangeCount < Self.maxRanges ? rangeCount : 0 }
        var younger = 0
        for other in 0..<rangeCount where clock &- ranges[other].stamp < youngestAge { younger += 1 }
        return younger
    }

    /// `sackBlocks(limit:)` as sequence numbers, ready for `TCPOptions.sackBlocks`.
    public mutating func sackBlockList(limit: Int, receiveNext: UInt32) -> SACKBlockList {
        var list = SACKBlockList()
        for block in sackBlocks(limit: min(limit, SACKBlockList.capacity)) {
            list.append(SACKBlock(left: receiveNext &+ UInt32(truncatingIfNeeded: block.start),
                                  right: receiveNext &+ UInt32(truncatingIfNeeded: block.end)))
        }
        return list
    }

    /// `index` reduced into 0..<capacity, for an `index` below 2 * capacity: one
    /// compare instead of a division, since chunk sizes need not be powers of two.
    @inline(__always)
    private func wrap(_ index: Int) -> Int {
        index >= capacity ? index - capacity : index
    }
}
