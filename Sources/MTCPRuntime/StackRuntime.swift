import CDPDK
import Glibc
import MTCP
import MTCPConfig
import MTCPDPDK
import MTCPEventLog
import Synchronization

/// Brings the stack up from mtcp.conf: configuration files, DPDK's EAL, the port,
/// then the engine loop; and takes it down again on SIGINT/SIGTERM.
///
/// Every start-up failure is reported as one line naming what failed, and the
/// process exits non-zero (see `StartupError`).
public struct StackRuntime {
    public let programName: String
    /// The configuration read from mtcp.conf; a command line may override keys
    /// (the loadgen's `-N` sets `numCores`) before `run`.
    public var configuration: StackConfiguration
    public let engineConfiguration: EngineConfiguration
    /// Where events go (standard error) and the level they pass at; the
    /// application's cores log through it too.
    public let eventLog: EventLog

    /// Reads mtcp.conf and the arp.conf/route.conf it names.
    public init(programName: String, configurationPath: String) throws(ConfigurationError) {
        self.programName = programName
        eventLog = EventLog(program: programName)
        configuration = try StackConfiguration.load(path: configurationPath)
        let arp = try configuration.loadStaticARPTable()
        let routes = try configuration.loadStaticRouteTable()
        var random = SystemRandomNumberGenerator()
        let bootSecret = BootSecret.load()
        if bootSecret == nil {
            eventLog.logger().notice("no usable TCP key in \(BootSecret.defaultDirectory) (it must be a private directory this user can write, its tcp-secret a private 16-byte file): TCP keyed at random for this process (a 4-tuple reused after it may meet its old TIME-WAIT)")
        }
        var engineConfiguration = EngineConfiguration(
            address: configuration.address,
            routes: routes.routes.map { RoutingTable.Route(network: $0.network, gateway: $0.gateway) },
            staticNeighbours: arp.entries.map { .init(address: $0.address, mac: $0.mac) },
            burstSize: configuration.burstSize,
            tcp: configuration.tcpConfiguration,
            secret: bootSecret ?? SipHash(using: &random))
        engineConfiguration.ephemeralPortStart = random.next()
        engineConfiguration.virtualAddresses = configuration.virtualAddresses
        engineConfiguration.ipv6 = IPv6Configuration(
            addresses: configuration.ipv6Addresses,
            routes: routes.ipv6Routes.map { IPv6RoutingTable.Route(network: $0.network, gateway: $0.gateway) },
            staticNeighbours: arp.ipv6Entries.map { .init(address: $0.address, mac: $0.mac) })
        self.engineConfiguration = engineConfiguration
    }

    /// The outcome of a run: each core's final statistics and what went wrong.
    public struct Outcome: Sendable {
        public var cores: [CoreSnapshot]
        /// One line per core that failed to start or run.
        public var failures: [String]
        /// The port's own counters once the cores ended (nil: the driver could not
        /// read them, or keeps none).
        public var port: DeviceStatistics?
        public var total: CoreSnapshot { cores.total }
    }

