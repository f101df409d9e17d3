import MTCP

/// The stack's configuration, read from `mtcp.conf` in mTCP's `key = value` format so
/// that an existing mTCP deployment carries over, plus keys of our own for what mTCP
/// took from elsewhere (EAL arguments, virtual devices, the stack's address).
///
/// The format: one `key = value` per line, `#` starts a comment running to the end of
/// the line, blank lines and whitespace around keys, `=` and values do not matter.
/// Unknown keys, repeated keys (except `vdev`), bad values and missing required keys
/// are errors naming the file, the line and the key.
///
/// mTCP's keys:
/// - `io`: the packet I/O module. Only `dpdk` is supported; mTCP's `psio`, `netmap`
///   and `onvm` are errors. Optional, since there is no other choice.
/// - `num_cores`, `core_mask`, `num_mem_ch`, `port`, `max_concurrency`,
///   `max_num_buffers`, `rcvbuf`, `sndbuf`, `tcp_timeout`, `tcp_timewait`,
///   `stat_print`: see the properties of the same meaning below.
/// - `multiprocess`: only `0` is accepted; multi-process mode is not supported
///   (one process runs one engine per core instead).
///
/// Our keys: `ip_addr` (required), `eal_args`, `vdev` (repeatable), `file_prefix`,
/// `hugepages`, `memory_mb`, `checksum_offload`, `idle`, `flow_spreading`, `burst_size`, `congestion_control`,
/// `delayed_ack_ms`, `tcp_keepalive`, `min_rto_ms`, `peer_rtt_cache`, `short_flow_bytes`, `data_scheduling`,
/// `tx_rate_mbps`, `pcap_file`, `pcap_max_mb`,
/// `prometheus_port`, `drain_s`, `shutdown_grace_s`, `arp_conf`,
/// `route_conf`, `mtu`: see the properties below; `exception_path`, `exception_iface`,
/// `exception_protocols`, `exception_tcp_ports`, `vip`: see StackConfiguration+Services.swift.
public struct StackConfiguration: Equatable, Sendable {
    /// How an engine with nothing to do waits for work (`idle`).
    public enum IdleMode: String, Equatable, Sendable {
        /// Never waits: polls its queue without pause (lowest latency, a core at 100%).
        case poll
        /// Polls for 500 µs after the last work, then sleeps, 50 µs doubling to 1 ms
        /// and never past the next timer.
        case backoff
        /// As `backoff` for 500 µs, then arms the queue's receive interrupt and
        /// sleeps until a frame comes or the next timer is due (100 ms at most);
        /// `backoff` on a port without receive interrupts.
        case interrupt
    }

    /// Whether to use the checksum offloads a port offers.
    public enum ChecksumOffload: String, Equatable, Sendable {
        /// Use what the port offers; compute in software what it does not.
        case auto
        /// Always compute checksums in software.
        case off
    }

    /// How the port's peer spreads received flows over the queues, where the
    /// port cannot say (see `FlowSpreading`).
    public enum FlowSpreadingChoice: String, Equatable, Sendable {
        /// As the device says: memif pairs its queues, a port hashing with our key
        /// steers by its redirection table, anything else is forwarded between cores.
        case auto
        /// The peer is an RSS NIC (a memif peer that spreads as one, like the test
        /// fixture mtcp-rssnic): the symmetric Toeplitz key and the default
        /// redirection table of `FlowSpreading.defaultRedirectionTableSize` entries.
        case rss
    }

    /// Where a static table (`arp.conf`, `route.conf`) is read from.
    public struct TableFile: Equatable, Sendable {
        /// Relative paths in `mtcp.conf` are resolved against the directory of `mtcp.conf`.
        public var path: String
        /// The line of `mtcp.conf` that named the file; nil for the default file next
        /// to `mtcp.conf`, which may be missing (meaning: no static entries).
        public var line: Int?

        public init(path: String, line: Int? = nil) {
            self.path = path
            self.line = line
        }
    }

    /// The `mtcp.conf` this configuration was read from (or stands for).
    public var file: String

    // MARK: mTCP's keys

