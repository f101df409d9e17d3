import Testing
@_spi(Benchmarks) @testable import MTCP

/// Two cores of one station whose port spreads frames without regard to our
/// hash (here: every frame to queue 0, as a kernel fanout may): segments of
/// the flow core 1 owns land on core 0 and are handed over through the rings.
@Suite struct ForwardingTests {
    static let a = EngineNetworkTests.ipA
    static let b = EngineNetworkTests.ipB
    static let macA = EngineNetworkTests.macA
    static let macB = EngineNetworkTests.macB

    /// Station A's two cores, every received frame on queue 0, and server B.
    struct Network: ~Copyable {
        let link = VirtualLink(seed: 14)
        var core0: Engine<VirtualPort>
        var core1: Engine<VirtualPort>
        var server: Engine<VirtualPort>

        init(ringCapacity: Int = 1024) {
            let mesh = ForwardingMesh(cores: 2, ringCapacity: ringCapacity)
            let queues = link.makeQueues(macAddress: ForwardingTests.macA, count: 2, bufferCount: 512) { _ in 0 }
            func core(_ index: Int) -> Engine<VirtualPort> {
                var configuration = EngineConfiguration(address: IPv4Network(address: ForwardingTests.a, prefixLength: 24),
                                                        staticNeighbours: [.init(address: ForwardingTests.b,
                                                                                 mac: ForwardingTests.macB)])
                configuration.core = index
                configuration.spreading = .unpredictable(cores: 2)
                configuration.forwarding = mesh
                return Engine(device: queues[index], configuration: configuration)
            }
            core0 = core(0)
            core1 = core(1)
            server = EngineNetworkTests.engine(link, mac: ForwardingTests.macB, ip: ForwardingTests.b) {
                $0.staticNeighbours = [.init(address: ForwardingTests.a, mac: ForwardingTests.macA)]
            }
        }

        mutating func step() {
            core0.step(now: link.now)
            core1.step(now: link.now)
            server.step(now: link.now)
            link.now = link.now + .milliseconds(1)
        }

        mutating func releaseAll() {
            core0.releaseAll()
            core1.releaseAll()
            server.releaseAll()
        }
    }

    /// Core 1 opens a connection, the server sends `length` bytes; returns what core 1 read.
    static func download(_ net: inout Network, length: Int, rounds: Int) throws {
        let listener = try net.server.listen(port: 80)
        let client = try net.core1.connect(to: b, port: 80, now: net.link.now)
        let body = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var served: ConnectionID?
        var written = 0
        var received: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<rounds where received.count < length {
            net.step()
            if served == nil { served = net.server.accept(listener) }
            if let served, written < length {
                written += (try? body[written...].withUnsafeBytes { try net.server.write(served, $0) }) ?? 0
            }
            while let count = try? scratch.withUnsafeMutableBytes({ try net.core1.read(client, into: $0, now: net.link.now) }),
                  count > 0 {
                received += scratch[..<count]
            }
        }
        #expect(received.count == length)
        #expect(received == body, "every byte, in order")

    }

    @Test func aFlowOfTheOtherCoreIsServedThroughTheRing() throws {
        var net = Network()
        try Self.download(&net, length: 50_000, rounds: 500)
        #expect(net.core0.statistics.forwardedFrames > 30, "every segment from the server landed on core 0")
        #expect(net.core1.statistics.forwardedFrames == 0, "core 1 received nothing from the port")
        #expect(net.core0.tcpStatistics.segmentsReceived == 0, "core 0 processed none of core 1's segments")
        #expect(net.core0.statistics.drops.total == 0)
        #expect(net.core1.statistics.drops.total == 0)
        net.releaseAll()
        #expect(net.core0.device.availableBuffers == net.core0.device.totalBuffers, "no buffer leaked")
    }