    /// Starts DPDK and the port with one queue pair per core, then runs an
    /// engine and an instance of the application on every core (the first on
    /// this thread, the others on EAL's worker lcores) until a stop signal and
    /// the graceful stop that follows it.
    ///
    /// - Parameter idle: how idle engines wait, instead of mtcp.conf's `idle`.
    /// - Parameter makeApplication: called on each core's own thread with the
    ///   core's number (0..<num_cores), so per-core state is allocated there; an
    ///   error it throws stops every core and is reported as a start-up failure.
    /// - Parameter prepareReload: on SIGHUP, reads and checks the new
    ///   configuration on the management thread; true accepts it, and then every
    ///   core's application `reload`s (see `ConfigurationReloads`).
    public func run<Application: EngineApplication & ~Copyable>(
        idle idleOverride: StackConfiguration.IdleMode? = nil,
        prepareReload: (@Sendable () -> Bool)? = nil,
        makeApplication: @escaping @Sendable (Int) throws -> Application
    ) throws(DPDKError) -> Outcome where Application.Device == DPDKQueue {
        try checkMemory()
        StopSignal.install()
        ReloadSignal.install()
        let processCPUs = ManagementAffinity.currentThreadCPUs()  // before EAL pins this thread
        try DPDKEnvironment.initialize(arguments: configuration.ealArguments(programName: programName, pid: getpid()))
        defer { DPDKEnvironment.cleanup() }
        let cores = configuration.numCores
        let requestedIdle = idleOverride ?? configuration.idle
        var port = try DPDKPort(id: configuration.portIndex)
        try port.configure(queues: cores, mbufsPerQueue: configuration.mbufsPerQueue,
                           useChecksumOffload: configuration.checksumOffload == .auto,
                           mtu: configuration.mtu, deviceArguments: configuration.deviceArguments(of: port.name),
                           receiveInterrupts: requestedIdle == .interrupt)
        try port.start()
        defer { port.stop() }
        let kernelPort = try configuration.exceptionPath ? startKernelInterface(beside: port, cores: cores) : nil
        defer { kernelPort?.stop() }
        let workers = ThreadLaunch.workerLcores
        guard workers.count >= cores - 1 else {
            throw DPDKError("num_cores = \(cores) but EAL started \(workers.count + 1) lcores")
        }

        let board = StatisticsBoard(cores: cores)
        let management = try ManagementPlane(board: board, printStatistics: !configuration.statPrint.isEmpty,
                                             prometheusPort: configuration.prometheusPort,
                                             prepareReload: prepareReload,
                                             portStatistics: { [id = port.id] in DPDKPort.statistics(ofPort: id) })
        let engineCPUs = ([rte_get_main_lcore()] + workers.prefix(cores - 1)).map { Int(rte_lcore_to_cpu_id(Int32($0))) }
        let (managementCPUs, shared) = ManagementAffinity.cpus(allowed: processCPUs, lcores: engineCPUs)
        if shared {
            print("\(programName): every CPU runs an engine: the management thread shares their CPUs")
        }
        let managementThread = ThreadLaunch.detached { management.run() }
        ManagementAffinity.restrict(managementThread, to: managementCPUs)
        rte_thread_setname(managementThread, "mtcp-management")
        var managementJoined = false
        func stopManagement() {
            guard !managementJoined else { return }
            managementJoined = true
            management.stop()
            ThreadLaunch.join(managementThread)
        }
        defer { stopManagement() }  // before the port stops and EAL is cleaned up (defers run last first)
        let outcomes = CoreOutcomes(cores: cores)
        let link = port.link
        var spreadConfiguration = self.engineConfiguration(cores: cores)
        // One neighbour table for every core: ARP answers land on whichever queue
        // the port chooses, and every core must resolve what any of them heard.
        spreadConfiguration.shareNeighbourTable()
        spreadConfiguration.spreading = configuration.spreading(reportedByPort: port.flowSpreading)
        if case .unpredictable = spreadConfiguration.spreading {
            spreadConfiguration.forwarding = ForwardingMesh(cores: cores)
        }
        defer {  // the cores are joined by then and the port not yet stopped: its mbufs go back
            _ = spreadConfiguration.forwarding?.drain { rte_pktmbuf_free(OpaquePointer($0.handle)) }
        }
        let engineConfiguration = spreadConfiguration
        let idle = Self.idleMode(requested: requestedIdle, port: port,
                                 forwarding: engineConfiguration.forwarding != nil, exceptionPath: kernelPort != nil)
        let readyLine = "\(programName): ready: \(configuration.address) on port \(port.id) (\(port.name), "
            + "MAC \(port.macAddress), link \(link.up ? "up" : "down"), "
            + "checksum offload \(port.transmitOffloads.isEmpty ? "off" : "on"), "
            + "MTU \(configuration.mtu) (MSS \(configuration.maximumSegmentSize)), "
            + "\(cores) engine\(cores == 1 ? "" : "s")"
            + (cores == 1 ? "" : ", flows \(engineConfiguration.spreading.name)")
            + (configuration.prometheusPort == 0 ? "" : ", metrics on 127.0.0.1:\(configuration.prometheusPort)")
            + (kernelPort == nil ? "" : ", exception path to \(configuration.exceptionSettings.interfaceName)")
            + ", idle \(idle.description))"
        // Printed and sent by the last core to start its application, not here.
        let readiness = StartupReadiness(cores: cores, line: readyLine,
                                         state: "READY=1\nMAINPID=\(getpid())\nSTATUS=serving on \(configuration.address)")
        let settings = coreSettings(idle: idle.mode, readiness: readiness)
        defer { ServiceNotification.send("STOPPING=1") }  // the engines have stopped; the port goes next

        try CoreLaunch.run(workers: cores - 1, launch: { core throws(DPDKError) in
            let queue = UncheckedQueue(port.queue(core, burstSize: configuration.burstSize))
            let kernelQueue = kernelPort.map { UncheckedQueue($0.queue(core, burstSize: configuration.burstSize)) }
            try ThreadLaunch.onLcore(workers[core - 1]) {
                outcomes.set(core, runCore(core: core, device: queue.take(), kernelDevice: kernelQueue?.take(),
                                           configuration: engineConfiguration, settings: settings, board: board,
                                           makeApplication: makeApplication))
            }
        }, runMain: {
            outcomes.set(0, runCore(core: 0, device: port.queue(0, burstSize: configuration.burstSize),
                                    kernelDevice: kernelPort?.queue(0, burstSize: configuration.burstSize),
                                    configuration: engineConfiguration, settings: settings, board: board,
                                    makeApplication: makeApplication))
        }, requestStop: StopSignal.request, waitForWorkers: ThreadLaunch.waitForLcores)
        var outcome = outcomes.outcome
        // Every core has ended; the port has not stopped yet. The management
        // thread goes first: two reads at once can lose counts on drivers whose
        // registers clear on read.
        stopManagement()
        outcome.port = port.statistics()?.kept(engineReceivedFrames: outcome.total.engine.receivedFrames)
        return outcome
    }