    /// `num_cores`: how many cores run an engine (1...128, default 1). Without
    /// `core_mask` the cores are 0..<num_cores; with it, it is the mask's popcount.
    public var numCores = 1
    /// `core_mask`: the cores to run on, in hex (`0x3` = cores 0 and 1; the `0x` may be
    /// left out). Optional; when `num_cores` is given too, the number of bits set must
    /// equal it.
    public var coreMask: UInt64?
    /// `num_mem_ch`: memory channels per socket (1...32), passed to EAL as `-n`.
    /// Optional; without it EAL uses its own default.
    public var numMemoryChannels: Int?
    /// `port`: the ports the stack drives, space-separated names `dpdkN` where N is the
    /// DPDK port id. Required. This release supports exactly one port.
    public var ports: [String]
    /// `max_concurrency`: the most connections per core (1...2^24, default 10000); sizes
    /// the per-core connection pool and flow table.
    public var maxConcurrency = 10_000
    /// `max_num_buffers`: send/receive buffers per core (1...2^24, default 10000).
    public var maxNumBuffers = 10_000
    /// `rcvbuf`: receive buffer per connection in bytes (1024...64 MiB, default 8192).
    public var receiveBufferSize = 8192
    /// `sndbuf`: send buffer per connection in bytes (1024...64 MiB, default 8192).
    public var sendBufferSize = 8192
    /// `tcp_timeout`: idle timeout in seconds (default 30, at most 86400); as in mTCP,
    /// `0` or `-1` disable it, which is nil here.
    public var tcpTimeout: Int? = 30
    /// `tcp_timewait`: seconds a closed connection stays in TIME_WAIT (0...86400,
    /// default 0).
    public var tcpTimewait = 0
    /// `stat_print`: ports whose statistics are printed periodically; each must be one
    /// of `port`. Default none.
    public var statPrint: [String] = []

    // MARK: Our keys

