/// The stack of one core: it owns its device queue, its tables and its timers,
/// and shares nothing mutable with other cores.
///
/// `poll(now:)` is one turn of the run-to-completion loop of DESIGN.md §3: a
/// receive burst, protocol input for each frame, timers, then one transmit burst.
/// The engine is generic over its device so the loop is specialised for DPDK
/// and for the virtual link alike, with no dynamic dispatch per packet.
public struct Engine<Device: PacketDevice>: ~Copyable {
    public var device: Device
    public let address: IPv4Network
    public let macAddress: MACAddress
    public internal(set) var statistics = EngineStatistics()
    var routing: RoutingTable
    var neighbours: ARPCache
    var pendingResolution: ARPPendingQueue
    var output: TransmitQueue
    var tcp: TCPLayer
    /// Which core receives a flow's frames, and the ports this core may open from.
    let ownership: FlowOwnership
    var forwarding: FrameForwarding
    /// Frames in and out go to a pcap file when set (diagnostics; see `PacketCapture`).
    public var capture: PacketCapture?
    /// The time of the current iteration, for capture timestamps on transmit.
    private var iterationTime = Instant.zero
    let receiveBatch: UnsafeMutableBufferPointer<PacketBuffer>

    /// - Parameter now: the engine's clock at creation (timers count from it).
    public init(device: consuming Device, configuration: EngineConfiguration, now: Instant = .zero) {
        self.device = device
        address = configuration.address
        macAddress = self.device.macAddress
        var routing = RoutingTable(routes: configuration.routes)
        routing.add(.init(network: configuration.address))
        self.routing = routing
        neighbours = ARPCache(capacity: configuration.arpCacheCapacity)
        for neighbour in configuration.staticNeighbours {
            neighbours.addStatic(neighbour.address, neighbour.mac)
        }
        pendingResolution = ARPPendingQueue(capacity: configuration.arpQueueCapacity)
        output = TransmitQueue(capacity: configuration.transmitQueueCapacity)
        receiveBatch = .allocate(capacity: configuration.burstSize)
        tcp = TCPLayer(configuration: configuration.tcp, secret: configuration.secret, now: now)
        ownership = FlowOwnership(core: configuration.core, spreading: configuration.spreading)
        forwarding = FrameForwarding(mesh: configuration.forwarding, core: configuration.core,
                                     batchSize: configuration.burstSize)
    }

    deinit { receiveBatch.deallocate() }

    /// The first half of an iteration at time `now`: a receive burst, protocol
    /// input for every frame, then due timers. Afterwards the application takes
    /// the batch of events (`nextEvent`) and acts on it, and `flush` sends.
    /// Returns the number of frames received, so a caller can back off when idle.
    @discardableResult
    public mutating func poll(now: Instant) -> Int {
        iterationTime = now
        let received = device.receive(into: receiveBatch)
        if capture != nil {
            for index in 0..<received { capture!.record(UnsafeRawBufferPointer(receiveBatch[index].frame), at: now) }
        }
        for index in 0..<received {
            receive(receiveBatch[index], now: now)
        }
        let handedOver = forwarding.isActive ? exchangeForwarded(now: now) : 0
        runTimers(now: now)
        return received + handedOver
    }

    /// The second half of an iteration: builds TCP output in priority order
    /// (control, ACKs, data) and sends everything queued in one burst.
    public mutating func flush(now: Instant) {
        iterationTime = now
        flushTCP(now: now)
        _ = output.flush(to: &device)
    }

    /// After `flush`: frames the device did not take, or connections with data
    /// that found no transmit room, wait for the next iteration.
    public var hasPendingOutput: Bool {
        output.count > 0 || tcp.count(of: .shortData) > 0 || tcp.count(of: .bulkData) > 0
    }

    mutating func runTimers(now: Instant) {
        runTCPTimers(now: now)
        guard !pendingResolution.isEmpty else { return }
        while let action = pendingResolution.nextAction(now: now) {
            switch action {
            case .sendRequest(let nextHop):
                sendARPRequest(for: nextHop)
            case .giveUp(let nextHop):
                while let buffer = pendingResolution.take(waitingFor: nextHop) {
                    statistics.drops.count(.arpResolutionTimeout)
                    device.release(buffer)
                }
            }
        }
    }

    /// Queues a finished frame for the end-of-iteration burst.
    @inline(__always)
    mutating func transmit(_ buffer: PacketBuffer) {
        guard output.append(buffer) else {
            statistics.drops.count(.transmitQueueFull)
            device.release(buffer)
            return
        }
        statistics.transmittedFrames &+= 1
        statistics.transmittedBytes &+= UInt64(buffer.length)
        if capture != nil { capture!.record(UnsafeRawBufferPointer(buffer.frame), at: iterationTime) }
    }

    /// Drops a received frame, counting why.
    @inline(__always)
    mutating func drop(_ buffer: PacketBuffer, _ reason: DropReason) {
        statistics.drops.count(reason)
        device.release(buffer)
    }

    /// Frames the engine holds: queued for transmission or waiting for ARP.
    public var bufferedFrames: Int { output.count + pendingResolution.count }

    /// Returns every buffer the engine holds to the device and closes the
    /// capture file (before shutdown).
    public mutating func releaseAll() {
        capture?.finish()
        capture = nil
        output.discard(to: &device)
        while let buffer = pendingResolution.takeAny() { device.release(buffer) }
        releaseForwarded()
    }
}