    /// The exception path's kernel interface: a `net_tap` port with the port's
    /// MAC (the kernel's frames leave by the port, and answers to them must come
    /// back to it) and one queue pair per core, started.
    private func startKernelInterface(beside port: DPDKPort, cores: Int) throws(DPDKError) -> DPDKPort {
        var tap = try DPDKPort.tap(interfaceName: configuration.exceptionSettings.interfaceName,
                                   macAddress: port.macAddress)
        // Frames are copied in and out of the tap, so a small pool per queue does.
        try tap.configure(queues: cores, mbufsPerQueue: 4096, receiveDescriptors: 512, transmitDescriptors: 512,
                          useChecksumOffload: false)
        try tap.start()
        return tap
    }

    /// Each engine shapes its own queue to an equal share of the port's line rate.
    private func engineConfiguration(cores: Int) -> EngineConfiguration {
        var engineConfiguration = self.engineConfiguration
        if let rate = configuration.transmitRateMbps {
            engineConfiguration.transmitRateMbps = UInt64(max(rate / cores, 1))
        }
        return engineConfiguration
    }

    /// The idle mode the engines use, and how the ready line says it: receive
    /// interrupts only where every queue has one and every frame of a core
    /// arrives on its own queue (frames forwarded from another core, or coming
    /// from the exception path's tap, would raise none and wait for the timeout).
    private static func idleMode(requested: StackConfiguration.IdleMode, port: DPDKPort, forwarding: Bool,
                                 exceptionPath: Bool) -> (mode: StackConfiguration.IdleMode, description: String) {
        guard requested == .interrupt else { return (requested, requested.rawValue) }
        let reason = !port.offersReceiveInterrupts ? "\(port.name) has no receive interrupts"
            : forwarding ? "frames forwarded between cores raise no interrupt"
            : exceptionPath ? "the exception path's tap is polled" : nil
        guard let reason else { return (.interrupt, "interrupt") }
        return (.backoff, "backoff (\(reason))")
    }

