import MTCP

/// The requests of one pool that wait while every server that is up is at its
/// `max_connections`: client slots in order of arrival, first come first served.
///
/// A doubly linked list through a table of `capacity` entries allocated with
/// the pool, unused entries on a free list: taking a request out from
/// anywhere (its client closed, a reload) costs O(1) and nothing is allocated
/// per request. A request holds a `Ticket` (its entry and the entry's
/// generation): a ticket kept after its request left, whose entry serves
/// another request since, takes nothing out.
struct UpstreamQueue {
    /// Where a waiting request is.
    struct Ticket: Equatable {
        var entry: Int32 = -1
        var generation: UInt32 = 0
    }

    private struct Entry {
        var slot: Int32 = -1
        var since = Instant.zero
        var previous: Int32 = -1
        /// The next entry in the queue, or on the free list.
        var next: Int32 = -1
        /// Counts the requests the entry has held.
        var generation: UInt32 = 0
        var isWaiting = false
    }

    private var entries: [Entry]
    /// The oldest and the newest request, and the first unused entry; -1: none.
    private var head: Int32 = -1
    private var tail: Int32 = -1
    private var free: Int32 = -1
    private(set) var count = 0

    init(capacity: Int) {
        entries = Array(repeating: Entry(), count: capacity)
        for index in entries.indices { entries[index].next = index + 1 < capacity ? Int32(index + 1) : -1 }
        free = capacity > 0 ? 0 : -1
    }

    var capacity: Int { entries.count }

    /// The oldest request: its client's slot and when it came.
    var oldest: (slot: Int32, since: Instant)? {
        head < 0 ? nil : (entries[Int(head)].slot, entries[Int(head)].since)
    }

    /// Puts client `slot`, waiting since `since`, behind those that came
    /// before it: at the back for a request that comes now, further up for
    /// one that waited already (a reload's pools, a server that had no room
    /// after all), which keeps its turn. Nil when the queue is full.
    mutating func insert(_ slot: Int32, since: Instant) -> Ticket? {
        guard free >= 0 else { return nil }
        let entry = free
        free = entries[Int(entry)].next
        var after = tail
        while after >= 0 && entries[Int(after)].since > since { after = entries[Int(after)].previous }
        let before = after >= 0 ? entries[Int(after)].next : head
        entries[Int(entry)].slot = slot
        entries[Int(entry)].since = since
        entries[Int(entry)].previous = after
        entries[Int(entry)].next = before
        entries[Int(entry)].generation &+= 1
        entries[Int(entry)].isWaiting = true
        if after >= 0 { entries[Int(after)].next = entry } else { head = entry }
        if before >= 0 { entries[Int(before)].previous = entry } else { tail = entry }
        count += 1
        return Ticket(entry: entry, generation: entries[Int(entry)].generation)
    }

    /// Takes the request of `ticket` out; false when it is not waiting (any more).
    @discardableResult
    mutating func remove(_ ticket: Ticket) -> Bool {
        guard entries.indices.contains(Int(ticket.entry)) else { return false }
        let entry = Int(ticket.entry)
        guard entries[entry].isWaiting && entries[entry].generation == ticket.generation else { return false }
        let previous = entries[entry].previous, next = entries[entry].next
        if previous >= 0 { entries[Int(previous)].next = next } else { head = next }
        if next >= 0 { entries[Int(next)].previous = previous } else { tail = previous }
        entries[entry].isWaiting = false
        entries[entry].next = free
        free = ticket.entry
        count -= 1
        return true
    }

    /// Takes the oldest request out; its client's slot.
    mutating func removeOldest() -> Int32? {
        guard head >= 0 else { return nil }
        let slot = entries[Int(head)].slot
        remove(Ticket(entry: head, generation: entries[Int(head)].generation))
        return slot
    }
}
