import Synchronization

/// Frames from one core to another: a bounded single-producer single-consumer
/// ring, lock-free, its slots allocated once. The producer publishes a whole
/// batch with one release store of `tail`, the consumer frees a whole batch with
/// one of `head`; each side reads the other's index with acquire, so the frames'
/// bytes written before a push are visible after the matching pop.
public final class ForwardRing: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<PacketBuffer>
    private let mask: Int
    /// The next slot to read; written only by the consumer.
    private let head = Atomic<Int>(0)
    /// The next slot to write; written only by the producer.
    private let tail = Atomic<Int>(0)

    /// - Parameter capacity: rounded up to a power of two.
    public init(capacity: Int) {
        var size = 1
        while size < capacity { size <<= 1 }
        slots = .allocate(capacity: size)
        mask = size - 1
    }

    deinit { slots.deallocate() }

    public var capacity: Int { mask + 1 }

    /// Producer side: appends the first `count` frames of `batch` that fit and
    /// returns how many did; the rest stay the caller's.
    @inline(__always)
    public func push(_ batch: UnsafeMutablePointer<PacketBuffer>, count: Int) -> Int {
        let end = tail.load(ordering: .relaxed)
        let room = capacity - (end - head.load(ordering: .acquiring))
        let taken = min(count, room)
        for index in 0..<taken { (slots + ((end + index) & mask)).initialize(to: batch[index]) }
        tail.store(end + taken, ordering: .releasing)
        return taken
    }

    /// Consumer side: moves up to `buffers.count` frames into `buffers`, oldest first.
    @inline(__always)
    public func pop(into buffers: UnsafeMutableBufferPointer<PacketBuffer>) -> Int {
        let start = head.load(ordering: .relaxed)
        let taken = min(buffers.count, tail.load(ordering: .acquiring) - start)
        guard taken > 0 else { return 0 }  // no store: the producer's cache keeps the line
        for index in 0..<taken { buffers[index] = (slots + ((start + index) & mask)).move() }
        head.store(start + taken, ordering: .releasing)
        return taken
    }
}

/// The rings between every ordered pair of cores, made once at start-up and
/// shared by the engines of one process: core `from` alone pushes to
/// `ring(from:to:)` and core `to` alone pops from it.
public final class ForwardingMesh: @unchecked Sendable {
    public let cores: Int
    private let rings: [ForwardRing]
    /// Per core, set when it stops taking frames: producers then release what
    /// they would push to it instead of leaving it in a ring nobody reads.
    private let stopped: UnsafeMutablePointer<Atomic<Bool>>

    public init(cores: Int, ringCapacity: Int = 1024) {
        self.cores = cores
        rings = (0..<cores * cores).map { _ in ForwardRing(capacity: ringCapacity) }
        stopped = .allocate(capacity: cores)
        for core in 0..<cores { (stopped + core).initialize(to: Atomic(false)) }
    }

    deinit {
        stopped.deinitialize(count: cores)
        stopped.deallocate()
    }

    @inline(__always)
    func ring(from: Int, to: Int) -> ForwardRing { rings[from * cores + to] }

    /// `core` takes no more frames (its engine is shutting down).
    func stop(core: Int) { stopped[core].store(true, ordering: .releasing) }

    @inline(__always)
    func hasStopped(_ core: Int) -> Bool { stopped[core].load(ordering: .acquiring) }

    /// Once every core has been joined: hands each frame still in a ring (pushed
    /// before its consumer's flag was seen) to `release`; returns how many.
    public func drain(_ release: (PacketBuffer) -> Void) -> Int {
        let buffers = UnsafeMutableBufferPointer<PacketBuffer>.allocate(capacity: 64)
        defer { buffers.deallocate() }
        var drained = 0
        for ring in rings {
            while case let taken = ring.pop(into: buffers), taken > 0 {
                for index in 0..<taken { release(buffers[index]) }
                drained += taken
            }
        }
        return drained
    }
}
