import CDPDK
import Glibc

/// The NIC's data path: frames from the wire (one queue) spread over the
/// stack's queues by `ReceiveSideScaling`, frames from any of the stack's
/// queues out to the wire. mbufs cross from one port to the other without a
/// copy; a frame a port does not take is freed and counted, never retried.
struct QueueRelay: ~Copyable {
    struct Counters {
        /// Per stack queue: frames given to it, and of those the ones not hashed (queue 0 only).
        var toQueue: [Int]
        var unhashed = 0
        /// Per stack queue: frames it sent to the wire.
        var fromQueue: [Int]
        /// Frames a port refused (the stack not connected yet, or a full ring).
        var dropped = 0
    }

    private let wire: UInt16
    private let stack: UInt16
    private let queues: Int
    private let spreading: ReceiveSideScaling
    private let burst = 32
    private let received: UnsafeMutablePointer<OpaquePointer?>
    /// Per stack queue, the frames of the current burst bound for it.
    private let staged: UnsafeMutablePointer<OpaquePointer?>
    private let stagedCounts: UnsafeMutablePointer<Int>
    private(set) var counters: Counters

    init(wire: UInt16, stack: UInt16, queues: Int, spreading: consuming ReceiveSideScaling) {
        self.wire = wire
        self.stack = stack
        self.queues = queues
        self.spreading = spreading
        received = .allocate(capacity: burst)
        staged = .allocate(capacity: burst * queues)
        stagedCounts = .allocate(capacity: queues)
        stagedCounts.initialize(repeating: 0, count: queues)
        counters = Counters(toQueue: Array(repeating: 0, count: queues), fromQueue: Array(repeating: 0, count: queues))
    }

    deinit {
        received.deallocate()
        staged.deallocate()
        stagedCounts.deallocate()
    }

    /// One turn: a burst from the wire to the queues, one from each queue to the wire.
    /// Returns the frames moved, so the caller can back off when idle.
    mutating func relayOnce() -> Int {
        var moved = 0
        let count = Int(rte_eth_rx_burst(wire, 0, received, UInt16(burst)))
        for index in 0..<count {
            let mbuf = received[index]!
            let frame = UnsafeRawBufferPointer(start: mtcp_mbuf_data(mbuf), count: Int(mtcp_mbuf_data_len(mbuf)))
            let (queue, hashed) = spreading.queue(of: frame)
            staged[queue * burst + stagedCounts[queue]] = mbuf
            stagedCounts[queue] += 1
            counters.toQueue[queue] += 1
            if !hashed { counters.unhashed += 1 }
        }
        for queue in 0..<queues where stagedCounts[queue] > 0 {
            send(staged + queue * burst, count: stagedCounts[queue], port: stack, queue: UInt16(queue))
            stagedCounts[queue] = 0
        }
        moved += count
        for queue in 0..<queues {
            let fromStack = Int(rte_eth_rx_burst(stack, UInt16(queue), received, UInt16(burst)))
            counters.fromQueue[queue] += fromStack
            send(received, count: fromStack, port: wire, queue: 0)
            moved += fromStack
        }
        return moved
    }

    private mutating func send(_ mbufs: UnsafeMutablePointer<OpaquePointer?>, count: Int, port: UInt16, queue: UInt16) {
        guard count > 0 else { return }
        let sent = Int(rte_eth_tx_burst(port, queue, mbufs, UInt16(count)))
        for index in sent..<count { rte_pktmbuf_free(mbufs[index]) }
        counters.dropped += count - sent
    }

    /// The counters as the lines printed at exit (the tests read them).
    var report: String {
        (0..<queues).map { queue in
            "queue \(queue): to stack \(counters.toQueue[queue]) frames, from stack \(counters.fromQueue[queue]) frames"
        }.joined(separator: "\n")
            + "\nunhashed (to queue 0): \(counters.unhashed) frames\ndropped: \(counters.dropped) frames"
    }
}
