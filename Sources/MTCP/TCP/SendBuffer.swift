/// The bytes of one connection that the application has written and the peer has
/// not yet acknowledged, oldest (the byte at SND.UNA) first.
///
/// A ring over one chunk of a `BufferChunkPool`: a plain struct of a pointer and
/// a few integers, so it lives inside the connection's control block with no
/// class, no reference counting and no allocation. Bytes not yet sent and bytes
/// sent but unacknowledged are one contiguous run; the connection knows how many
/// it has sent (SND.NXT - SND.UNA) and builds segments with
/// `copy(from:count:into:)`, which also serves retransmissions from offset 0.
/// The buffer does not own its chunk, and needs one only while its ring holds
/// bytes: the engine attaches a chunk before a write and takes it back
/// (`chunkCanGoBack`, `LentChunk`) once the peer has acknowledged everything in the ring, so
/// that an idle connection pins no buffer memory and the pool's stack hands
/// the few chunks in use at a time back and forth while their lines are
/// still cached, however many connections are open.
///
/// Besides copies in the ring, the buffer holds references to immutable memory
/// of the application's (`appendReference`, a cached response): those bytes are
/// sent, and resent, from where they lie, with no copy into the ring, and count
/// against the capacity as copies do, so SO_SNDBUF bounds what is in flight
/// either way. While it holds any, the buffer keeps its bytes as a short list of
/// runs, each in the ring or in one region; the application must keep a region
/// alive until the bytes are acknowledged or the connection is gone, and each
/// run carries the application's `tag` for it so that a connection still
/// holding a region about to be freed can be found (`referencesTag(below:)`).
public struct SendBuffer {
    /// One run of the held bytes: `length` bytes in the ring (`start` nil) or
    /// at `start`, a region of the application's tagged `tag`.
    struct Run {
        var start: UnsafeRawPointer?
        var length: Int
        var tag: UInt32
    }
    /// Runs held at most. References take all but one, which is left for the
    /// ring's next run: a reference beyond them is copied into the ring (many
    /// small responses pipelined), so that a write never waits for runs.
    static let maximumRuns = 4

    /// The ring's chunk, while it holds bytes, and the capacity (see
    /// `LentChunk`); the engine attaches and detaches it.
    public internal(set) var chunk: LentChunk
    /// Ring index of the oldest byte in the ring.
    private var head = 0
    /// Bytes held in the ring.
    private var ringCount = 0
    /// Bytes held: unacknowledged plus not yet sent, in the ring or referenced.
    public private(set) var count = 0
    /// The held bytes as runs, oldest first, while the buffer holds references;
    /// 0 while all of them are in the ring (the common case, kept as cheap as
    /// a plain ring).
    private var runCount = 0
    private var runs = InlineArray<4, Run>(repeating: Run(start: nil, length: 0, tag: 0))

    /// A buffer with no storage (capacity 0), for a control block not in use.
    @inline(__always)
    public init() { chunk = LentChunk(capacity: 0) }

    /// An empty buffer over `storage`, attached for good (the engine uses
    /// `reset` and lends chunks).
    @inline(__always)
    public init(storage: UnsafeMutableRawBufferPointer) { chunk = LentChunk(capacity: storage.count, storage: storage) }

    /// Empties the buffer for a new connection: `capacity` bytes, over `storage`
    /// or, when that is empty, without a chunk until the engine attaches one.
    @inline(__always)
    public mutating func reset(capacity: Int, storage: UnsafeMutableRawBufferPointer) {
        chunk = LentChunk(capacity: capacity, storage: storage)
        head = 0
        ringCount = 0
        count = 0
        runCount = 0
    }

    /// Whether the chunk can go back to its pool: nothing left in the ring
    /// (references need none).
    @inline(__always) public var chunkCanGoBack: Bool { ringCount == 0 && chunk.isAttached }

    /// Bytes the buffer can hold.
    @inline(__always) public var capacity: Int { chunk.capacity }

    /// Bytes the application can still write.
    @inline(__always) public var free: Int { capacity - count }
    @inline(__always) public var isEmpty: Bool { count == 0 }

