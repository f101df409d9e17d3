/// The data list under SRPT: connections by fewest remaining bytes, a binary
/// min-heap allocated once, O(log n) per push and pop.
///
/// The starvation guard is aging: an entry's key is its remaining bytes plus
/// `agingBytesPerMicrosecond` for every microsecond of the time it started
/// waiting. Keys of entries waiting together differ by their remaining bytes
/// less what the earlier one has earned by waiting, so a long flow that has
/// waited long enough goes before newcomers. The engine keeps each flow's age
/// (`TCPConnection.lineWaited`: time waited unserved) across its turns and its
/// waits for the peer, and enters it as an earlier start. Entries of ended
/// connections are skipped when popped, as in `ConnectionQueue`.
struct SizeOrderedQueue: ~Copyable {
    struct Entry {
        var key: UInt64
        var waitingSince: Instant
        var id: ConnectionID
    }

    /// 16 bytes per microsecond (128 Mbit/s): a 1 MiB flow goes before a new
    /// 4 KiB one after about 65 ms of waiting.
    static let agingBytesPerMicrosecond: UInt64 = 16

    private let entries: UnsafeMutableBufferPointer<Entry>
    private(set) var count = 0

    init(capacity: Int) {
        entries = .allocate(capacity: max(capacity, 1))
    }

    deinit { entries.deallocate() }

    @inline(__always)
    static func key(remaining: Int, waitingSince: Instant) -> UInt64 {
        UInt64(remaining) &+ waitingSince.nanoseconds / 1000 &* agingBytesPerMicrosecond
    }

    @inline(__always)
    mutating func push(_ id: ConnectionID, remaining: Int, waitingSince: Instant) -> Bool {
        guard count < entries.count else { return false }
        var index = count
        count += 1
        let entry = Entry(key: Self.key(remaining: remaining, waitingSince: waitingSince),
                          waitingSince: waitingSince, id: id)
        while index > 0 {
            let parent = (index - 1) / 2
            guard entries[parent].key > entry.key else { break }
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
            if child + 1 < count && entries[child + 1].key < entries[child].key { child += 1 }
            guard entries[child].key < entry.key else { break }
            entries[index] = entries[child]
            index = child
        }
        entries[index] = entry
    }

    /// Drops entries for which `isLive` is false and restores the heap. Used
    /// only when the heap is full of leftovers of ended connections.
    mutating func compact(keeping isLive: (ConnectionID) -> Bool) {
        var kept = 0
        for index in 0..<count where isLive(entries[index].id) {
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