    /// `ip_addr`: the stack's IPv4 address and prefix length in CIDR form, e.g.
    /// `198.18.0.1/24`. Required; the prefix must be written out.
    public var address: IPv4Network
    /// `ip6_addr`: IPv6 addresses with their on-link prefix lengths, e.g.
    /// `2001:2::1/64`, one per line (the key may repeat). Optional: without it
    /// the stack is IPv4 only. The link-local address comes from the MAC.
    public var ipv6Addresses: [IPv6Network] = []
    /// `eal_args`: extra EAL arguments, whitespace-separated, appended last. Options that
    /// other keys control (`-l`, `-c`, `--lcores`, `-n`, `--file-prefix`, `--vdev`,
    /// `--no-huge`, `-m`, `--no-pci`) are errors here. A PCI allow-list (`-a`/`--allow`)
    /// turns PCI probing on: see `probesPCI`.
    public var extraEALArguments: [String] = []
    /// `vdev`: virtual devices, one per `vdev` line (the key may repeat), each passed as
    /// one `--vdev` argument, e.g. `net_af_packet0,iface=mtcp-a0`. Device names must differ.
    public var vdevs: [String] = []
    /// `file_prefix`: EAL's `--file-prefix` (letters, digits, `.`, `_`, `-`). Optional:
    /// by default the runtime derives one from the program name and the pid, so that
    /// every DPDK process gets its own.
    public var filePrefix: String?
    /// `hugepages`: `yes` to use hugetlbfs, `no` (default) to run EAL with
    /// `--no-huge -m memory_mb`.
    public var hugepages = false
    /// `memory_mb`: megabytes of memory EAL may use without hugepages (1...1048576,
    /// default 512); only used with `hugepages = no`.
    public var memoryMB = 512
    /// `checksum_offload`: `auto` (default) or `off`.
    public var checksumOffload = ChecksumOffload.auto
    /// `idle`: `poll`, `backoff` or `interrupt` (default: interrupts where the port has them).
    public var idle = IdleMode.interrupt
    /// `flow_spreading`: `auto` (default) or `rss`.
    public var flowSpreading = FlowSpreadingChoice.auto
    /// `congestion_control`: newreno (RFC 6582, default), cubic (RFC 9438) or bbr
    /// (BBR v1's model and window, without pacing).
    public var congestionControl = CongestionControl.Algorithm.newReno
    /// `delayed_ack_ms`: longest an ACK is delayed (RFC 1122 §4.2.3.2, at most 500);
    /// 0 acknowledges every segment at once. Default 40, as Linux.
    public var delayedAck: TimeSpan? = .milliseconds(40)
    /// `tcp_keepalive`: seconds of idleness before keep-alive probes (RFC 1122
    /// §4.2.3.6); 0, the default, turns them off.
    public var keepAlive: TimeSpan? = nil
    /// `min_rto_ms`: lower bound of the retransmission timeout. Default 200, as
    /// Linux (RFC 6298 suggests 1000).
    public var minimumRTO = TimeSpan.milliseconds(200)
    /// `peer_rtt_cache`: `on` times a SYN or SYN-ACK from the RTT of the peer's
    /// last connection on the same core (RFC 9040 §5) instead of RFC 6298's
    /// 1 s; `off` (default) keeps the 1 s, as Linux does.
    public var peerRTTCache = false
    /// `short_flow_bytes`: connections with at most this many bytes left to send
    /// go to the front of the data list (mTCP's short-flows-first output); 0
    /// turns the priority off (0...16 MiB, default 16384).
    public var shortFlowBytes = 16 * 1024
    /// `data_scheduling`: the order of the data list when the line is the
    /// bottleneck: `fifo` (mTCP's), `two_class` (default: flows with at most
    /// `short_flow_bytes` left first) or `srpt` (fewest bytes left first, with aging).
    public var dataScheduling = DataScheduling.twoClass
    /// `tx_rate_mbps`: shape the port's output to this line rate in Mbit/s, Ethernet
    /// framing included (1...400000; default none: as fast as the device takes
    /// frames). Output the line cannot take waits on the TCP output lists, as on
    /// a saturated NIC; with several cores each engine gets an equal share.
    public var transmitRateMbps: Int?
    /// `burst_size`: packets per rx/tx burst (1...512, default 32).
    public var burstSize = 32
    /// `pcap_file`: capture every frame the stack receives and sends to pcap
    /// files that Wireshark and tshark open (tcpdump cannot see kernel-bypass
    /// traffic); with several cores, one file per core, `NAME-coreN.pcap` for
    /// `NAME.pcap`. Relative
    /// paths are resolved against the working directory. Off by default.
    public var pcapFile: String?
    /// `pcap_max_mb`: size limit of each capture file (1...65536, default 64);
    /// capture stops, counted, when a file is full.
    public var pcapMaxMB = 64
    /// `prometheus_port`: TCP port on 127.0.0.1 (a kernel socket in the
    /// appliance's network namespace: management plane, never the data path)
    /// serving the counters in Prometheus' text format; 0, the default, is off.
    public var prometheusPort = 0
    /// `drain_s`: after SIGINT/SIGTERM, seconds the application goes on accepting
    /// and serving while it tells health checkers it is going away (the HTTP
    /// server's `/healthz` answers 503), before its listeners close (0...3600,
    /// default 0: no drain). Behind a load balancer, set it to the time its
    /// health check takes to withdraw a failing server (interval x fall, plus a
    /// timeout), so no new connection is refused while the route still points here.
    public var drainSeconds = 0
    /// `shutdown_grace_s`: once the listeners are closed, seconds that open
    /// connections get to finish before the engines stop (0...3600, default 5).
    public var shutdownGraceSeconds = 5
    /// `mtu`: the largest IP packet the port carries, in bytes (576...9000, default
    /// 1500), for the one port of `port`. The MSS we announce and send with is derived
    /// from it, and the port's buffers are sized for it; the port refuses at start a
    /// value its device cannot carry.
    public var mtu = 1500
    /// `arp_conf`: the static ARP table; default `arp.conf` next to `mtcp.conf`.
    public var arpTable: TableFile
    /// `route_conf`: the static routes; default `route.conf` next to `mtcp.conf`.
    public var routeTable: TableFile
    /// `exception_path` and its keys (StackConfiguration+Services.swift).
    public var exceptionPath = false
    public var exceptionSettings = ExceptionPathSettings()
    /// `vip`: addresses served besides `ip_addr`.
    public var virtualAddresses: [VirtualAddress] = []

    /// A configuration with every default, the tables next to `file`.
    public init(file: String, address: IPv4Network, ports: [String]) {
        self.file = file
        self.address = address
        self.ports = ports
        arpTable = TableFile(path: Self.resolve("arp.conf", relativeTo: file))
        routeTable = TableFile(path: Self.resolve("route.conf", relativeTo: file))
    }

