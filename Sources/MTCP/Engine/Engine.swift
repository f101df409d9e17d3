/// The stack of one core: it owns its device queue, its tables and its timers,
/// and shares nothing mutable with other cores but the neighbour table (`ARPTable`).
///
/// `poll(now:)` is one turn of the run-to-completion loop of DESIGN.md §3: a
/// receive burst, protocol input for each frame, timers, then one transmit burst.
/// The engine is generic over its device so the loop is specialised for DPDK
/// and for the virtual link alike, with no dynamic dispatch per packet.
public struct Engine<Device: PacketDevice>: ~Copyable {
    public var device: Device
    public let address: IPv4Network
    public let macAddress: MACAddress
    /// Addresses served besides `address` (`vip`).
    let virtualAddresses: [VirtualAddress]
    public internal(set) var statistics = EngineStatistics()
    var routing: RoutingTable
    /// Keeps the neighbour table's memory alive; the packet path uses `neighbours`.
    private let neighbourStorage: ARPTableStorage
    let neighbours: ARPTable
    /// The neighbour table's generation when this engine last looked for frames
    /// of its own that another core's ARP traffic resolved.
    var neighbourGenerationSeen: UInt64 = 0
    /// Announcements of our address still to send, and when the next is due.
    var announcementsLeft = 0
    var nextAnnouncement = Instant.zero
    var pendingResolution: ARPPendingQueue
    var output: TransmitQueue
    var shaper: TransmitShaper
    /// Set while the data list is served: only its segments wait for line credit.
    var servingDataList = false
    /// Payload bytes, new and resent, that the data list's current turn has sent
    /// (`sendDataListSegments`); SRPT charges its turns by them.
    var dataTurnBytes = 0
    /// The most payload bytes the current turn may send: once it has sent that
    /// many, its next data segment waits as if for the line (the starvation
    /// guard's bounded turn); `Int.max` for every other turn.
    var dataTurnLimit = Int.max
    /// The current turn stopped at `dataTurnLimit`, not for the line or buffers.
    var dataTurnLimited = false
    var tcp: TCPLayer
    /// The IPv6 half of the dual stack (disabled without `ip6_addr`).
    var ipv6: IPv6Layer
    /// Which core receives a flow's frames, and the ports this core may open from.
    let ownership: FlowOwnership
    var forwarding: FrameForwarding
    /// The kernel interface that gets the frames the stack does not serve; nil: none.
    var exception: ExceptionPath<Device>?
    /// Frames in and out go to a pcap file when set (diagnostics; see `PacketCapture`).
    public var capture: PacketCapture?
    /// The time of the current iteration, for capture timestamps on transmit.
    private(set) var iterationTime = Instant.zero
    let receiveBatch: UnsafeMutableBufferPointer<PacketBuffer>

    /// - Parameter now: the engine's clock at creation (timers count from it).
    public init(device: consuming Device, configuration: EngineConfiguration, now: Instant = .zero) {
        self.device = device
        // Frames sent before the first iteration (the start-up announcements) are
        // captured at the engine's creation, not at the clock's origin.
        iterationTime = now
        address = configuration.address
        macAddress = self.device.macAddress
        virtualAddresses = configuration.virtualAddresses
        var routing = RoutingTable(routes: configuration.routes)
        routing.add(.init(network: configuration.address))
        self.routing = routing
        neighbourStorage = configuration.neighbourTable
            ?? ARPTableStorage(capacity: configuration.arpCacheCapacity, staticNeighbours: configuration.staticNeighbours)
        neighbours = neighbourStorage.table
        pendingResolution = ARPPendingQueue(capacity: configuration.arpQueueCapacity)
        output = TransmitQueue(capacity: configuration.transmitQueueCapacity)
        shaper = TransmitShaper(megabitsPerSecond: configuration.transmitRateMbps, now: now)
        receiveBatch = .allocate(capacity: configuration.burstSize)
        tcp = TCPLayer(configuration: configuration.tcp, secret: configuration.secret,
                       ephemeralPortStart: configuration.ephemeralPortStart, now: now)
        ipv6 = IPv6Layer(configuration: configuration.ipv6, macAddress: macAddress,
                         queueCapacity: configuration.arpQueueCapacity,
                         neighbourCapacity: configuration.arpCacheCapacity, now: now)
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
    @inline(__always)  // into each loop's iteration: the runtime's loop had it out of line
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
        let fromKernel = exception != nil ? receiveFromKernel() : 0
        runTimers(now: now)
        return received + handedOver + fromKernel
    }

    /// The second half of an iteration: builds TCP output in priority order
    /// (control, ACKs, data) and sends everything queued in one burst.
    public mutating func flush(now: Instant) {
        iterationTime = now
        shaper.refill(now: now)
        flushTCP(now: now)
        _ = output.flush(to: &device)
    }

    /// After `flush`: frames the device did not take, or connections with data
    /// that found no transmit room (or no line credit), wait for the next iteration.
    /// Not while the device refuses output outright (it took none of the frames
    /// offered, `TransmitQueue.isRefused`): they wait, queued, for whichever
    /// iteration comes next (the idle policy's next wake-up at the latest, bounded
    /// by the next timer), and an idle engine sleeps meanwhile rather than spin on
    /// a device that takes nothing. Frames that then find the queue full are
    /// dropped and counted (`transmit_queue_full`).
    public var hasPendingOutput: Bool { !output.isRefused && (output.count > 0 || outputBacklog > 0) }

    /// Connections waiting on the output lists after `flush`: with a shaped
    /// line, the backlog a saturated NIC would hold.
    public var outputBacklog: Int {
        tcp.count(of: .control) + tcp.count(of: .ack) + tcp.count(of: .shortData) + tcp.count(of: .bulkData)
            + tcp.sizeOrderedData.count
    }

    mutating func runTimers(now: Instant) {
        runTCPTimers(now: now)
        if announcementsLeft > 0 && now >= nextAnnouncement { sendAnnouncement(now: now) }
        if ipv6.isEnabled { runNeighborDiscoveryTimers(now: now) }
        guard !pendingResolution.isEmpty else { return }
        releaseFramesResolvedElsewhere(now: now)
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
        shaper.charge(frameLength: buffer.length)
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
    public var bufferedFrames: Int { output.count + pendingResolution.count + ipv6.pendingResolution.count }

    /// Returns every buffer the engine holds to the device and closes the
    /// capture file (before shutdown).
    public mutating func releaseAll() {
        capture?.finish()
        capture = nil
        output.discard(to: &device)
        while let buffer = pendingResolution.takeAny() { device.release(buffer) }
        while let buffer = ipv6.pendingResolution.takeAny() { device.release(buffer) }
        releaseForwarded()
    }
}
