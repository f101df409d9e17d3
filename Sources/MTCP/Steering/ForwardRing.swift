import Synchronization

/// Frames from one core to another: a bounded single-producer single-consumer
/// ring, lock-free, its slots allocated once. The producer publishes a whole
/// batch with one release store of `tail`, the consumer frees a whole batch with
/// one of `head`; each side reads the other's index with acquire, so the frames'
/// bytes written before a push are visible after the matching pop.
///
/// A value type reached through the mesh's raw storage, so that a core's push
/// and pop touch no reference count. `head` and `tail` live on cache lines of
/// their own: each is written by one core and polled by the other, and sharing
/// a line would make every push invalidate the consumer's copy of `head` too.
///
/// Visible outside the module only as SPI, for the hot-path micro-benchmarks.
@_spi(Benchmarks) public struct ForwardRing: ~Copyable {
    private let slots: UnsafeMutablePointer<PacketBuffer>
    private let mask: Int
    /// The next slot to read; written only by the consumer.
    let head: UnsafeMutablePointer<Atomic<Int>>
    /// The next slot to write; written only by the producer.
    let tail: UnsafeMutablePointer<Atomic<Int>>

    /// Bytes between `head` and `tail`: two 64-byte lines, since x86's
    /// adjacent-line prefetcher fetches lines in pairs.
    static var indexSpacing: Int { 128 }

    /// - Parameter capacity: rounded up to a power of two.
    public init(capacity: Int) {
        precondition(capacity > 0, "ring capacity \(capacity)")
        var size = 1
        while size < capacity { size <<= 1 }
        slots = .allocate(capacity: size)
        mask = size - 1
        let indices = UnsafeMutableRawPointer.allocate(byteCount: 2 * Self.indexSpacing, alignment: Self.indexSpacing)
        head = indices.bindMemory(to: Atomic<Int>.self, capacity: 1)
        tail = (indices + Self.indexSpacing).bindMemory(to: Atomic<Int>.self, capacity: 1)
        head.initialize(to: Atomic(0))
        tail.initialize(to: Atomic(0))
    }

    deinit {
        // The frames' buffers belong to devices the ring does not know: their
        // owners take them out first (`Engine.releaseAll`, `ForwardingMesh.drain`).
        assert(tail.pointee.load(ordering: .relaxed) == head.pointee.load(ordering: .relaxed),
               "a ring dropped with frames in it")
        slots.deallocate()
        head.deinitialize(count: 1)
        tail.deinitialize(count: 1)
        UnsafeMutableRawPointer(head).deallocate()
    }

    public var capacity: Int { mask + 1 }

    /// Producer side: appends the first `count` frames of `batch` that fit and
    /// returns how many did; the rest stay the caller's.
    @inline(__always)
    public func push(_ batch: UnsafeMutablePointer<PacketBuffer>, count: Int) -> Int {
        let end = tail.pointee.load(ordering: .relaxed)
        let room = capacity - (end - head.pointee.load(ordering: .acquiring))
        let taken = min(count, room)
        for index in 0..<taken { (slots + ((end + index) & mask)).initialize(to: batch[index]) }
        tail.pointee.store(end + taken, ordering: .releasing)
        return taken
    }

    /// Consumer side: moves up to `buffers.count` frames into `buffers`, oldest first.
    @inline(__always)
    public func pop(into buffers: UnsafeMutableBufferPointer<PacketBuffer>) -> Int {
        let start = head.pointee.load(ordering: .relaxed)
        let taken = min(buffers.count, tail.pointee.load(ordering: .acquiring) - start)
        guard taken > 0 else { return 0 }  // no store: the producer's cache keeps the line
        for index in 0..<taken { buffers[index] = (slots + ((start + index) & mask)).move() }
        head.pointee.store(start + taken, ordering: .releasing)
        return taken
    }
}

/// The rings between every ordered pair of cores, made once at start-up and
/// shared by the engines of one process: core `from` alone pushes to
/// `ring(from:to:)` and core `to` alone pops from it.
public final class ForwardingMesh: @unchecked Sendable {
    public let cores: Int
    /// `cores` x `cores` rings, producer-major: the engines reach them through
    /// this pointer (`FrameForwarding`), never through a reference.
    let rings: UnsafeMutablePointer<ForwardRing>
    /// Per core, set when it stops taking frames: producers then release what
    /// they would push to it instead of leaving it in a ring nobody reads.
    let stopped: UnsafeMutablePointer<Atomic<Bool>>

    public init(cores: Int, ringCapacity: Int = 1024) {
        precondition(cores > 0, "\(cores) cores")
        self.cores = cores
        rings = .allocate(capacity: cores * cores)
        for index in 0..<cores * cores { (rings + index).initialize(to: ForwardRing(capacity: ringCapacity)) }
        stopped = .allocate(capacity: cores)
        for core in 0..<cores { (stopped + core).initialize(to: Atomic(false)) }
    }

    deinit {
        rings.deinitialize(count: cores * cores)
        rings.deallocate()
        stopped.deinitialize(count: cores)
        stopped.deallocate()
    }

    /// `core` takes no more frames (its engine is shutting down).
    func stop(core: Int) { stopped[core].store(true, ordering: .releasing) }

    /// Once every core has been joined: hands each frame still in a ring (pushed
    /// before its consumer's flag was seen) to `release`; returns how many.
    public func drain(_ release: (PacketBuffer) -> Void) -> Int {
        let buffers = UnsafeMutableBufferPointer<PacketBuffer>.allocate(capacity: 64)
        defer { buffers.deallocate() }
        var drained = 0
        for ring in 0..<cores * cores {
            while case let taken = rings[ring].pop(into: buffers), taken > 0 {
                for index in 0..<taken { release(buffers[index]) }
                drained += taken
            }
        }
        return drained
    }
}