    /// The MSS derived from `mtu`: what an IPv4 packet of that size holds after the
    /// 20-byte IPv4 and 20-byte TCP headers (RFC 9293 §3.7.1; options count against it).
    public var maximumSegmentSize: Int { mtu - 40 }

    /// The cores that run an engine, ascending: the bits of `coreMask`, else 0..<numCores.
    public var cores: [Int] {
        guard let coreMask else { return Array(0..<numCores) }
        return (0..<UInt64.bitWidth).filter { coreMask >> UInt64($0) & 1 == 1 }
    }

    /// How flows reach the cores: what the port reports (`DPDKPort.flowSpreading`)
    /// unless `flow_spreading = rss` says the peer is an RSS NIC the port cannot ask.
    public func spreading(reportedByPort reported: FlowSpreading) -> FlowSpreading {
        guard flowSpreading == .rss, numCores > 1 else { return reported }
        return .receiveSideScaling(redirectionTable: FlowSpreading.defaultRedirectionTable(queues: numCores))
    }

    /// Whether EAL may probe PCI devices: only when `eal_args` holds a PCI allow-list
    /// (`-a`/`--allow`). Otherwise the runtime passes `--no-pci`, so that DPDK never
    /// touches the machine's own NICs.
    public var probesPCI: Bool {
        extraEALArguments.contains { EALOption.allow.matches($0[...]) }
    }

    /// The complete EAL argv: the program name, `-l` with the core list, `-n` (when
    /// `num_mem_ch` is set), `--no-pci` unless `probesPCI`, `--no-huge -m memory_mb`
    /// unless `hugepages`, `--file-prefix` (`file_prefix`, else `<program>-<pid>`), one
    /// `--vdev` per `vdev`, then `eal_args`.
    public func ealArguments(programName: String, pid: Int32) -> [String] {
        var arguments = [programName, "-l", cores.map(String.init).joined(separator: ",")]
        if let numMemoryChannels { arguments += ["-n", String(numMemoryChannels)] }
        if !probesPCI { arguments.append("--no-pci") }
        if !hugepages { arguments += ["--no-huge", "-m", String(memoryMB)] }
        let programBaseName = programName.split(separator: "/").last.map(String.init) ?? programName
        arguments += ["--file-prefix", filePrefix ?? "\(programBaseName)-\(pid)"]
        for vdev in vdevs { arguments += ["--vdev", vdev] }
        return arguments + extraEALArguments
    }
}

// MARK: - Parsing

extension StackConfiguration {
    /// Reads and parses `path`.
    public static func load(path: String) throws(ConfigurationError) -> StackConfiguration {
        try parse(text: ConfigurationFile.read(path), file: path)
    }

    /// Parses the text of an `mtcp.conf`. `file` names it in errors and is the base for
    /// relative `arp_conf`/`route_conf` paths and their defaults.
    public static func parse(text: String, file: String) throws(ConfigurationError) -> StackConfiguration {
        // Required keys are checked below, so these placeholders never survive.
        let placeholder = IPv4Network(address: .any, prefixLength: 0)
        var configuration = StackConfiguration(file: file, address: placeholder, ports: [])
        var seen = FirstOccurrences<String>()
        for line in ConfigurationText(text, file: file).lines {
            let value = try line.keyValue()
            guard let rule = rule(for: value.key) else { throw value.error("unknown key") }
            if let first = seen.record(value.key, line: line.number), !rule.repeatable {
                throw value.error("duplicate key (first set on line \(first))")
            }
            try rule.apply(&configuration, value)
        }
        for key in ["ip_addr", "port"] where seen.line(of: key) == nil {
            throw ConfigurationError(file: file, key: key, message: "missing required key")
        }
        try configuration.checkConsistency(seen)
        try configuration.checkServices(seen)
        return configuration
    }

