import CPreciseWait
import Glibc

/// The forwarding loop: frames from each side, their fates from an `Impairment`
/// per direction, a time-ordered queue of frames waiting for their delay, and
/// counters.
struct Forwarder: ~Copyable {
    struct Counters {
        var received = 0, sent = 0, lost = 0, duplicated = 0, reordered = 0, overflow = 0, sendFailed = 0
    }

    private let leftSocket: PacketSocket
    private let rightSocket: PacketSocket
    private var impairments: [Impairment]
    private var counters = [Counters(), Counters()]
    private var queue = FrameQueue()
    private let queueLimit: Int
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)

    init(left: consuming PacketSocket, right: consuming PacketSocket, settings: Impairment.Settings, seed: UInt64,
         queueLimit: Int) {
        leftSocket = left
        rightSocket = right
        impairments = [Impairment(settings: settings, seed: seed),
                       Impairment(settings: settings, seed: seed ^ 0x5DEE_CE66_D1CE_4E5B)]
        self.queueLimit = queueLimit
    }

    deinit { buffer.deallocate() }

    /// Forwards until `stop()` says so (checked at least every 100 ms).
    mutating func run(until stop: () -> Bool) {
        var fds = [pollfd(fd: leftSocket.fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: rightSocket.fd, events: Int16(POLLIN), revents: 0)]
        // The delay is the path's round trip: a frame must leave when it is due,
        // not at the next whole millisecond poll(2) can wait for (that added
        // half a millisecond a hop on average), nor 50 µs later by the kernel's
        // default timer slack.
        _ = precise_wait_no_slack()
        while !stop() {
            sendDue(now: monotonicNanoseconds())
            var wait: UInt64 = 100_000_000
            if let due = queue.nextDue {
                let now = monotonicNanoseconds()
                wait = due <= now ? 0 : min(wait, due - now)
            }
            let ready = precise_wait_poll(&fds, 2, wait)
            guard ready > 0 else { continue }
            // A pending socket error (the interface went down) is cleared only by
            // a receive: without one, ppoll would return at once for ever. A side
            // that hung up is no longer polled, for the same reason.
            for direction in 0..<2 {
                let events = fds[direction].revents
                if events & (Int16(POLLIN) | Int16(POLLERR)) != 0 { receiveAll(direction) }
                if events & (Int16(POLLHUP) | Int16(POLLNVAL)) != 0 { fds[direction].fd = -1 }
            }
        }
    }

    /// Frames arriving on side `direction` (0: left, going right; 1: right, going left).
    private mutating func receiveAll(_ direction: Int) {
        for _ in 0..<256 {
            let received = direction == 0 ? leftSocket.receive(into: buffer) : rightSocket.receive(into: buffer)
            guard let length = received else { return }
            guard length > 0 else { continue }
            counters[direction].received += 1
            let decision = impairments[direction].decide()
            if decision.copies == 0 {
                counters[direction].lost += 1
                continue
            }
            if decision.reordered { counters[direction].reordered += 1 }
            if decision.copies == 2 { counters[direction].duplicated += 1 }
            let due = monotonicNanoseconds() + decision.wait
            let frame = [UInt8](UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
            for _ in 0..<decision.copies {
                guard queue.count < queueLimit else {
                    counters[direction].overflow += 1
                    continue
                }
                queue.push(due: due, direction: direction, frame: frame)
            }
        }
    }

    private mutating func sendDue(now: UInt64) {
        while let (direction, frame) = queue.popDue(now: now) {
            let sent = frame.withUnsafeBytes { bytes in
                direction == 0 ? rightSocket.send(bytes) : leftSocket.send(bytes)
            }
            if sent { counters[direction].sent += 1 } else { counters[direction].sendFailed += 1 }
        }
    }

    var report: String {
        let names = ["\(leftSocket.name) -> \(rightSocket.name)", "\(rightSocket.name) -> \(leftSocket.name)"]
        return (0..<2).map { direction in
            let c = counters[direction]
            return "\(names[direction]): received \(c.received), sent \(c.sent), lost \(c.lost), "
                + "duplicated \(c.duplicated), reordered \(c.reordered), queue overflow \(c.overflow), "
                + "send failed \(c.sendFailed)"
        }.joined(separator: "\n")
    }
}

/// A binary min-heap of frames by due time; frames due at the same nanosecond
/// leave in arrival order.
struct FrameQueue {
    private struct Entry {
        var due: UInt64
        var order: UInt64
        var direction: Int
        var frame: [UInt8]
        func before(_ other: Entry) -> Bool { (due, order) < (other.due, other.order) }
    }

    private var heap: [Entry] = []
    private var nextOrder: UInt64 = 0

    var count: Int { heap.count }
    var nextDue: UInt64? { heap.first?.due }

    mutating func push(due: UInt64, direction: Int, frame: [UInt8]) {
        heap.append(Entry(due: due, order: nextOrder, direction: direction, frame: frame))
        nextOrder += 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].before(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popDue(now: UInt64) -> (Int, [UInt8])? {
        guard let first = heap.first, first.due <= now else { return nil }
        heap.swapAt(0, heap.count - 1)
        let entry = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && heap[left].before(heap[smallest]) { smallest = left }
            if right < heap.count && heap[right].before(heap[smallest]) { smallest = right }
            guard smallest != parent else { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        _ = first
        return (entry.direction, entry.frame)
    }
}

func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
