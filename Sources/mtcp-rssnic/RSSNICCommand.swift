import ArgumentParser
import CDPDK
import Glibc
import MTCP
import MTCPDPDK
import Synchronization

/// Set by SIGINT/SIGTERM, polled by the relay loop.
let stopRequested = Atomic<Bool>(false)

@main
struct RSSNICCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mtcp-rssnic",
        abstract: "A multi-queue NIC with RSS for tests: joins a kernel interface to a stack's queues over net_memif.",
        discussion: """
            The stack's tests need a port that spreads flows as a NIC with receive-side \
            scaling does, and this machine has none. This tool is one: frames arriving on \
            --interface (a veth end, through DPDK's net_af_packet) go to one of --queues \
            net_memif queue pairs (this side is role=server on --socket) by the symmetric \
            Toeplitz hash of the stack's key and a redirection table of --reta-size entries \
            filled 0, 1, ..., --queues - 1, 0, 1, ... as drivers fill theirs (IPv4 TCP over \
            addresses and ports, other IPv4 over the addresses, ARP and the rest to queue \
            0); frames from every queue go out on --interface. The stack connects with \
            `vdev = net_memif0,role=client,socket=...` and `flow_spreading = rss`. \
            Runs until SIGINT, SIGTERM or --seconds, then prints its counters per queue.
            """)

    @Option(help: "The kernel interface that plays the wire (opened with net_af_packet, promiscuous).")
    var interface: String
    @Option(help: "The net_memif socket the stack connects to as role=client.") var socket: String
    @Option(help: "Queue pairs: the stack's num_cores.") var queues: Int = 2
    @Option(help: "Entries of the redirection table (a power of two; the stack assumes 128).")
    var retaSize: Int = FlowSpreading.defaultRedirectionTableSize
    @Option(help: "Stop by itself after this many seconds.") var seconds: Int = 600

    func validate() throws {
        guard (1...64).contains(queues) else { throw ValidationError("--queues must be within 1...64") }
        guard retaSize.nonzeroBitCount == 1, retaSize <= 4096 else {
            throw ValidationError("--reta-size must be a power of two up to 4096")
        }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
    }

    func run() throws {
        do {
            try runRelay()
        } catch {
            print("mtcp-rssnic: \(error)")
            throw ExitCode.failure
        }
    }

    private func runRelay() throws(DPDKError) {
        let wireName = "net_af_packet_rss0"
        let stackName = "net_memif_rss0"
        try DPDKEnvironment.initialize(arguments: [
            "mtcp-rssnic", "--lcores", "0@(\(Self.allowedCPUs))", "--no-pci", "--no-huge", "-m", "256",
            "--file-prefix", "mtcp-rssnic-\(getpid())", "--log-level", "pmd.net.memif:error",
            "--vdev", "\(wireName),iface=\(interface)",
            "--vdev", "\(stackName),role=server,socket=\(socket)",
        ])
        defer { DPDKEnvironment.cleanup() }
        var wire = try DPDKPort(id: Int(try Self.portID(wireName)))
        var stack = try DPDKPort(id: Int(try Self.portID(stackName)))
        try wire.configure(queues: 1, mbufsPerQueue: 8191, useChecksumOffload: false)
        try stack.configure(queues: queues, mbufsPerQueue: 4095, useChecksumOffload: false)
        try wire.start()
        try stack.start()
        defer {
            stack.stop()
            wire.stop()
        }
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber) { _ in stopRequested.store(true, ordering: .relaxed) }
        }
        let table = FlowSpreading.defaultRedirectionTable(queues: queues, size: retaSize)
        var relay = QueueRelay(wire: wire.id, stack: stack.id, queues: queues,
                               spreading: ReceiveSideScaling(key: ToeplitzHash.symmetricKey, redirectionTable: table))
        print("mtcp-rssnic: ready: \(interface) <-> \(queues) queue(s) on \(socket), redirection table of \(retaSize)")
        fflush(nil)
        let deadline = time(nil) + seconds
        var idlePolls = 0
        while !stopRequested.load(ordering: .relaxed) {
            if time(nil) >= deadline {
                print("mtcp-rssnic: \(seconds) s elapsed")
                break
            }
            if relay.relayOnce() > 0 {
                idlePolls = 0
                continue
            }
            idlePolls += 1
            // Idle: give the machine's few CPUs to the stack under test, but poll
            // again soon (a NIC adds microseconds, not milliseconds).
            if idlePolls > 64 { usleep(20) }
        }
        print("mtcp-rssnic: stopped")
        print(relay.report)
        fflush(nil)
    }

    private static func portID(_ name: String) throws(DPDKError) -> UInt16 {
        var id: UInt16 = 0
        guard rte_eth_dev_get_port_by_name(name, &id) == 0 else { throw DPDKError("no DPDK port \(name)") }
        return id
    }

    /// The CPUs this process may run on, for EAL's one lcore: it floats over
    /// them instead of being pinned beside an engine of the stack under test.
    private static var allowedCPUs: String {
        var cpus = [Int32](repeating: 0, count: 256)
        let count = mtcp_thread_cpus(&cpus, Int32(cpus.count))
        guard count > 0 else { return "0" }
        return cpus.prefix(Int(count)).map(String.init).joined(separator: ",")
    }
}