    private func coreSettings(idle: StackConfiguration.IdleMode, readiness: StartupReadiness) -> CoreSettings {
        var wallClock = timespec()
        clock_gettime(CLOCK_REALTIME, &wallClock)
        let unixNanoseconds = Int64(wallClock.tv_sec) * 1_000_000_000 + Int64(wallClock.tv_nsec)
        let capture = configuration.pcapFile.map { (path: $0, maximumBytes: configuration.pcapMaxMB << 20) }
        let idleBackoff = switch idle {
        case .poll: IdleBackoff.busyPoll
        case .backoff: IdleBackoff()
        case .interrupt: IdleBackoff.interruptDriven
        }
        return CoreSettings(idleBackoff: idleBackoff, receiveInterrupts: idle == .interrupt,
                            drain: .seconds(UInt64(configuration.drainSeconds)),
                            grace: .seconds(UInt64(configuration.shutdownGraceSeconds)),
                            capture: capture, cores: configuration.numCores,
                            epochOffsetNanoseconds: unixNanoseconds - Int64(MonotonicClock.now().nanoseconds),
                            readiness: readiness, kernelTraffic: configuration.exceptionSettings.kept,
                            eventLog: eventLog)
    }

    /// Refuses, with one line, pools that cannot fit in memory: the buffer pools
    /// are zeroed at start-up, so an oversized configuration would otherwise end
    /// in the kernel's OOM killer instead of an error message.
    private func checkMemory() throws(DPDKError) {
        let perCore = configuration.maxNumBuffers * (configuration.receiveBufferSize + configuration.sendBufferSize)
            + configuration.maxConcurrency * 1024
        let needed = perCore * configuration.numCores
        guard let available = Self.availableMemory(), needed > available else { return }
        throw DPDKError("the per-core pools need \(needed >> 20) MiB (max_num_buffers \(configuration.maxNumBuffers) "
            + "x (rcvbuf + sndbuf) x \(configuration.numCores) cores) but only \(available >> 20) MiB is available")
    }

    /// MemAvailable of /proc/meminfo, in bytes.
    private static func availableMemory() -> Int? {
        guard let file = fopen("/proc/meminfo", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix("MemAvailable:") else { continue }
            let kilobytes = text.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            return kilobytes.map { $0 * 1024 }
        }
        return nil
    }
}

/// A queue handed to the lcore that will own it; the queue is used by that
/// core only from then on.
private final class UncheckedQueue: @unchecked Sendable {
    private var queue: DPDKQueue?
    init(_ queue: DPDKQueue) { self.queue = queue }
    func take() -> DPDKQueue {
        defer { queue = nil }
        return queue!
    }
}

/// Where the cores leave their outcomes.
private final class CoreOutcomes: Sendable {
    private let slots: Mutex<[CoreOutcome?]>
    init(cores: Int) { slots = Mutex(Array(repeating: nil, count: cores)) }
    func set(_ core: Int, _ outcome: CoreOutcome) { slots.withLock { $0[core] = outcome } }
    var outcome: StackRuntime.Outcome {
        slots.withLock { slots in
            StackRuntime.Outcome(cores: slots.enumerated().map { $1?.snapshot ?? CoreSnapshot(core: $0) },
                                 failures: slots.compactMap { $0?.failure })
        }
    }
}

extension StackConfiguration {
    /// The DPDK port number of the configured port (`dpdkN` -> N).
    var portIndex: Int { Int(ports[0].dropFirst("dpdk".count)) ?? 0 }

    /// The `key=value` arguments of the vdev that made port `name`; none for a PCI port.
    func deviceArguments(of name: String) -> [String: String] {
        vdevs.first { $0.prefix { $0 != "," } == name }.map(PortFrameSize.deviceArguments(of:)) ?? [:]
    }

    /// mbufs for one queue: the configured buffers, plus room for full descriptor
    /// rings and the pool's per-core cache, so the rings alone cannot exhaust it.
    var mbufsPerQueue: Int { maxNumBuffers + 2 * 1024 + 512 }

    /// mTCP's TCP keys as the engine's TCP parameters.
    var tcpConfiguration: TCPConfiguration {
        TCPConfiguration(maxConnections: maxConcurrency, maxBuffers: maxNumBuffers,
                         receiveBufferSize: receiveBufferSize, sendBufferSize: sendBufferSize,
                         maximumSegmentSize: maximumSegmentSize,
                         idleTimeout: tcpTimeout.map { .seconds(UInt64($0)) },
                         timeWait: .seconds(UInt64(tcpTimewait)), delayedAck: delayedAck, minimumRTO: minimumRTO,
                         peerRTTCache: peerRTTCache, keepAliveIdle: keepAlive,
                         congestionControl: congestionControl, shortFlowThreshold: shortFlowBytes,
                         dataScheduling: dataScheduling)
    }
}
