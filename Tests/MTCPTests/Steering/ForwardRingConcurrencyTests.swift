import Glibc
import Synchronization
import Testing
@_spi(Benchmarks) @testable import MTCP

/// The forwarding rings under real threads: a producer and a consumer running
/// at once, rings small enough to be full and empty again and again. Every
/// frame must arrive exactly once, in the order its producer sent it.
@Suite struct ForwardRingConcurrencyTests {
    /// A made-up frame (never dereferenced) naming its producer and sequence number in `length`.
    static func frame(producer: Int, sequence: Int) -> PacketBuffer {
        let address = UnsafeMutableRawPointer(bitPattern: 0x1000)!
        return PacketBuffer(handle: address, bytes: address, length: producer << 32 | sequence, capacity: 0)
    }

    /// What the consumer saw: frames in order per producer, and any out of place.
    final class Tally: Sendable {
        let received = Atomic<Int>(0)
        let outOfOrder = Atomic<Int>(0)
    }

    /// Runs `body(0)`, ..., `body(count - 1)` each on a thread of its own and waits
    /// for them all. The workers spin on each other (a full ring waits for its
    /// consumer), so each needs its own thread: DispatchQueue.concurrentPerform
    /// may run them one after another when other tests hold the pool's threads,
    /// and the first then waits forever (seen once in CI).
    static func onThreads(_ count: Int, _ body: @escaping (Int) -> Void) {
        final class Work {
            let run: () -> Void
            init(_ run: @escaping () -> Void) { self.run = run }
        }
        var threads: [pthread_t] = []
        for index in 0..<count {
            let work = Unmanaged.passRetained(Work { body(index) }).toOpaque()
            var thread = pthread_t()
            let created = pthread_create(&thread, nil, { argument in
                Unmanaged<Work>.fromOpaque(argument!).takeRetainedValue().run()
                return nil
            }, work)
            precondition(created == 0, "pthread_create: \(created)")
            threads.append(thread)
        }
        for thread in threads { pthread_join(thread, nil) }
    }

    /// Checks each frame against the next sequence number expected from its producer.
    static func check(_ frames: UnsafeMutableBufferPointer<PacketBuffer>, count: Int, expected: inout [Int],
                      tally: Tally) {
        for index in 0..<count {
            let producer = frames[index].length >> 32
            let sequence = frames[index].length & 0xFFFF_FFFF
            if sequence != expected[producer] { tally.outOfOrder.add(1, ordering: .relaxed) }
            expected[producer] = sequence + 1
        }
        tally.received.add(count, ordering: .relaxed)
    }

    @Test func oneProducerAndOneConsumerOnTwoThreads() {
        let ring = ForwardRingBox(capacity: 16)
        let total = 300_000
        let tally = Tally()
        Self.onThreads(2) { thread in
            let frames = UnsafeMutableBufferPointer<PacketBuffer>.allocate(capacity: 32)
            defer { frames.deallocate() }
            if thread == 0 {
                var next = 0
                while next < total {
                    let count = min(1 + next % 32, total - next)  // batches of 1...32
                    for index in 0..<count { frames[index] = Self.frame(producer: 0, sequence: next + index) }
                    let pushed = ring.ring.push(frames.baseAddress!, count: count)
                    next += pushed
                    if pushed == 0 { sched_yield() }
                }
            } else {
                var expected = [0]
                var received = 0
                while received < total {
                    let taken = ring.ring.pop(into: frames)
                    Self.check(frames, count: taken, expected: &expected, tally: tally)
                    received += taken
                    if taken == 0 { sched_yield() }
                }
            }
        }
        #expect(tally.received.load(ordering: .relaxed) == total)
        #expect(tally.outOfOrder.load(ordering: .relaxed) == 0)
        let leftOver = UnsafeMutableBufferPointer<PacketBuffer>.allocate(capacity: 16)
        defer { leftOver.deallocate() }
        let leftOverCount = ring.ring.pop(into: leftOver)
        #expect(leftOverCount == 0, "nothing arrives twice")
    }

    /// Two cores forwarding to a third through `FrameForwarding`, as engines do:
    /// the owner takes every frame once, each producer's in its order.
    @Test func twoProducersForwardToOneOwner() {
        let mesh = ForwardingMesh(cores: 3, ringCapacity: 16)
        let perProducer = 100_000
        let tally = Tally()
        Self.onThreads(3) { core in
            if core == 0 {
                var owner = FrameForwarding(mesh: mesh, core: 0, batchSize: 32)
                let frames = UnsafeMutableBufferPointer<PacketBuffer>.allocate(capacity: 32)
                defer { frames.deallocate() }
                var expected = [0, 0, 0]
                var received = 0
                while received < 2 * perProducer {
                    let taken = owner.take(into: frames)
                    Self.check(frames, count: taken, expected: &expected, tally: tally)
                    received += taken
                    if taken == 0 { sched_yield() }
                }
            } else {
                let producer = FrameForwarding(mesh: mesh, core: core, batchSize: 32)
                var next = 0
                while next < perProducer {
                    let count = min(1 + next % 32, perProducer - next)
                    for index in 0..<count { _ = producer.stage(Self.frame(producer: core, sequence: next + index), for: 0) }
                    // What did not fit is staged again next time, so the order holds.
                    let sent = producer.send { _, _ in }
                    next += sent
                    if sent == 0 { sched_yield() }
                }
            }
        }
        #expect(tally.received.load(ordering: .relaxed) == 2 * perProducer)
        #expect(tally.outOfOrder.load(ordering: .relaxed) == 0)
        #expect(mesh.drain { _ in } == 0, "nothing left over, nothing twice")
    }

    /// Producer and consumer each write one index: on one cache line, every
    /// push would take the line from the consumer and every pop from the producer.
    @Test func headAndTailAreOnCacheLinesOfTheirOwn() {
        let ring = ForwardRing(capacity: 4)
        let head = UInt(bitPattern: ring.head)
        let tail = UInt(bitPattern: ring.tail)
        #expect(head / 64 != tail / 64)
        #expect(head.distance(to: tail).magnitude >= 128, "nor on the pair the adjacent-line prefetcher fetches")
    }
}

/// A ring shared by the two threads of a test (engines share theirs through the mesh).
final class ForwardRingBox: @unchecked Sendable {
    let ring: ForwardRing
    init(capacity: Int) { ring = ForwardRing(capacity: capacity) }
}
