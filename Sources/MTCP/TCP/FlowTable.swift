/// The per-core connection table: 4-tuple -> control-block index, by open
/// addressing with linear probing over storage allocated once.
///
/// Deletion shifts later entries of the probe run back (no tombstones), so the
/// table does not slow down under the churn of millions of short connections.
/// The hash is SipHash keyed per engine: a peer that can choose ports cannot
/// aim its connections at one probe run (hash flooding).
struct FlowTable: ~Copyable {
    private struct Slot {
        var key: FourTuple
        /// -1 marks an empty slot.
        var value: Int32
    }

    private let slots: UnsafeMutableBufferPointer<Slot>
    private let mask: Int
    private let hasher: SipHash
    private(set) var count = 0
    /// Most entries admitted: half the slots, keeping probe runs short.
    let capacity: Int

    init(maximumCount: Int, seed: UInt64) {
        var size = 16
        while size < maximumCount * 2 { size <<= 1 }
        slots = .allocate(capacity: size)
        slots.initialize(repeating: Slot(key: FourTuple(localAddress: .any, localPort: 0, remoteAddress: .any,
                                                        remotePort: 0), value: -1))
        mask = size - 1
        capacity = max(maximumCount, size / 2)
        hasher = SipHash(key0: seed, key1: seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    deinit { slots.deallocate() }

    @inline(__always)
    private func home(_ key: FourTuple) -> Int {
        let words = key.packedWords
        return Int(truncatingIfNeeded: hasher.hash(words.0, words.1)) & mask
    }

    /// The slot holding `key`, or the empty slot that ends its probe run.
    @inline(__always)
    private func find(_ key: FourTuple) -> Int {
        var index = home(key)
        while slots[index].value >= 0 && slots[index].key != key { index = (index + 1) & mask }
        return index
    }

    @inline(__always)
    func lookup(_ key: FourTuple) -> Int32? {
        let slot = slots[find(key)]
        return slot.value >= 0 ? slot.value : nil
    }

    /// Adds `key`; false when it is already there or the table is full.
    @inline(__always)
    mutating func insert(_ key: FourTuple, _ value: Int32) -> Bool {
        precondition(value >= 0, "flow table values are control-block indices")
        guard count < capacity else { return false }
        let index = find(key)
        guard slots[index].value < 0 else { return false }
        slots[index] = Slot(key: key, value: value)
        count += 1
        return true
    }

    /// Removes `key`, returning its value.
    @discardableResult
    mutating func remove(_ key: FourTuple) -> Int32? {
        var hole = find(key)
        guard slots[hole].value >= 0 else { return nil }
        let removed = slots[hole].value
        slots[hole].value = -1
        count -= 1
        // Backward-shift deletion: move up every later entry of the run that may
        // live in the hole (its home is not cyclically between hole and itself).
        var next = (hole + 1) & mask
        while slots[next].value >= 0 {
            let desired = home(slots[next].key)
            let distanceToNext = (next - desired) & mask
            let distanceToHole = (hole - desired) & mask
            if distanceToHole < distanceToNext {
                slots[hole] = slots[next]
                slots[next].value = -1
                hole = next
            }
            next = (next + 1) & mask
        }
        return removed
    }
}
