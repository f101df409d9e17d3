/// An in-memory Ethernet segment joining two or more stacks in one process, for
/// tests and simulation: no root, no DPDK runtime, time driven explicitly.
///
/// It behaves like a hub: a frame sent by one port reaches every other port.
/// Impairments are applied per delivery from a seeded generator, so a failing run
/// is reproduced by its seed. Only test code uses it, so simplicity wins over speed:
/// frames in flight are copied into arrays.
public final class VirtualLink {
    /// What the link does to frames. Probabilities are 0...1.
    public struct Impairments: Sendable {
        public var loss: Double = 0
        public var duplication: Double = 0
        /// Chance that a frame is held back by `reorderDelay`, so later frames overtake it.
        public var reordering: Double = 0
        /// Chance that one random bit of a frame is flipped.
        public var corruption: Double = 0
        /// One-way delay of every frame.
        public var delay: TimeSpan = .zero
        public var reorderDelay: TimeSpan = .milliseconds(1)
        /// Largest frame carried (Ethernet header included, no FCS); larger ones are
        /// dropped as a real 1500-byte-MTU link would.
        public var maximumFrameLength = 1514

        public init(loss: Double = 0, duplication: Double = 0, reordering: Double = 0, corruption: Double = 0,
                    delay: TimeSpan = .zero, reorderDelay: TimeSpan = .milliseconds(1)) {
            self.loss = loss
            self.duplication = duplication
            self.reordering = reordering
            self.corruption = corruption
            self.delay = delay
            self.reorderDelay = reorderDelay
        }

        public static let none = Impairments()
    }

    /// What the impairments did, for tests to check that they really happened.
    public struct Counters: Sendable, Equatable {
        public var sent = 0
        public var delivered = 0
        public var lost = 0
        public var duplicated = 0
        public var reordered = 0
        public var corrupted = 0
        /// Frames longer than `maximumFrameLength`: a bug in the sender.
        public var oversize = 0
        /// Frames offered to a port's transmit while the link was down (each offer counts).
        public var refused = 0
    }

    private struct InFlight {
        var deliverAt: Instant
        var order: Int
        var destination: Int
        var bytes: [UInt8]
    }

    public var impairments: Impairments
    /// False while the link is down, as a memif port is before its peer
    /// connects or a NIC before link-up: every port's transmit then takes
    /// nothing (DPDK's tx_burst returns 0) and the sender keeps its frames.
    public var isUp = true
    /// The link's clock; tests advance it and pass the same value to the stacks.
    public var now: Instant = .zero
    public private(set) var counters = Counters()
    private var random: SeededRandom
    private var inFlight: [InFlight] = []
    private var nextOrder = 0
    private var portCount = 0
    /// The ports that are queues of one multi-queue station, by port index, and
    /// how that station spreads the frames it receives over them.
    private var queueGroups: [Int: QueueGroup] = [:]

    private struct QueueGroup {
        var ports: [Int]
        var queueOf: ([UInt8]) -> Int
    }

    public init(seed: UInt64 = 1, impairments: Impairments = .none) {
        self.random = SeededRandom(seed: seed)
        self.impairments = impairments
    }

    /// A new port on the segment with its own pool of `bufferCount` frame buffers.
    public func makePort(macAddress: MACAddress, bufferCount: Int = 1024) -> VirtualPort {
        defer { portCount += 1 }
        return VirtualPort(link: self, index: portCount, macAddress: macAddress,
                           pool: VirtualBufferPool(count: bufferCount))
    }

    /// `count` ports that are the queues of one station (one MAC address, one
    /// pool of buffers, as a NIC's queues free into any of its pools): each frame
    /// reaches one of them, the queue `queueOf` names (the station's RSS, or a
    /// kernel's fanout).
    public func makeQueues(macAddress: MACAddress, count: Int, bufferCount: Int = 1024,
                           queueOf: @escaping ([UInt8]) -> Int) -> [VirtualPort] {
        let pool = VirtualBufferPool(count: bufferCount)
        let group = QueueGroup(ports: Array(portCount..<portCount + count), queueOf: queueOf)
        return (0..<count).map { _ in
            queueGroups[portCount] = group
            defer { portCount += 1 }
            return VirtualPort(link: self, index: portCount, macAddress: macAddress, pool: pool)
        }
    }

    /// True when no frame is in flight.
    public var isIdle: Bool { inFlight.isEmpty }

    /// The earliest time a frame in flight becomes deliverable, for simulations
    /// that jump the clock instead of ticking it.
    public var nextDeliveryTime: Instant? { inFlight.lazy.map(\.deliverAt).min() }

    func refuse(_ frames: Int) { counters.refused += frames }

    func send(from source: Int, _ frame: UnsafeRawBufferPointer) {
        counters.sent += 1
        guard frame.count <= impairments.maximumFrameLength else {
            counters.oversize += 1
            return
        }
        for destination in 0..<portCount where destination != source {
            if let group = queueGroups[destination] {
                guard !group.ports.contains(source),
                      group.ports[group.queueOf(Array(frame)) % group.ports.count] == destination else { continue }
            }
            if random.chance(impairments.loss) {
                counters.lost += 1
                continue
            }
            enqueue(frame, to: destination)
            if random.chance(impairments.duplication) {
                counters.duplicated += 1
                enqueue(frame, to: destination)
            }
        }
    }

