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
    /// A block as a new slot holds it, copied over a released one: one move of
    /// the struct instead of building it field by field, with its nested buffers
    /// and estimators, for every connection (callgrind, mtcp-httpd's short flows:
    /// releasing a connection went from 1,096 instructions to 393).
    private let pristine = TCPConnection()

    init(capacity: Int) {
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
        block.pointee = pristine
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