    /// Copies as much of `bytes` as fits after the newest byte; returns how much.
    /// A short count is the application's back-pressure (the socket is not writable).
    @discardableResult
    @inline(__always)
    public mutating func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        append(upTo: bytes.count) { first, second in
            let source = bytes.baseAddress.unsafelyUnwrapped
            first.baseAddress.unsafelyUnwrapped.copyMemory(from: source, byteCount: first.count)
            if !second.isEmpty {
                second.baseAddress.unsafelyUnwrapped.copyMemory(from: source + first.count, byteCount: second.count)
            }
            return first.count + second.count
        }
    }

    /// Lets `produce` write up to `limit` bytes after the newest byte, in place
    /// (a file read straight into the buffer, with no copy through the
    /// application): it gets the free room as one or two runs, the second from
    /// the start of the ring, fills them in order and returns how many bytes it
    /// wrote, which become part of the buffer. Nothing is called without room
    /// (nor while all runs are taken by references).
    @inline(__always)
    public mutating func append(upTo limit: Int,
                                producingWith produce: (_ first: UnsafeMutableRawBufferPointer,
                                                        _ second: UnsafeMutableRawBufferPointer) -> Int) -> Int {
        let n = min(limit, free)
        guard n > 0 else { return 0 }
        precondition(chunk.isAttached, "appending to a ring without its chunk")
        // Referenced bytes take capacity but no ring room: the ring has at
        // least `free` bytes of room, as it holds at most `count` bytes.
        let base = chunk.storage.baseAddress.unsafelyUnwrapped
        let tail = wrap(head + ringCount)
        let first = min(n, capacity - tail)
        let produced = produce(UnsafeMutableRawBufferPointer(start: base + tail, count: first),
                               UnsafeMutableRawBufferPointer(start: base, count: n - first))
        precondition(produced >= 0 && produced <= n, "produced a count outside 0...room")
        guard produced > 0 else { return 0 }
        if runCount > 0 {
            if runs[runCount - 1].start == nil {
                runs[runCount - 1].length += produced
            } else {
                runs[runCount] = Run(start: nil, length: produced, tag: 0)
                runCount += 1
            }
        }
        ringCount += produced
        count += produced
        return produced
    }

    /// Takes as much of `region` as fits by reference, without copying it,
    /// or copies it when the runs for references are taken; returns how much.
    /// The region must stay unchanged and alive until its bytes are
    /// acknowledged or the buffer is reset; `tag` names it for
    /// `referencesTag(below:)`.
    public mutating func appendReference(_ region: UnsafeRawBufferPointer, tag: UInt32) -> Int {
        let n = min(region.count, free)
        guard n > 0, let start = region.baseAddress else { return 0 }
        if runCount > 0, let last = runs[runCount - 1].start, runs[runCount - 1].tag == tag,
           last + runs[runCount - 1].length == start {
            runs[runCount - 1].length += n  // the next part of the same region
            count += n
            return n
        }
        let held = runCount > 0 ? runCount : ringCount > 0 ? 1 : 0
        guard held <= Self.maximumRuns - 2 else { return append(UnsafeRawBufferPointer(start: start, count: n)) }
        if runCount == 0 && ringCount > 0 {
            runs[0] = Run(start: nil, length: ringCount, tag: 0)
            runCount = 1
        }
        runs[runCount] = Run(start: start, length: n, tag: tag)
        runCount += 1
        count += n
        return n
    }

    /// Whether a run references a region whose tag is below `tag`.
    public mutating func referencesTag(below tag: UInt32) -> Bool {
        for index in 0..<runCount where runs[index].start != nil && runs[index].tag < tag { return true }
        return false
    }

    /// Copies `count` bytes starting `offset` bytes after the oldest one into
    /// `destination` (a segment's payload): from the ring in at most two
    /// copies, and from the referenced regions the range crosses.
    public func copy(from offset: Int, count: Int, into destination: UnsafeMutableRawPointer) {
        precondition(offset >= 0 && count >= 0 && offset <= self.count - count, "range beyond the buffered bytes")
        guard count > 0 else { return }
        guard runCount > 0 else { return copyFromRing(from: offset, count: count, into: destination) }
        var runStart = 0, ringOffset = 0, copied = 0
        for index in 0..<runCount {
            let run = runs[index]
            let from = offset + copied - runStart
            if from < run.length {
                let n = min(run.length - from, count - copied)
                if let start = run.start {
                    (destination + copied).copyMemory(from: start + from, byteCount: n)
                } else {
                    copyFromRing(from: ringOffset + from, count: n, into: destination + copied)
                }
                copied += n
                if copied == count { return }
            }
            runStart += run.length
            if run.start == nil { ringOffset += run.length }
        }
    }

    /// Drops the `n` oldest bytes, which the peer has acknowledged (SND.UNA advanced by `n`).
    @inline(__always)
    public mutating func acknowledge(_ n: Int) {
        precondition(n >= 0 && n <= count, "acknowledging more than was buffered")
        count -= n
        guard runCount == 0 else { return acknowledgeRuns(n) }
        ringCount -= n
        // An empty ring restarts at index 0, so the next write and the segments cut
        // from it are contiguous (one copy each) for as long as they fit.
        head = ringCount == 0 ? 0 : wrap(head + n)
    }

    /// `acknowledge` while the buffer holds runs: drops whole runs and the
    /// front of a partly acknowledged one, and goes back to the plain ring
    /// once no reference is left.
    private mutating func acknowledgeRuns(_ n: Int) {
        var left = n, dropped = 0
        while left > 0 {
            let taken = min(left, runs[dropped].length)
            if runs[dropped].start == nil {
                ringCount -= taken
                head = ringCount == 0 ? 0 : wrap(head + taken)
            }
            left -= taken
            if taken == runs[dropped].length {
                dropped += 1
            } else {
                runs[dropped].length -= taken
                if let start = runs[dropped].start { runs[dropped].start = start + taken }
            }
        }
        for index in dropped..<runCount { runs[index - dropped] = runs[index] }
        runCount -= dropped
        if runCount == 1 && runs[0].start == nil || count == 0 { runCount = 0 }
    }

    /// Copies `count` ring bytes from `offset` bytes after the oldest one in
    /// the ring into `destination`, in at most two copies.
    @inline(__always)
    private func copyFromRing(from offset: Int, count: Int, into destination: UnsafeMutableRawPointer) {
        let base = UnsafeRawPointer(chunk.storage.baseAddress.unsafelyUnwrapped)
        let start = wrap(head + offset)
        let first = min(count, capacity - start)
        destination.copyMemory(from: base + start, byteCount: first)
        if first < count {
            (destination + first).copyMemory(from: base, byteCount: count - first)
        }
    }

    /// `index` reduced into 0..<capacity, for an `index` below 2 * capacity: one
    /// compare instead of a division, since chunk sizes need not be powers of two.
    @inline(__always)
    private func wrap(_ index: Int) -> Int {
        index >= capacity ? index - capacity : index
    }
}
