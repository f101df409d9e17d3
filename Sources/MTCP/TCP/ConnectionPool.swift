/// All connections of one engine, allocated at start-up from `max_concurrency`
/// (mTCP's per-core TCB pool): taking and returning one is O(1) and never
/// allocates, and an empty pool is an answer (nil), not a crash.
///
/// The pool hands out pointers into its storage so that the engine can run a
/// connection's `mutating` methods in place, with no copy of the large struct;
/// nothing else in the stack holds such a pointer beyond one engine call.
struct ConnectionPool: ~Copyable {
    private let blocks: UnsafeMutableBufferPointer<TCPConnection>
    private let freeSlots: UnsafeMutableBufferPointer<Int32>
    private var freeCount: Int
    /// A block as a new slot holds it, copied over a released one: a few moves
    /// instead of building it field by field, with its nested buffers and
    /// estimators, for every connection (callgrind, mtcp-httpd's short flows:
    /// releasing a connection went from 1,096 instructions to 393).
    private let pristine: UnsafeMutablePointer<TCPConnection>
    /// The byte runs of a block that `release` copies from `pristine`: all of
    /// it but the inline arrays of its loss state (`TCPConnection.inlineArrayBytes`),
    /// 4 KB whose entries past their counts are never read. Copying those too
    /// cost about 600 instructions and 64 cache lines written per connection.
    private let resetRuns: InlineArray<4, Range<Int>>

    init(capacity: Int) {
        // A block is reset by copying bytes, which is sound only for a type with
        // no reference counted or otherwise non-trivial field.
        precondition(_isPOD(TCPConnection.self), "TCPConnection must stay a plain value (no references)")
        pristine = .allocate(capacity: 1)
        pristine.initialize(to: TCPConnection())
        resetRuns = Self.runs(around: TCPConnection.inlineArrayBytes, in: MemoryLayout<TCPConnection>.size)
        blocks = .allocate(capacity: capacity)
        for slot in 0..<capacity {
            (blocks.baseAddress.unsafelyUnwrapped + slot).initialize(to: TCPConnection(slot: Int32(slot)))
        }
        freeSlots = .allocate(capacity: capacity)
        // Lowest index on top: early connections get low, cache-friendly slots.
        for slot in 0..<capacity { freeSlots[slot] = Int32(capacity - 1 - slot) }
        freeCount = capacity
    }

    deinit {
        blocks.deinitialize()
        blocks.deallocate()
        freeSlots.deallocate()
        pristine.deinitialize(count: 1)
        pristine.deallocate()
    }

    /// The runs of `0..<size` outside `holes` (sorted, disjoint), as four ranges
    /// (empty ones where there are fewer).
    static func runs(around holes: InlineArray<3, Range<Int>>, in size: Int) -> InlineArray<4, Range<Int>> {
        var runs = InlineArray<4, Range<Int>>(repeating: 0..<0)
        var start = 0
        for index in holes.indices {
            precondition(holes[index].lowerBound >= start && holes[index].upperBound <= size, "holes out of order")
            runs[index] = start..<holes[index].lowerBound
            start = holes[index].upperBound
        }
        runs[3] = start..<size
        return runs
    }

    var capacity: Int { blocks.count }
    var inUse: Int { blocks.count - freeCount }

    /// A fresh control block, or nil when all are in use.
    @inline(__always)
    mutating func allocate() -> (ConnectionID, UnsafeMutablePointer<TCPConnection>)? {
        guard freeCount > 0 else { return nil }
        freeCount -= 1
        let index = freeSlots[freeCount]
        let block = blocks.baseAddress.unsafelyUnwrapped + Int(index)
        block.pointee.inUse = true
        return (ConnectionID(index: index, generation: block.pointee.generation), block)
    }

    /// Returns a block to the pool; handles to it become stale.
    @inline(__always)
    mutating func release(_ index: Int32) {
        let block = blocks.baseAddress.unsafelyUnwrapped + Int(index)
        precondition(block.pointee.inUse, "control block released twice")
        let generation = block.pointee.generation &+ 1
        let source = UnsafeRawPointer(pristine), target = UnsafeMutableRawPointer(block)
        for index in resetRuns.indices where !resetRuns[index].isEmpty {
            let run = resetRuns[index]
            (target + run.lowerBound).copyMemory(from: source + run.lowerBound, byteCount: run.count)
        }
        #if DEBUG
        // What the last connection left past the counts must never be read: in
        // debug builds (the unit tests) it is poisoned, so such a read shows.
        let holes = TCPConnection.inlineArrayBytes
        for index in holes.indices {
            (target + holes[index].lowerBound).initializeMemory(as: UInt8.self, repeating: 0xA5,
                                                                count: holes[index].count)
        }
        #endif
        block.pointee.generation = generation
        block.pointee.slot = index
        freeSlots[freeCount] = index
        freeCount += 1
    }

    /// The block of a live handle, nil for a stale or bogus one.
    @inline(__always)
    func block(_ id: ConnectionID) -> UnsafeMutablePointer<TCPConnection>? {
        guard id.index >= 0, Int(id.index) < blocks.count else { return nil }
        let block = blocks.baseAddress.unsafelyUnwrapped + Int(id.index)
        guard block.pointee.inUse, block.pointee.generation == id.generation else { return nil }
        return block
    }

    /// The block in slot `index`, whatever its state (for timers and the flow table,
    /// which hold indices of live connections only).
    @inline(__always)
    func block(at index: Int32) -> UnsafeMutablePointer<TCPConnection> {
        blocks.baseAddress.unsafelyUnwrapped + Int(index)
    }

    /// A copyable view for liveness checks where the pool itself cannot be captured.
    var lookup: ConnectionLookup { ConnectionLookup(blocks: UnsafeBufferPointer(blocks)) }
}

/// Checks whether a handle still names a live connection, by reading the pool's
/// storage directly.
struct ConnectionLookup {
    let blocks: UnsafeBufferPointer<TCPConnection>

    @inline(__always)
    func isLive(_ id: ConnectionID) -> Bool {
        guard id.index >= 0, Int(id.index) < blocks.count else { return false }
        return blocks[Int(id.index)].inUse && blocks[Int(id.index)].generation == id.generation
    }
}
