/// Connections by a key, smallest first, equal keys by a second one: a binary
/// min-heap allocated once, with at most one entry per connection slot and
/// each slot's position kept beside it, so that a connection is inserted,
/// re-keyed or removed in O(log n), wherever it is in the heap. SRPT's data
/// list keys it by the bytes a flow has left, then by the order in which flows
/// began to wait; its starvation guard by that order alone
/// (`Engine+DataScheduling`). The owner removes a connection when it leaves
/// the data list or ends, so the heap holds exactly the flows waiting now:
/// nothing stale to skip, and no scan to drop leftovers.
struct ConnectionHeap: ~Copyable {
    struct Entry {
        var key: UInt64
        var tieBreak: UInt64
        var id: ConnectionID

        @inline(__always)
        func precedes(_ other: Entry) -> Bool {
            key < other.key || (key == other.key && tieBreak < other.tieBreak)
        }
    }

    private let entries: UnsafeMutableBufferPointer<Entry>
    /// The index in `entries` of each connection slot's entry; -1: none.
    private let positions: UnsafeMutableBufferPointer<Int32>
    private(set) var count = 0

    /// Room for connection slots 0..<`slots` (0: a heap that is never used).
    init(slots: Int) {
        entries = .allocate(capacity: max(slots, 1))
        positions = .allocate(capacity: max(slots, 1))
        positions.initialize(repeating: -1)
    }

    deinit {
        entries.deallocate()
        positions.deallocate()
    }

    /// The smallest entry, left in place.
    var top: Entry? { count > 0 ? entries[0] : nil }

    /// Whether connection slot `slot` has an entry.
    @inline(__always)
    func contains(slot: Int32) -> Bool {
        slot >= 0 && Int(slot) < positions.count && positions[Int(slot)] >= 0
    }

    /// Puts `id` in the heap with this key, or moves its entry there if it has one.
    @inline(__always)
    mutating func insert(_ id: ConnectionID, key: UInt64, tieBreak: UInt64 = 0) {
        let entry = Entry(key: key, tieBreak: tieBreak, id: id)
        if contains(slot: id.index) {
            let index = Int(positions[Int(id.index)])
            let old = entries[index]
            if entry.precedes(old) { siftUp(entry, from: index) } else { siftDown(entry, from: index) }
            return
        }
        precondition(count < entries.count, "more entries than connection slots")
        count += 1
        siftUp(entry, from: count - 1)
    }

    /// Takes connection slot `slot`'s entry out, if it has one.
    @inline(__always)
    mutating func remove(slot: Int32) {
        guard contains(slot: slot) else { return }
        let index = Int(positions[Int(slot)])
        positions[Int(slot)] = -1
        count -= 1
        guard index < count else { return }
        let last = entries[count]
        if index > 0 && last.precedes(entries[(index - 1) / 2]) {
            siftUp(last, from: index)
        } else {
            siftDown(last, from: index)
        }
    }

    @inline(__always)
    mutating func pop() -> Entry? {
        guard let top else { return nil }
        remove(slot: top.id.index)
        return top
    }

    @inline(__always)
    private func place(_ entry: Entry, at index: Int) {
        entries[index] = entry
        positions[Int(entry.id.index)] = Int32(index)
    }

    private func siftUp(_ entry: Entry, from start: Int) {
        var index = start
        while index > 0 {
            let parent = (index - 1) / 2
            guard entry.precedes(entries[parent]) else { break }
            place(entries[parent], at: index)
            index = parent
        }
        place(entry, at: index)
    }

    private func siftDown(_ entry: Entry, from start: Int) {
        var index = start
        while true {
            var child = 2 * index + 1
            guard child < count else { break }
            if child + 1 < count && entries[child + 1].precedes(entries[child]) { child += 1 }
            guard entries[child].precedes(entry) else { break }
            place(entries[child], at: index)
            index = child
        }
        place(entry, at: index)
    }
}