    /// The checks that involve more than one key, made once every key is known.
    private mutating func checkConsistency(_ seen: FirstOccurrences<String>) throws(ConfigurationError) {
        if let coreMask, let maskLine = seen.line(of: "core_mask") {
            let count = coreMask.nonzeroBitCount
            if let coresLine = seen.line(of: "num_cores"), count != numCores {
                throw ConfigurationError(file: file, line: maskLine, key: "core_mask", message:
                    "selects \(count) cores but num_cores = \(numCores) (line \(coresLine))")
            }
            numCores = count
        }
        // Each core shapes its queue to an equal share in whole Mbit/s.
        if let rate = transmitRateMbps, rate < numCores, let rateLine = seen.line(of: "tx_rate_mbps") {
            throw ConfigurationError(file: file, line: rateLine, key: "tx_rate_mbps", message:
                "\(rate) Mbit/s cannot give each of the \(numCores) cores at least 1 Mbit/s")
        }
        if let statLine = seen.line(of: "stat_print"), let stray = statPrint.first(where: { !ports.contains($0) }) {
            throw ConfigurationError(file: file, line: statLine, key: "stat_print", message:
                "'\(stray)' is not a configured port (port = \(ports.joined(separator: " ")))")
        }
    }

    /// How a key is read, and how a reload compares it: every rule says which
    /// value its key sets, so no key can escape `keysDiffering`.
    struct Rule: Sendable {
        var repeatable = false
        /// Whether two configurations agree on the key.
        let same: @Sendable (StackConfiguration, StackConfiguration) -> Bool
        let apply: @Sendable (inout StackConfiguration, ConfigurationValue) throws(ConfigurationError) -> Void

        init<Value: Equatable>(
            repeatable: Bool = false, comparing keyPath: KeyPath<StackConfiguration, Value> & Sendable,
            apply: @escaping @Sendable (inout StackConfiguration, ConfigurationValue) throws(ConfigurationError) -> Void
        ) {
            self.repeatable = repeatable
            same = { $0[keyPath: keyPath] == $1[keyPath: keyPath] }
            self.apply = apply
        }

        /// A key with a single accepted value (`io`, `multiprocess`): it sets nothing.
        init(fixed check: @escaping @Sendable (ConfigurationValue) throws(ConfigurationError) -> Void) {
            same = { _, _ in true }
            apply = { _, value throws(ConfigurationError) in try check(value) }
        }
    }

    private static let maxCores = 128          // RTE_MAX_LCORE of Debian's DPDK
    private static let maxPoolSize = 1 << 24   // catches typos before they size pools
    private static let bufferSizes = 1024...(64 << 20)
    private static let maxTimerSeconds = 86_400

    /// Every key the parser accepts, sorted.
    public static var keys: [String] { (Array(rules.keys) + serviceRules.keys).sorted() }

    /// The rule for `key`, among the core keys and those of `StackConfiguration+Services`.
    static func rule(for key: String) -> Rule? { rules[key] ?? serviceRules[key] }

