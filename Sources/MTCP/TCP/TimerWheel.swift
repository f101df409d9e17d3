/// A hashed timer wheel: O(1) schedule and cancel, expiry in deadline-slot order.
///
/// Timers are preallocated nodes named by an index (the TCP layer uses
/// `connection * timersPerConnection + kind`), linked into per-slot lists, so
/// arming or cancelling never allocates. A slot covers `granularity` of time; a
/// deadline further away than one turn of the wheel waits in its slot and is
/// skipped until a later turn reaches it. A timer never fires before its
/// deadline, and fires at the first poll at or after it (rounded to a slot).
struct TimerWheel: ~Copyable {
    private let deadlines: UnsafeMutableBufferPointer<UInt64>
    private let next: UnsafeMutableBufferPointer<Int32>
    private let previous: UnsafeMutableBufferPointer<Int32>
    /// The slot a node is linked into, -1 when it is not scheduled.
    private let slotOf: UnsafeMutableBufferPointer<Int32>
    private let heads: UnsafeMutableBufferPointer<Int32>
    private let mask: Int
    private let granularity: UInt64
    /// Every slot of ticks before this one has been emptied of due timers.
    private var currentTick: UInt64
    private(set) var scheduledCount = 0

    init(nodeCount: Int, slotCount: Int, granularity: TimeSpan, start: Instant) {
        precondition(slotCount > 0 && slotCount & (slotCount - 1) == 0, "slot count must be a power of two")
        precondition(granularity.nanoseconds > 0, "granularity must be positive")
        deadlines = .allocate(capacity: nodeCount)
        deadlines.initialize(repeating: 0)
        next = .allocate(capacity: nodeCount)
        next.initialize(repeating: -1)
        previous = .allocate(capacity: nodeCount)
        previous.initialize(repeating: -1)
        slotOf = .allocate(capacity: nodeCount)
        slotOf.initialize(repeating: -1)
        heads = .allocate(capacity: slotCount)
        heads.initialize(repeating: -1)
        mask = slotCount - 1
        self.granularity = granularity.nanoseconds
        currentTick = start.nanoseconds / granularity.nanoseconds
    }

    deinit {
        deadlines.deallocate()
        next.deallocate()
        previous.deallocate()
        slotOf.deallocate()
        heads.deallocate()
    }

    @inline(__always) func isScheduled(_ node: Int) -> Bool { slotOf[node] >= 0 }

    func deadline(of node: Int) -> Instant? {
        isScheduled(node) ? Instant(nanoseconds: deadlines[node]) : nil
    }

    /// Arms `node` for `deadline`, moving it if it was armed already.
    @inline(__always)
    mutating func schedule(_ node: Int, at deadline: Instant) {
        if isScheduled(node) { unlink(node) }
        deadlines[node] = deadline.nanoseconds
        // A deadline already past goes into the slot the next poll looks at.
        let tick = max(deadline.nanoseconds / granularity, currentTick)
        let slot = Int(truncatingIfNeeded: tick) & mask
        let head = heads[slot]
        next[node] = head
        previous[node] = -1
        if head >= 0 { previous[Int(head)] = Int32(node) }
        heads[slot] = Int32(node)
        slotOf[node] = Int32(slot)
        scheduledCount += 1
    }

    @inline(__always)
    mutating func cancel(_ node: Int) {
        if isScheduled(node) { unlink(node) }
    }

    @inline(__always)
    private mutating func unlink(_ node: Int) {
        let before = previous[node]
        let after = next[node]
        if before >= 0 { next[Int(before)] = after } else { heads[Int(slotOf[node])] = after }
        if after >= 0 { previous[Int(after)] = before }
        slotOf[node] = -1
        scheduledCount -= 1
    }

    /// Removes and returns one timer whose deadline is at or before `now`, the
    /// earliest slot first; nil when none is due. Call until nil.
    mutating func nextExpired(now: Instant) -> Int? {
        guard scheduledCount > 0 else {
            currentTick = max(currentTick, now.nanoseconds / granularity)
            return nil
        }
        let nowTick = now.nanoseconds / granularity
        // After a long pause one turn of the wheel visits every slot anyway.
        let slotCount = UInt64(mask + 1)
        if nowTick > currentTick + slotCount { currentTick = nowTick - slotCount }
        while currentTick <= nowTick {
            var node = heads[Int(truncatingIfNeeded: currentTick) & mask]
            while node >= 0 {
                if deadlines[Int(node)] <= now.nanoseconds {
                    unlink(Int(node))
                    return Int(node)
                }
                node = next[Int(node)]
            }
            // The slot of `now` stays current: timers may still be armed into it.
            guard currentTick < nowTick else { break }
            currentTick += 1
        }
        return nil
    }
}
