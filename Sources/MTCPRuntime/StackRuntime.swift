import Glibc
import MTCP
import MTCPConfig

/// Brings the stack up from mtcp.conf: configuration files, DPDK's EAL, the port,
/// then the engine loop; and takes it down again on SIGINT/SIGTERM.
///
/// Every start-up failure is reported as one line naming what failed, and the
/// process exits non-zero (see `StartupError`).
public struct StackRuntime {
    public let programName: String
    public let configuration: StackConfiguration
    public let engineConfiguration: EngineConfiguration

    /// Reads mtcp.conf and the arp.conf/route.conf it names.
    public init(programName: String, configurationPath: String) throws(ConfigurationError) {
        self.programName = programName
        configuration = try StackConfiguration.load(path: configurationPath)
        let arp = try configuration.loadStaticARPTable()
        let routes = try configuration.loadStaticRouteTable()
        var random = SystemRandomNumberGenerator()
        engineConfiguration = EngineConfiguration(
            address: configuration.address,
            routes: routes.routes.map { RoutingTable.Route(network: $0.network, gateway: $0.gateway) },
            staticNeighbours: arp.entries.map { .init(address: $0.address, mac: $0.mac) },
            burstSize: configuration.burstSize,
            tcp: configuration.tcpConfiguration,
            secret: SipHash(using: &random))
    }

    /// Starts DPDK and the port, then runs the engine with `application` until a
    /// stop signal. Returns the final statistics.
    public func run<Application: EngineApplication & ~Copyable>(
        _ application: inout Application, idleBackoff: IdleBackoff = IdleBackoff()
    ) throws(DPDKError) -> (EngineStatistics, TCPStatistics) {
        guard configuration.numCores == 1 else {
            throw DPDKError("num_cores = \(configuration.numCores): this release runs one engine; "
                + "multi-core engines are not built yet")
        }
        StopSignal.install()
        try DPDKEnvironment.initialize(arguments: configuration.ealArguments(programName: programName, pid: getpid()))
        defer { DPDKEnvironment.cleanup() }
        var port = try DPDKPort(id: configuration.portIndex)
        try port.configure(queues: 1, mbufsPerQueue: configuration.mbufsPerQueue,
                           useChecksumOffload: configuration.checksumOffload == .auto)
        try port.start()
        defer { port.stop() }

        var engine = Engine(device: port.queue(0, burstSize: configuration.burstSize),
                            configuration: engineConfiguration, now: MonotonicClock.now())
        do {
            try application.start(&engine)
        } catch {
            throw DPDKError("the application could not start: \(error)")
        }
        let link = port.link
        print("\(programName): ready: \(configuration.address) on port \(port.id) (\(port.name), "
            + "MAC \(engine.macAddress), link \(link.up ? "up" : "down"), "
            + "checksum offload \(port.transmitOffloads.isEmpty ? "off" : "on"))")
        fflush(nil)  // all streams: `stdout` itself is a global Swift 6 will not touch

        var backoff = idleBackoff
        var printer = configuration.statPrint.isEmpty ? nil : StatisticsPrinter(core: 0)
        while !StopSignal.isRequested {
            let now = MonotonicClock.now()
            let received = engine.poll(now: now)
            application.handle(&engine, now: now)
            engine.flush(now: now)
            backoff.record(received: received)
            printer?.tick(engine.statistics, engine.tcpStatistics, connections: engine.connectionCount, now: now)
        }
        engine.releaseAll()
        return (engine.statistics, engine.tcpStatistics)
    }
}

extension StackConfiguration {
    /// The DPDK port number of the configured port (`dpdkN` -> N).
    var portIndex: Int { Int(ports[0].dropFirst("dpdk".count)) ?? 0 }

    /// mbufs for one queue: the configured buffers, plus room for full descriptor
    /// rings and the pool's per-core cache, so the rings alone cannot exhaust it.
    var mbufsPerQueue: Int { maxNumBuffers + 2 * 1024 + 512 }

    /// mTCP's TCP keys as the engine's TCP parameters.
    var tcpConfiguration: TCPConfiguration {
        TCPConfiguration(maxConnections: maxConcurrency, maxBuffers: maxNumBuffers,
                         receiveBufferSize: receiveBufferSize, sendBufferSize: sendBufferSize,
                         idleTimeout: tcpTimeout.map { .seconds(UInt64($0)) },
                         timeWait: .seconds(UInt64(tcpTimewait)), delayedAck: delayedAck, minimumRTO: minimumRTO,
                         keepAliveIdle: keepAlive,
                         congestionControl: congestionControl)
    }
}