    static let rules: [String: Rule] = [
        "io": Rule(fixed: { value throws(ConfigurationError) in
            switch value.text {
            case "dpdk": return
            case "psio", "netmap", "onvm":
                throw value.error("the \(value.text) I/O module is not supported: only dpdk is")
            default: throw value.error("expected dpdk, found '\(value.text)'")
            }
        }),
        "num_cores": integer(\.numCores, 1...maxCores),
        "core_mask": set(\.coreMask, coreMask(of:)),
        "num_mem_ch": Rule(comparing: \.numMemoryChannels) { configuration, value throws(ConfigurationError) in
            configuration.numMemoryChannels = try value.integer(in: 1...32)
        },
        "port": Rule(comparing: \.ports) { configuration, value throws(ConfigurationError) in
            let ports = try portNames(of: value)
            guard ports.count == 1 else {
                throw value.error("this release supports exactly one port, found \(ports.count)")
            }
            configuration.ports = ports
        },
        "max_concurrency": integer(\.maxConcurrency, 1...maxPoolSize),
        "max_num_buffers": integer(\.maxNumBuffers, 1...maxPoolSize),
        "rcvbuf": integer(\.receiveBufferSize, bufferSizes),
        "sndbuf": integer(\.sendBufferSize, bufferSizes),
        "tcp_timeout": Rule(comparing: \.tcpTimeout) { configuration, value throws(ConfigurationError) in
            let seconds = try value.integer(in: -1...maxTimerSeconds)
            configuration.tcpTimeout = seconds > 0 ? seconds : nil
        },
        "tcp_timewait": integer(\.tcpTimewait, 0...maxTimerSeconds),
        "stat_print": set(\.statPrint, portNames(of:)),
        "multiprocess": Rule(fixed: { value throws(ConfigurationError) in
            guard value.text == "0" else {
                throw value.error("multi-process mode is not supported: only 0 is accepted, found '\(value.text)'")
            }
        }),
        "ip_addr": set(\.address, stackAddress(of:)),
        "ip6_addr": Rule(repeatable: true, comparing: \.ipv6Addresses) { configuration, value throws(ConfigurationError) in
            let network = try stackIPv6Address(of: value)
            if configuration.ipv6Addresses.contains(where: { $0.address == network.address }) {
                throw value.error("\(network.address) is already configured")
            }
            configuration.ipv6Addresses.append(network)
        },
        "eal_args": set(\.extraEALArguments, ealArguments(of:)),
        "vdev": Rule(repeatable: true, comparing: \.vdevs) { configuration, value throws(ConfigurationError) in
            let vdev = try value.word("a device like net_af_packet0,iface=mtcp-a0")
            let name = deviceName(vdev)
            guard !configuration.vdevs.contains(where: { deviceName($0) == name }) else {
                throw value.error("device '\(name)' is already declared")
            }
            configuration.vdevs.append(vdev)
        },
        "file_prefix": Rule(comparing: \.filePrefix) { configuration, value throws(ConfigurationError) in
            guard value.text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
                throw value.error("expected letters, digits, '.', '_' or '-', found '\(value.text)'")
            }
            configuration.filePrefix = String(value.text)
        },
        "hugepages": Rule(comparing: \.hugepages) { configuration, value throws(ConfigurationError) in
            configuration.hugepages = try value.choice(["yes": true, "no": false])
        },
        "memory_mb": integer(\.memoryMB, 1...(1 << 20)),
        "checksum_offload": Rule(comparing: \.checksumOffload) { configuration, value throws(ConfigurationError) in
            configuration.checksumOffload = try value.choice(["auto": .auto, "off": .off])
        },
        "idle": Rule(comparing: \.idle) { configuration, value throws(ConfigurationError) in
            configuration.idle = try value.choice(["poll": .poll, "backoff": .backoff, "interrupt": .interrupt])
        },
        "flow_spreading": Rule(comparing: \.flowSpreading) { configuration, value throws(ConfigurationError) in
            configuration.flowSpreading = try value.choice(["auto": .auto, "rss": .rss])
        },
        "burst_size": integer(\.burstSize, 1...512),
        "short_flow_bytes": integer(\.shortFlowBytes, 0...(16 << 20)),
        "data_scheduling": Rule(comparing: \.dataScheduling) { configuration, value throws(ConfigurationError) in
            configuration.dataScheduling = try value.choice(["fifo": .fifo, "two_class": .twoClass, "srpt": .srpt])
        },
        "tx_rate_mbps": Rule(comparing: \.transmitRateMbps) { configuration, value throws(ConfigurationError) in
            configuration.transmitRateMbps = try value.integer(in: 1...400_000)
        },
        "congestion_control": Rule(comparing: \.congestionControl) { configuration, value throws(ConfigurationError) in
            configuration.congestionControl = try value.choice(["newreno": .newReno, "cubic": .cubic, "bbr": .bbr])
        },
        "delayed_ack_ms": Rule(comparing: \.delayedAck) { configuration, value throws(ConfigurationError) in
            let milliseconds = try value.integer(in: 0...500)
            configuration.delayedAck = milliseconds == 0 ? nil : .milliseconds(UInt64(milliseconds))
        },
        "tcp_keepalive": Rule(comparing: \.keepAlive) { configuration, value throws(ConfigurationError) in
            let seconds = try value.integer(in: 0...maxTimerSeconds)
            configuration.keepAlive = seconds == 0 ? nil : .seconds(UInt64(seconds))
        },
        "min_rto_ms": Rule(comparing: \.minimumRTO) { configuration, value throws(ConfigurationError) in
            configuration.minimumRTO = .milliseconds(UInt64(try value.integer(in: 1...60_000)))
        },
        "peer_rtt_cache": Rule(comparing: \.peerRTTCache) { configuration, value throws(ConfigurationError) in
            configuration.peerRTTCache = try value.choice(["on": true, "off": false])
        },
        "pcap_file": Rule(comparing: \.pcapFile) { configuration, value throws(ConfigurationError) in
            configuration.pcapFile = try value.word("a file name like capture.pcap")
        },
        "pcap_max_mb": integer(\.pcapMaxMB, 1...65_536),
        "prometheus_port": integer(\.prometheusPort, 0...65_535),
        "drain_s": integer(\.drainSeconds, 0...3600),
        "shutdown_grace_s": integer(\.shutdownGraceSeconds, 0...3600),
        // 576: the least every IPv4 host must take (RFC 791); 9000: the usual jumbo frame.
        "mtu": integer(\.mtu, 576...9000),
        "arp_conf": set(\.arpTable, tableFile(of:), comparing: \.arpTable.path),
        "route_conf": set(\.routeTable, tableFile(of:), comparing: \.routeTable.path),
    ]

    private static func set<Value: Equatable>(
        _ keyPath: WritableKeyPath<StackConfiguration, Value> & Sendable,
        _ convert: @escaping @Sendable (ConfigurationValue) throws(ConfigurationError) -> Value
    ) -> Rule {
        set(keyPath, convert, comparing: keyPath)
    }

    /// A key whose value is compared through `compared` (a table's path, not the line naming it).
    private static func set<Value, Compared: Equatable>(
        _ keyPath: WritableKeyPath<StackConfiguration, Value> & Sendable,
        _ convert: @escaping @Sendable (ConfigurationValue) throws(ConfigurationError) -> Value,
        comparing compared: KeyPath<StackConfiguration, Compared> & Sendable
    ) -> Rule {
        Rule(comparing: compared) { configuration, value throws(ConfigurationError) in
            configuration[keyPath: keyPath] = try convert(value)
        }
    }

    private static func integer(
        _ keyPath: WritableKeyPath<StackConfiguration, Int> & Sendable, _ range: ClosedRange<Int>
    ) -> Rule {
        Rule(comparing: keyPath) { configuration, value throws(ConfigurationError) in
            configuration[keyPath: keyPath] = try value.integer(in: range)
        }
    }

    private static func coreMask(of value: ConfigurationValue) throws(ConfigurationError) -> UInt64 {
        let text = value.text
        let digits = text.hasPrefix("0x") || text.hasPrefix("0X") ? text.dropFirst(2) : text
        guard (1...16).contains(digits.count), digits.allSatisfy(\.isHexDigit),
              let mask = UInt64(digits, radix: 16), mask != 0 else {
            throw value.error("expected a non-zero hex mask of cores like 0x3, found '\(text)'")
        }
        return mask
    }

    private static func portNames(of value: ConfigurationValue) throws(ConfigurationError) -> [String] {
        try value.tokens.map { token throws(ConfigurationError) in
            guard isPortName(token) else { throw value.error("expected port names like dpdk0, found '\(token)'") }
            return String(token)
        }
    }

    private static func stackAddress(of value: ConfigurationValue) throws(ConfigurationError) -> IPv4Network {
        guard value.text.contains("/"), let network = IPv4Network(value.text), network.prefixLength > 0 else {
            throw value.error("expected an address with its prefix length like 198.18.0.1/24, found '\(value.text)'")
        }
        guard network.address.isUnicastHost else {
            throw value.error("\(network.address) cannot be a host's address")
        }
        if network.prefixLength <= 30,
           network.address == network.networkAddress || network.address == network.directedBroadcast {
            throw value.error("\(network.address) is the network or broadcast address of \(network)")
        }
        return network
    }

    private static func stackIPv6Address(of value: ConfigurationValue) throws(ConfigurationError) -> IPv6Network {
        guard value.text.contains("/"), let network = IPv6Network(value.text), network.prefixLength > 0 else {
            throw value.error("expected an IPv6 address with its prefix length like 2001:2::1/64, found '\(value.text)'")
        }
        let address = network.address
        guard !address.isUnspecified, !address.isLoopback, !address.isMulticast, !address.isIPv4Mapped else {
            throw value.error("\(address) cannot be a host's address")
        }
        guard !address.isLinkLocal else {
            throw value.error("\(address) is link-local: the stack derives its link-local address from the MAC")
        }
        return network
    }

    private static func ealArguments(of value: ConfigurationValue) throws(ConfigurationError) -> [String] {
        try value.tokens.map { token throws(ConfigurationError) in
            if let reserved = EALOption.reserved.first(where: { $0.option.matches(token) }) {
                throw value.error("'\(token)' is not allowed here: \(reserved.reason)")
            }
            return String(token)
        }
    }

    /// A vdev's device name: what precedes its first comma.
    private static func deviceName(_ vdev: String) -> Substring {
        vdev.prefix { $0 != "," }
    }

    private static func tableFile(of value: ConfigurationValue) -> TableFile {
        TableFile(path: resolve(String(value.text), relativeTo: value.line.file), line: value.line.number)
    }

    /// `path` if absolute, else `path` in the directory of `file`.
    static func resolve(_ path: String, relativeTo file: String) -> String {
        guard !path.hasPrefix("/"), let slash = file.lastIndex(of: "/") else { return path }
        return String(file[...slash]) + path
    }
}

