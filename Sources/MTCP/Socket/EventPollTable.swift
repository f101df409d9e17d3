/// The event polls of one core and their ready lists. A ready list is a FIFO
/// threaded through the socket entries (`SocketEntry.previous/next`), so a
/// socket is queued at most once and removed in O(1) when it is closed.
struct EventPollTable: ~Copyable {
    struct ReadyList {
        var active = false
        /// Advanced when the poll closes: handles of earlier polls in this slot go stale.
        var generation: UInt32 = 0
        var head: Int32 = -1
        var tail: Int32 = -1
        var count = 0
    }

    /// Few polls per core are ever needed (epserver and epwget use one).
    static let capacity = 16

    private let lists: UnsafeMutableBufferPointer<ReadyList>

    init() {
        lists = .allocate(capacity: Self.capacity)
        lists.initialize(repeating: ReadyList())
    }

    deinit { lists.deallocate() }

    mutating func create() -> EventPoll? {
        guard let index = lists.firstIndex(where: { !$0.active }) else { return nil }
        lists[index].active = true
        return EventPoll(index: index, generation: lists[index].generation)
    }

    /// True when `poll` is open and the handle is of this poll, not of an
    /// earlier one closed in the same slot.
    func isValid(_ poll: EventPoll) -> Bool {
        poll.index >= 0 && poll.index < lists.count && lists[poll.index].active
            && lists[poll.index].generation == poll.generation
    }

    /// Marks the poll closed; the caller has unregistered its sockets.
    mutating func destroy(_ poll: Int) { lists[poll] = ReadyList(generation: lists[poll].generation &+ 1) }

    func count(_ poll: Int) -> Int { lists[poll].count }

    /// Queues socket `index` at the tail of its poll's list, unless already queued.
    mutating func enqueue(_ index: Int32, in entries: UnsafeMutableBufferPointer<SocketEntry>) {
        guard !entries[Int(index)].queued else { return }
        let poll = Int(entries[Int(index)].poll)
        entries[Int(index)].queued = true
        entries[Int(index)].previous = lists[poll].tail
        entries[Int(index)].next = -1
        if lists[poll].tail >= 0 {
            entries[Int(lists[poll].tail)].next = index
        } else {
            lists[poll].head = index
        }
        lists[poll].tail = index
        lists[poll].count += 1
    }

    /// Takes the socket at the head of `poll`'s list.
    mutating func dequeue(_ poll: Int, in entries: UnsafeMutableBufferPointer<SocketEntry>) -> Int32? {
        let head = lists[poll].head
        guard head >= 0 else { return nil }
        remove(head, in: entries)
        return head
    }

    /// Unlinks socket `index` from its poll's list, if it is queued.
    mutating func remove(_ index: Int32, in entries: UnsafeMutableBufferPointer<SocketEntry>) {
        guard entries[Int(index)].queued else { return }
        let poll = Int(entries[Int(index)].poll)
        let previous = entries[Int(index)].previous
        let next = entries[Int(index)].next
        if previous >= 0 { entries[Int(previous)].next = next } else { lists[poll].head = next }
        if next >= 0 { entries[Int(next)].previous = previous } else { lists[poll].tail = previous }
        entries[Int(index)].queued = false
        entries[Int(index)].previous = -1
        entries[Int(index)].next = -1
        lists[poll].count -= 1
    }
}
