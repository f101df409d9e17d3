/// A FIFO of connection handles in a ring allocated once: the engine's output
/// lists (control, ACK, data) and its event list.
///
/// Entries carry the connection's generation, so an entry left behind by a
/// connection that ended is recognised and skipped when popped: ending a
/// connection never has to search the lists. Each connection is in each list at
/// most once (a flag in its control block says so), which bounds the live entries.
struct ConnectionQueue: ~Copyable {
    private let entries: UnsafeMutableBufferPointer<ConnectionID>
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        entries = .allocate(capacity: max(capacity, 1))
    }

    deinit { entries.deallocate() }

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    mutating func push(_ id: ConnectionID) -> Bool {
        guard count < entries.count else { return false }
        var tail = head + count
        if tail >= entries.count { tail -= entries.count }
        entries[tail] = id
        count += 1
        return true
    }

    /// Puts `id` back at the head: a connection popped but not served keeps its place.
    @inline(__always)
    mutating func pushFront(_ id: ConnectionID) -> Bool {
        guard count < entries.count else { return false }
        head = head == 0 ? entries.count - 1 : head - 1
        entries[head] = id
        count += 1
        return true
    }

    @inline(__always)
    mutating func pop() -> ConnectionID? {
        guard count > 0 else { return nil }
        let id = entries[head]
        head += 1
        if head == entries.count { head = 0 }
        count -= 1
        return id
    }

    /// Drops entries for which `isLive` is false (connections that ended), keeping
    /// order. Used only when the ring is full of such leftovers.
    mutating func compact(keeping isLive: (ConnectionID) -> Bool) {
        let total = count
        count = 0
        var read = head
        var kept = 0
        for _ in 0..<total {
            let id = entries[read]
            read += 1
            if read == entries.count { read = 0 }
            if isLive(id) {
                var tail = head + kept
                if tail >= entries.count { tail -= entries.count }
                entries[tail] = id
                kept += 1
            }
        }
        count = kept
    }
}