// MARK: - Loading the tables

extension StackConfiguration {
    /// Reads `arpTable`. A missing default file means no static entries; a missing file
    /// that `arp_conf` named is an error on that line.
    public func loadStaticARPTable() throws(ConfigurationError) -> StaticARPTable {
        guard let text = try text(of: arpTable, key: "arp_conf") else { return .empty(file: arpTable.path) }
        return try StaticARPTable.parse(text: text, file: arpTable.path)
    }

    /// Reads `routeTable` and validates it against this configuration. A missing
    /// default file means no static routes; a missing file that `route_conf` named is
    /// an error on that line.
    public func loadStaticRouteTable() throws(ConfigurationError) -> StaticRouteTable {
        guard let text = try text(of: routeTable, key: "route_conf") else { return .empty(file: routeTable.path) }
        let table = try StaticRouteTable.parse(text: text, file: routeTable.path)
        try table.validate(against: self)
        return table
    }

    /// The table's text; nil when it is the default file and does not exist.
    private func text(of table: TableFile, key: String) throws(ConfigurationError) -> String? {
        switch ConfigurationFile.contents(of: table.path) {
        case .success(let text):
            return text
        case .failure(let failure) where failure.isMissing && table.line == nil:
            return nil
        case .failure(let failure):
            guard let line = table.line else {
                throw ConfigurationError(file: table.path, message: "cannot read: \(failure)")
            }
            throw ConfigurationError(file: file, line: line, key: key,
                                     message: "cannot read '\(table.path)': \(failure)")
        }
    }
}

