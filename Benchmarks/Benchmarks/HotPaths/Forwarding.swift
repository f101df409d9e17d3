import Benchmark
import Foundation
@_spi(Benchmarks) import MTCP
import Synchronization

/// What a frame that lands on a core not owning its flow costs (issue 14): the
/// owner's hash, which every TCP frame on a port with unpredictable spreading
/// pays, then staging, the ring push at the end of the burst, and the owner's
/// take, through the engines' own `FlowOwnership` and `FrameForwarding`.
/// Frames are made up (never dereferenced): the owner would process them as
/// if they had landed on its own queue, which is not the forwarding's cost.
func forwardingBenchmarks() {
    Benchmark("Toeplitz hash of a TCP 4-tuple (flow owner)") { benchmark in
        let toeplitz = ToeplitzHash(key: ToeplitzHash.symmetricKey)
        var port: UInt16 = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(toeplitz.hash(source: IPv4Address(198, 18, 0, 2), destination: IPv4Address(198, 18, 0, 1),
                                    sourcePort: port, destinationPort: 80))
            port &+= 1
        }
        benchmark.stopMeasurement()
    }

    Benchmark("Forward ring, one thread: a batch of 32 frames pushed, then popped (time per batch)") { benchmark in
        let ring = ForwardRing(capacity: 1024)
        let batch = UnsafeMutableBufferPointer<PacketBuffer>.allocate(capacity: forwardedBurst)
        defer { batch.deallocate() }
        let frame = FakeFrame()
        for index in batch.indices { batch[index] = frame.buffer }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(ring.push(batch.baseAddress!, count: forwardedBurst))
            blackHole(ring.pop(into: batch))
        }
        benchmark.stopMeasurement()
    }

    // Both cores' work on one thread: the CPU cost per frame, without the
    // cache-line transfers between cores.
    Benchmark("Forwarding a frame to its owner, one thread: owner hash, stage, "
              + "1/32 of a 32-frame ring push and pop (time per frame)") { benchmark in
        let mesh = ForwardingMesh(cores: 2)
        var landing = LandingCore(mesh: mesh)
        var owner = FrameForwarding(mesh: mesh, core: 1, batchSize: forwardedBurst)
        let taken = UnsafeMutableBufferPointer<PacketBuffer>.allocate(capacity: forwardedBurst)
        defer { taken.deallocate() }
        var arrived = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            guard landing.land() else { continue }
            landing.send()
            arrived += owner.take(into: taken)
        }
        benchmark.stopMeasurement()
        landing.send()
        arrived += owner.take(into: taken)
        precondition(arrived == benchmark.scaledIterations.count, "every frame reached its owner")
    }

    // The owner takes on a thread of its own, as a core would: the figure
    // includes the ring's cache lines moving between cores. A full ring makes
    // the landing core retry here (an engine would drop and count), so the
    // figure is the rate the pair sustains, not a drop rate.
    Benchmark("Forwarding a frame to its owner, two threads: owner hash, stage, 1/32 of a 32-frame ring push; "
              + "the pop on the owner's thread (time per frame at the rate the pair sustains)") { benchmark in
        let mesh = ForwardingMesh(cores: 2)
        let ownerThread = OwnerThread(mesh: mesh, core: 1)
        var landing = LandingCore(mesh: mesh)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            if landing.land() { landing.sendRetrying() }
        }
        landing.sendRetrying()
        benchmark.stopMeasurement()
        precondition(ownerThread.stop() == benchmark.scaledIterations.count, "every frame reached its owner")
    }
}

/// The receive burst: what one core stages for another at most per burst.
private let forwardedBurst = 32

/// Core 0 of two, where every frame lands and core 1 owns them all.
private struct LandingCore: ~Copyable {
    let ownership = FlowOwnership(core: 0, spreading: .unpredictable(cores: 2))
    let forwarding: FrameForwarding
    let frame = FakeFrame()
    var port: UInt16 = 0
    var staged = 0

    init(mesh: ForwardingMesh) { forwarding = FrameForwarding(mesh: mesh, core: 0, batchSize: forwardedBurst) }

    /// A frame arrives: its owner's hash, as the engine takes it for every TCP
    /// frame, and it waits for the end of the burst. True when the burst is full.
    @inline(__always)
    mutating func land() -> Bool {
        blackHole(ownership.owner(of: tuple(port)))
        _ = forwarding.stage(frame.buffer, for: 1)
        port &+= 1
        staged += 1
        return staged == forwardedBurst
    }

    /// The end of the burst: the staged frames cross (the owner empties the ring every burst).
    mutating func send() {
        blackHole(forwarding.send { _, _ in fatalError("a ring emptied every burst was full") })
        staged = 0
    }

    /// The same, waiting for room while the owner's thread catches up.
    mutating func sendRetrying() {
        while staged > 0 {
            staged -= forwarding.send { _, _ in }
            for _ in 0..<staged { _ = forwarding.stage(frame.buffer, for: 1) }
        }
    }
}

/// A made-up frame: its bytes are never read.
private struct FakeFrame: ~Copyable {
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
    var buffer: PacketBuffer { PacketBuffer(handle: scratch, bytes: scratch, length: 60, capacity: 64) }
    deinit { scratch.deallocate() }
}

/// A thread taking `core`'s forwarded frames until stopped, as the owning
/// core's engine does after each burst.
private final class OwnerThread: Sendable {
    private let running = Atomic<Bool>(true)
    private let started = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let taken = Atomic<Int>(0)

    init(mesh: ForwardingMesh, core: Int) {
        Thread { [self] in
            var owner = FrameForwarding(mesh: mesh, core: core, batchSize: forwardedBurst)
            let buffers = UnsafeMutableBufferPointer<PacketBuffer>.allocate(capacity: forwardedBurst)
            defer { buffers.deallocate() }
            var count = 0
            started.store(true, ordering: .releasing)
            while running.load(ordering: .acquiring) { count += owner.take(into: buffers) }
            while case let more = owner.take(into: buffers), more > 0 { count += more }
            taken.store(count, ordering: .relaxed)
            finished.store(true, ordering: .releasing)
        }.start()
        while !started.load(ordering: .acquiring) { sched_yield() }
    }

    /// Stops the thread once it has taken everything; returns how many frames it took.
    func stop() -> Int {
        running.store(false, ordering: .releasing)
        while !finished.load(ordering: .acquiring) { sched_yield() }
        return taken.load(ordering: .relaxed)
    }
}