    /// Connections to the station: each is accepted by the core that owns its
    /// flow, though every SYN landed on core 0.
    @Test func passiveOpensAreAcceptedByTheOwningCore() throws {
        var net = Network()
        let listeners = (try net.core0.listen(port: 80), try net.core1.listen(port: 80))
        for _ in 0..<16 { _ = try net.server.connect(to: Self.a, port: 80, now: net.link.now) }
        var accepted = (0, 0)
        for _ in 0..<50 {
            net.step()
            while net.core0.accept(listeners.0) != nil { accepted.0 += 1 }
            while net.core1.accept(listeners.1) != nil { accepted.1 += 1 }
        }
        #expect(accepted.0 + accepted.1 == 16)
        #expect(accepted.0 > 0 && accepted.1 > 0, "the hash spreads 16 flows over both cores")
        #expect(net.core1.device.statistics().receivedPackets == 0, "core 1 got its segments only through the ring")
        #expect(net.core0.statistics.receivedFrames + net.core1.statistics.receivedFrames
            == net.core0.device.statistics().receivedPackets, "each frame counted once, where it was processed")
        #expect(net.core0.statistics.forwardedFrames > 0)
        net.releaseAll()
    }

    /// A ring with room for one frame: the rest of each burst is dropped and
    /// counted (core 0 never waits for core 1), and TCP recovers the loss.
    @Test func aFullRingDropsAndCountsAndNeverBlocks() throws {
        var net = Network(ringCapacity: 1)
        try Self.download(&net, length: 20_000, rounds: 20_000)
        #expect(net.core0.statistics.drops[.forwardRingFull] > 0)
        net.releaseAll()
        #expect(net.core0.device.availableBuffers == net.core0.device.totalBuffers, "no buffer leaked")
    }

    /// `count` made-up frames (never dereferenced) numbered from `first` by length.
    static func fakeFrames(_ frames: UnsafeMutablePointer<PacketBuffer>, count: Int, first: Int) {
        for index in 0..<count {
            let address = UnsafeMutableRawPointer(bitPattern: 0x1000 + first + index)!
            frames[index] = PacketBuffer(handle: address, bytes: address, length: first + index, capacity: 0)
        }
    }

    /// At shutdown nothing stays in a ring: what was pushed to a core before
    /// it stopped is drained after the join, and what is sent after it stopped
    /// goes back to the sender's caller, named forward_owner_stopped.
    @Test func framesForAStoppedCoreAreHandedBackAndTheRingsDrain() {
        let mesh = ForwardingMesh(cores: 2)
        let sender = FrameForwarding(mesh: mesh, core: 0, batchSize: 4)
        let frames = UnsafeMutablePointer<PacketBuffer>.allocate(capacity: 4)
        defer { frames.deallocate() }
        Self.fakeFrames(frames, count: 4, first: 0)
        for index in 0..<3 {
            let staged = sender.stage(frames[index], for: 1)
            #expect(staged)
        }
        let sent = sender.send { _, _ in Issue.record("room for all three") }
        #expect(sent == 3)

        let receiver = FrameForwarding(mesh: mesh, core: 1, batchSize: 4)
        receiver.stop()
        let staged = sender.stage(frames[3], for: 1)
        #expect(staged)
        var refused: [(Int, DropReason)] = []
        let sentAfterStop = sender.send { refused.append(($0.length, $1)) }
        #expect(sentAfterStop == 0)
        #expect(refused.map(\.0) == [3])
        #expect(refused.map(\.1) == [.forwardOwnerStopped])

        var drained: [Int] = []
        #expect(mesh.drain { drained.append($0.length) } == 3)
        #expect(drained == [0, 1, 2])
        #expect(mesh.drain { _ in Issue.record("drained twice") } == 0)
    }

    /// With three cores, a producer that refills its ring before every take
    /// does not keep the other producer's frames waiting: takes start at the
    /// next producer in turn.
    @Test func aBusyProducerDoesNotStarveAnother() {
        let mesh = ForwardingMesh(cores: 3)
        let busy = FrameForwarding(mesh: mesh, core: 0, batchSize: 4)
        let quiet = FrameForwarding(mesh: mesh, core: 1, batchSize: 4)
        var owner = FrameForwarding(mesh: mesh, core: 2, batchSize: 4)
        let frames = UnsafeMutablePointer<PacketBuffer>.allocate(capacity: 4)
        defer { frames.deallocate() }
        let out = UnsafeMutableBufferPointer<PacketBuffer>.allocate(capacity: 4)
        defer { out.deallocate() }
        Self.fakeFrames(frames, count: 4, first: 100)
        for index in 0..<4 { _ = quiet.stage(frames[index], for: 2) }
        _ = quiet.send { _, _ in }
        var takenFromQuiet = 0
        for round in 0..<2 {
            Self.fakeFrames(frames, count: 4, first: round * 4)
            for index in 0..<4 { _ = busy.stage(frames[index], for: 2) }
            _ = busy.send { _, _ in }
            let taken = owner.take(into: out)
            takenFromQuiet += (0..<taken).filter { out[$0].length >= 100 }.count
        }
        #expect(takenFromQuiet == 4)
        _ = mesh.drain { _ in }
    }

    @Test func theRingIsFirstInFirstOutBoundedAndWraps() {
        let ring = ForwardRing(capacity: 3)
        let capacity = ring.capacity
        #expect(capacity == 4)
        let frames = UnsafeMutablePointer<PacketBuffer>.allocate(capacity: 6)
        defer { frames.deallocate() }
        let out = UnsafeMutableBufferPointer<PacketBuffer>.allocate(capacity: 6)
        defer { out.deallocate() }
        var next = 0
        func fill(_ count: Int) {
            for index in 0..<count {
                frames[index] = PacketBuffer(handle: UnsafeMutableRawPointer(bitPattern: 0x1000 + next)!,
                                             bytes: UnsafeMutableRawPointer(bitPattern: 0x1000 + next)!,
                                             length: next, capacity: 0)
                next += 1
            }
        }
        for round in 0..<5 {
            fill(6)
            // Results taken out of #expect: the ring is noncopyable, and the macro captures operands.
            let pushed = ring.push(frames, count: 6)
            #expect(pushed == 4, "round \(round): four fit")
            let pushedWhenFull = ring.push(frames, count: 1)
            #expect(pushedWhenFull == 0, "full")
            let popped = ring.pop(into: out)
            #expect(popped == 4)
            #expect((0..<4).map { out[$0].length } == (0..<4).map { round * 6 + $0 }, "oldest first")
            let poppedWhenEmpty = ring.pop(into: out)
            #expect(poppedWhenEmpty == 0, "empty")
        }
    }
}