extension IPv4Address {
    /// An address one host can own: not 0.0.0.0, broadcast, multicast or loopback.
    var isUnicastHost: Bool { !isUnspecified && !isBroadcast && !isMulticast && !isLoopback }
}

/// A port name as mTCP writes it: `dpdk` followed by the DPDK port id.
func isPortName(_ name: Substring) -> Bool {
    guard name.hasPrefix("dpdk"), let id = decimalInteger(name.dropFirst(4)) else { return false }
    return id >= 0 && String(id) == name.dropFirst(4)
}

/// An EAL command-line option, matched in its separate (`-l 0`) and attached
/// (`-l0`, `--file-prefix=x`) forms.
struct EALOption {
    let short: Character?
    let long: String?

    func matches(_ token: Substring) -> Bool {
        if let long, token == "--\(long)" || token.hasPrefix("--\(long)=") { return true }
        if let short, !token.hasPrefix("--"), token.hasPrefix("-\(short)") { return true }
        return false
    }

    /// A PCI allow-list.
    static let allow = EALOption(short: "a", long: "allow")

    /// Options that keys of `mtcp.conf` control, so `eal_args` must not repeat them.
    static let reserved: [(option: EALOption, reason: String)] = [
        (EALOption(short: "l", long: "lcores"), "use num_cores or core_mask"),
        (EALOption(short: "c", long: nil), "use num_cores or core_mask"),
        (EALOption(short: "n", long: nil), "use num_mem_ch"),
        (EALOption(short: nil, long: "file-prefix"), "use file_prefix"),
        (EALOption(short: nil, long: "vdev"), "use vdev"),
        (EALOption(short: nil, long: "no-huge"), "use hugepages = no"),
        (EALOption(short: "m", long: nil), "use memory_mb"),
        (EALOption(short: nil, long: "no-pci"), "it is added unless eal_args holds a PCI allow-list (-a/--allow)"),
    ]
}
