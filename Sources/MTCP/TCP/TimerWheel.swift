/// Per-connection timers (retransmission, delayed ACK, persist, keepalive,
/// TIME_WAIT, idle) with O(1) schedule and cancel and no allocation after `init`.
///
/// **Nodes.** Every timer that can exist has a preallocated node, named by its index
/// in `0 ..< nodeCount`; the TCP layer uses `connectionIndex * timersPerConnection +
/// kind`. A node is either idle or armed with one deadline. Nodes are linked
/// intrusively (32-bit `next`/`prev` indices in the node array), so arming, moving
/// and cancelling only relink and never allocate or search.
///
/// **Wheel.** Time is cut into ticks of `granularity` counted from `start`; tick `t`
/// ends at `start + t * granularity`. A node with deadline `d` is due at tick
/// `ceil((d - start) / granularity)`, the first tick boundary at or after `d`, and is
/// linked into slot `tick % slotCount` (a power of two, so `&`). Polling moves a
/// cursor over the tick boundaries that `now` has passed and collects the nodes of
/// each slot whose tick has come. So a timer never fires before its deadline, and
/// fires at the first poll at or after its tick boundary, which is less than one
/// granularity after the deadline.
///
/// **Far timers.** This is a single-level hashed wheel: a node due more than one
/// revolution (`slotCount * granularity`) ahead shares its slot with nearer ones,
/// keeps its absolute tick, and is stepped over when the cursor passes its slot
/// before its turn. It is visited once per revolution, so a 60 s TIME_WAIT on a
/// 4096 x 1 ms wheel costs ~15 visits; size the wheel so that the common timers
/// (RTO, delayed ACK) fit in one revolution. A second level would trade those
/// visits for cascading; not worth it at these ratios.
///
/// **Due list.** Nodes whose tick has come are moved, one slot at a time in tick
/// order, to a due list that `nextExpired` pops from; a node scheduled with a
/// deadline at or before the last `now` seen goes straight there, so it fires at the
/// next call. The caller may reschedule or cancel nodes (even due ones) between pops.
///
/// **Cost.** Schedule and cancel are O(1) (one 64-bit division for the tick).
/// A poll costs one step per tick boundary passed (a head check when the slot is
/// empty) plus one per node visited; when nothing is armed in the wheel the cursor
/// jumps straight to `now`.
///
/// The clock must not go backwards: a smaller `now` than before counts as no
/// progress.
public struct TimerWheel: ~Copyable {
    /// One timer. 32 bytes: deadline, its tick, list links, and which list holds it.
    struct Node {
        var deadline: UInt64
        var tick: UInt64
        var next: Int32
        var prev: Int32
        /// `idle`, a slot index, or `dueList`.
        var list: Int32
    }

    static let idle: Int32 = -1
    static let none: Int32 = -1

    public let nodeCount: Int
    public let slotCount: Int
    public let granularity: TimeSpan
    /// The origin of ticks.
    public let start: Instant

    private let nodes: UnsafeMutableBufferPointer<Node>
    /// Heads of the `slotCount` slot lists, then of the due list; `none` when empty.
    private let heads: UnsafeMutableBufferPointer<Int32>
    private let slotMask: UInt64
    private let dueList: Int32
    private let granularityNanoseconds: UInt64

    /// The next tick boundary to process; every tick before it has been moved to
    /// the due list, and `start + (cursor - 1) * granularity <= latest`.
    private var cursor: UInt64 = 1
    /// The latest `now` seen, in nanoseconds (starts at `start`).
    private var latest: UInt64
    /// Armed nodes, due or not.
    public private(set) var scheduledCount = 0
    /// Armed nodes in slot lists (not in the due list).
    private var wheelCount = 0

    /// - Parameters:
    ///   - nodeCount: how many timers can exist (indices `0 ..< nodeCount`).
    ///   - slotCount: wheel slots, a power of two.
    ///   - granularity: the length of a tick, e.g. 1 ms; firing is up to this late.
    ///   - start: the engine clock's value now; ticks are counted from it.
    public init(nodeCount: Int, slotCount: Int, granularity: TimeSpan, start: Instant) {
        precondition(nodeCount >= 0 && nodeCount < Int(Int32.max), "timer node count out of range")
        precondition(slotCount > 0 && slotCount & (slotCount - 1) == 0 && slotCount < Int(Int32.max),
                     "timer wheel slot count must be a power of two")
        precondition(granularity.nanoseconds > 0, "timer wheel granularity must be positive")
        self.nodeCount = nodeCount
        self.slotCount = slotCount
        self.granularity = granularity
        self.start = start
        nodes = .allocate(capacity: nodeCount)
        nodes.initialize(repeating: Node(deadline: 0, tick: 0, next: Self.none, prev: Self.none, list: Self.idle))
        heads = .allocate(capacity: slotCount + 1)
        heads.initialize(repeating: Self.none)
        slotMask = UInt64(slotCount - 1)
        dueList = Int32(slotCount)
        granularityNanoseconds = granularity.nanoseconds
        latest = start.nanoseconds
    }

