/// Connections by a key, smallest first, equal keys by a second one: a binary
/// min-heap allocated once, O(log n) per push and pop. SRPT's data list keys it
/// by the bytes a flow has left, then by the order in which flows began to wait;
/// its starvation guard by that order alone (`Engine+DataScheduling`). Entries of ended connections, or ones the owner
/// no longer means, are skipped by the owner when they come up, as in
/// `ConnectionQueue`, and dropped by `compact` when the heap is full.
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
    private(set) var count = 0

    init(capacity: Int) {
        entries = .allocate(capacity: max(capacity, 1))
    }

    deinit { entries.deallocate() }

    /// The smallest entry, left in place.
    var top: Entry? { count > 0 ? entries[0] : nil }

    @inline(__always)
    mutating func push(_ id: ConnectionID, key: UInt64, tieBreak: UInt64 = 0) -> Bool {
        guard count < entries.count else { return false }
        var index = count
        count += 1
        let entry = Entry(key: key, tieBreak: tieBreak, id: id)
        while index > 0 {
            let parent = (index - 1) / 2
            guard entry.precedes(entries[parent]) else { break }
            entries[index] = entries[parent]
            index = parent
        }
        entries[index] = entry
        return true
    }

    @inline(__always)
    mutating func pop() -> Entry? {
        guard count > 0 else { return nil }
        let top = entries[0]
        count -= 1
        if count > 0 { siftDown(entries[count], from: 0) }
        return top
    }

    private func siftDown(_ entry: Entry, from start: Int) {
        var index = start
        while true {
            var child = 2 * index + 1
            guard child < count else { break }
            if child + 1 < count && entries[child + 1].precedes(entries[child]) { child += 1 }
            guard entries[child].precedes(entry) else { break }
            entries[index] = entries[child]
            index = child
        }
        entries[index] = entry
    }

    /// Drops entries for which `isWanted` is false and restores the heap. Used
    /// only when the heap is full of leftovers.
    mutating func compact(keeping isWanted: (Entry) -> Bool) {
        var kept = 0
        for index in 0..<count where isWanted(entries[index]) {
            entries[kept] = entries[index]
            kept += 1
        }
        count = kept
        var index = count / 2
        while index > 0 {
            index -= 1
            siftDown(entries[index], from: index)
        }
    }
}