    private func enqueue(_ frame: UnsafeRawBufferPointer, to destination: Int) {
        var bytes = Array(frame)
        if random.chance(impairments.corruption), !bytes.isEmpty {
            counters.corrupted += 1
            let bit = Int(random.next() % UInt64(bytes.count * 8))
            bytes[bit / 8] ^= UInt8(1 << (bit % 8))
        }
        var deliverAt = now + impairments.delay
        if random.chance(impairments.reordering) {
            counters.reordered += 1
            deliverAt = deliverAt + impairments.reorderDelay
        }
        inFlight.append(InFlight(deliverAt: deliverAt, order: nextOrder, destination: destination, bytes: bytes))
        nextOrder += 1
    }

    /// Hands the frames due for `port` to `body`, oldest first, up to `limit`.
    func deliver(to port: Int, limit: Int, _ body: ([UInt8]) -> Bool) -> Int {
        var due: [Int] = []
        for (index, frame) in inFlight.enumerated() where frame.destination == port && frame.deliverAt <= now {
            due.append(index)
        }
        due.sort { (inFlight[$0].deliverAt, inFlight[$0].order) < (inFlight[$1].deliverAt, inFlight[$1].order) }
        var taken: [Int] = []
        for index in due.prefix(limit) {
            guard body(inFlight[index].bytes) else { break }
            taken.append(index)
        }
        counters.delivered += taken.count
        for index in taken.sorted(by: >) { inFlight.remove(at: index) }
        return taken.count
    }
}

/// Fixed-size frame buffers in one block of memory, allocated once, like an mbuf pool.
final class VirtualBufferPool {
    static let bufferSize = 2048
    let memory: UnsafeMutableRawPointer
    private var free: [UnsafeMutableRawPointer]
    let count: Int

    init(count: Int) {
        self.count = count
        let memory = UnsafeMutableRawPointer.allocate(byteCount: count * Self.bufferSize, alignment: 64)
        self.memory = memory
        free = (0..<count).reversed().map { memory + $0 * Self.bufferSize }
    }

    deinit { memory.deallocate() }

    var available: Int { free.count }

    func take() -> UnsafeMutableRawPointer? { free.popLast() }

    func give(_ slot: UnsafeMutableRawPointer) {
        precondition(slot >= memory && slot < memory + count * Self.bufferSize, "buffer of another pool")
        free.append(slot)
    }
}

/// One station on a `VirtualLink`.
public struct VirtualPort: PacketDevice {
    let link: VirtualLink
    let index: Int
    let pool: VirtualBufferPool
    public let macAddress: MACAddress
    /// The virtual link computes no checksums, so the stack's software path is tested.
    public let transmitOffloads: ChecksumOffload = []
    private var deviceStatistics = DeviceStatistics()

    init(link: VirtualLink, index: Int, macAddress: MACAddress, pool: VirtualBufferPool) {
        self.link = link
        self.index = index
        self.macAddress = macAddress
        self.pool = pool
    }

    /// Buffers currently in the pool: tests use it to prove that no buffer leaks.
    public var availableBuffers: Int { pool.available }
    public var totalBuffers: Int { pool.count }

    public mutating func receive(into buffers: UnsafeMutableBufferPointer<PacketBuffer>) -> Int {
        var received = 0
        var statistics = deviceStatistics
        let pool = self.pool
        _ = link.deliver(to: index, limit: buffers.count) { bytes in
            guard let slot = pool.take() else {
                statistics.receiveMissed += 1
                return false
            }
            let length = min(bytes.count, VirtualBufferPool.bufferSize)
            bytes.withUnsafeBytes { slot.copyMemory(from: $0.baseAddress!, byteCount: length) }
            buffers[received] = PacketBuffer(handle: slot, bytes: slot, length: length,
                                             capacity: VirtualBufferPool.bufferSize)
            statistics.receivedPackets += 1
            statistics.receivedBytes += UInt64(length)
            received += 1
            return true
        }
        deviceStatistics = statistics
        return received
    }

    public mutating func allocate() -> PacketBuffer? {
        guard let slot = pool.take() else {
            deviceStatistics.allocationFailures += 1
            return nil
        }
        return PacketBuffer(handle: slot, bytes: slot, length: 0, capacity: VirtualBufferPool.bufferSize)
    }

    public mutating func transmit(_ buffers: UnsafeMutableBufferPointer<PacketBuffer>) -> Int {
        guard link.isUp else {
            link.refuse(buffers.count)
            return 0
        }
        for buffer in buffers {
            link.send(from: index, UnsafeRawBufferPointer(start: buffer.bytes, count: buffer.length))
            deviceStatistics.transmittedPackets += 1
            deviceStatistics.transmittedBytes += UInt64(buffer.length)
            pool.give(buffer.handle)
        }
        return buffers.count
    }

    public mutating func release(_ buffer: PacketBuffer) { pool.give(buffer.handle) }

    public func statistics() -> DeviceStatistics { deviceStatistics }
}