    deinit {
        nodes.deallocate()
        heads.deallocate()
    }

    // MARK: Queries

    @inline(__always)
    public func isScheduled(_ node: Int) -> Bool {
        precondition(node >= 0 && node < nodeCount, "timer node out of range")
        return nodes[node].list != Self.idle
    }

    /// The deadline `node` is armed with, nil when idle.
    public func deadline(of node: Int) -> Instant? {
        precondition(node >= 0 && node < nodeCount, "timer node out of range")
        let entry = nodes[node]
        return entry.list == Self.idle ? nil : Instant(nanoseconds: entry.deadline)
    }

    // MARK: Arming

    /// Arms `node` to fire at `deadline`; an armed node is moved. A deadline at or
    /// before the latest `now` passed to `nextExpired` fires at the next call.
    public mutating func schedule(_ node: Int, at deadline: Instant) {
        precondition(node >= 0 && node < nodeCount, "timer node out of range")
        if nodes[node].list != Self.idle { unlink(node) } else { scheduledCount += 1 }
        let when = deadline.nanoseconds
        nodes[node].deadline = when
        if when <= latest {
            nodes[node].tick = 0
            push(node, onto: dueList)
        } else {
            // when > latest >= start: no underflow; the tick is >= cursor (see `cursor`).
            let tick = (when - start.nanoseconds - 1) / granularityNanoseconds + 1
            nodes[node].tick = tick
            push(node, onto: Int32(truncatingIfNeeded: tick & slotMask))
            wheelCount += 1
        }
    }

    /// Disarms `node`; returns false when it was not armed.
    @discardableResult
    public mutating func cancel(_ node: Int) -> Bool {
        precondition(node >= 0 && node < nodeCount, "timer node out of range")
        guard nodes[node].list != Self.idle else { return false }
        unlink(node)
        scheduledCount -= 1
        return true
    }

    // MARK: Expiry

    /// Pops one node whose deadline has passed at `now` (and disarms it), earliest
    /// tick first; nil when none is left. Call until nil each engine iteration, and
    /// act on each node as it comes (rearming it, or others, is allowed).
    public mutating func nextExpired(now: Instant) -> Int? {
        if now.nanoseconds > latest { latest = now.nanoseconds }
        // Tick `t` ends at start + t * granularity: the last boundary `now` has reached.
        let reached = (latest - start.nanoseconds) / granularityNanoseconds
        while true {
            let head = heads[Int(dueList)]
            if head != Self.none {
                let node = Int(head)
                unlink(node)
                scheduledCount -= 1
                return node
            }
            guard cursor <= reached else { return nil }
            if wheelCount == 0 {
                cursor = reached &+ 1
                return nil
            }
            collect(tick: cursor)
            cursor &+= 1
        }
    }

    /// Moves the nodes of `tick`'s slot that are due at or before it to the due list;
    /// far-future nodes sharing the slot stay.
    private mutating func collect(tick: UInt64) {
        let slot = Int(truncatingIfNeeded: tick & slotMask)
        var index = heads[slot]
        while index != Self.none {
            let node = Int(index)
            index = nodes[node].next
            if nodes[node].tick <= tick {
                unlink(node)
                push(node, onto: dueList)
            }
        }
    }

    /// Where the nodes and slot heads live, to check that they never move (tests).
    var storageAddresses: [UnsafeMutableRawPointer?] {
        [UnsafeMutableRawPointer(nodes.baseAddress), UnsafeMutableRawPointer(heads.baseAddress)]
    }

    // MARK: Intrusive lists

    @inline(__always)
    private mutating func push(_ node: Int, onto list: Int32) {
        let head = heads[Int(list)]
        nodes[node].list = list
        nodes[node].prev = Self.none
        nodes[node].next = head
        if head != Self.none { nodes[Int(head)].prev = Int32(truncatingIfNeeded: node) }
        heads[Int(list)] = Int32(truncatingIfNeeded: node)
    }

    /// Takes an armed node out of its list and marks it idle (counts of armed nodes
    /// are the caller's business, except `wheelCount`).
    @inline(__always)
    private mutating func unlink(_ node: Int) {
        let entry = nodes[node]
        if entry.prev != Self.none {
            nodes[Int(entry.prev)].next = entry.next
        } else {
            heads[Int(entry.list)] = entry.next
        }
        if entry.next != Self.none { nodes[Int(entry.next)].prev = entry.prev }
        if entry.list != dueList { wheelCount -= 1 }
        nodes[node].list = Self.idle
    }
}
