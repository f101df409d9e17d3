import Testing
import MTCP
@testable import MTCPConfig

/// The two required keys, so that each test adds what it is about from line 3 on.
private let required = "ip_addr = 198.18.0.1/24\nport = dpdk0\n"

private func parse(_ text: String, file: String = "/etc/mtcp/mtcp.conf") throws(ConfigurationError) -> StackConfiguration {
    try StackConfiguration.parse(text: text, file: file)
}

/// The required keys other than `key`, so that a test can set `key` itself without repeating it.
private func requiredExcept(_ key: String) -> String {
    required.split(separator: "\n").filter { !$0.hasPrefix(key + " ") }.map { $0 + "\n" }.joined()
}

/// The error that parsing `text` throws, or nil when it parses.
private func parseError(_ text: String) -> ConfigurationError? {
    do {
        _ = try parse(text)
        return nil
    } catch {
        return error
    }
}

@Suite struct StackConfigurationTests {
    @Test func defaults() throws {
        let configuration = try parse(required)
        #expect(configuration.address == IPv4Network("198.18.0.1/24"))
        #expect(configuration.ports == ["dpdk0"])
        #expect(configuration.numCores == 1)
        #expect(configuration.coreMask == nil)
        #expect(configuration.cores == [0])
        #expect(configuration.numMemoryChannels == nil)
        #expect(configuration.maxConcurrency == 10_000)
        #expect(configuration.maxNumBuffers == 10_000)
        #expect(configuration.receiveBufferSize == 8192)
        #expect(configuration.sendBufferSize == 8192)
        #expect(configuration.tcpTimeout == 30)
        #expect(configuration.tcpTimewait == 0)
        #expect(configuration.statPrint == [])
        #expect(configuration.extraEALArguments == [])
        #expect(configuration.vdevs == [])
        #expect(configuration.filePrefix == nil)
        #expect(configuration.hugepages == false)
        #expect(configuration.memoryMB == 512)
        #expect(configuration.checksumOffload == .auto)
        #expect(configuration.idle == .interrupt)
        #expect(configuration.burstSize == 32)
        #expect(configuration.transmitRateMbps == nil)
        #expect(configuration.dataScheduling == .twoClass)
        #expect(configuration.arpTable == .init(path: "/etc/mtcp/arp.conf", line: nil))
        #expect(configuration.routeTable == .init(path: "/etc/mtcp/route.conf", line: nil))
        #expect(configuration.probesPCI == false)
    }

    @Test func everyKeyWithAGoodValue() throws {
        let configuration = try parse(required + """
            io = dpdk
            num_cores = 2
            core_mask = 0x5
            num_mem_ch = 4
            max_concurrency = 20000
            max_num_buffers = 30000
            rcvbuf = 16384
            sndbuf = 2048
            tcp_timeout = 60
            tcp_timewait = 5
            stat_print = dpdk0
            multiprocess = 0
            eal_args = --log-level=lib.eal:debug  --in-memory
            vdev = net_af_packet0,iface=mtcp-a0
            vdev = net_tap0
            file_prefix = mtcp-httpd_2.test
            hugepages = yes
            memory_mb = 1024
            checksum_offload = off
            idle = backoff
            burst_size = 64
            pcap_file = /tmp/capture.pcap
            pcap_max_mb = 8
            prometheus_port = 9100
            drain_s = 2
            shutdown_grace_s = 30
            arp_conf = tables/arp.conf
            route_conf = /srv/route.conf
            """)
        #expect(configuration.numCores == 2)
        #expect(configuration.coreMask == 0x5)
        #expect(configuration.cores == [0, 2])
        #expect(configuration.numMemoryChannels == 4)
        #expect(configuration.maxConcurrency == 20000)
        #expect(configuration.maxNumBuffers == 30000)
        #expect(configuration.receiveBufferSize == 16384)
        #expect(configuration.sendBufferSize == 2048)
        #expect(configuration.tcpTimeout == 60)
        #expect(configuration.tcpTimewait == 5)
        #expect(configuration.statPrint == ["dpdk0"])
        #expect(configuration.extraEALArguments == ["--log-level=lib.eal:debug", "--in-memory"])
        #expect(configuration.vdevs == ["net_af_packet0,iface=mtcp-a0", "net_tap0"])
        #expect(configuration.filePrefix == "mtcp-httpd_2.test")
        #expect(configuration.hugepages)
        #expect(configuration.memoryMB == 1024)
        #expect(configuration.checksumOffload == .off)
        #expect(configuration.idle == .backoff)
        #expect(configuration.burstSize == 64)
        #expect(configuration.pcapFile == "/tmp/capture.pcap")
        #expect(configuration.pcapMaxMB == 8)
        #expect(configuration.prometheusPort == 9100)
        #expect(configuration.drainSeconds == 2)
        #expect(configuration.shutdownGraceSeconds == 30)
        #expect(configuration.arpTable == .init(path: "/etc/mtcp/tables/arp.conf", line: 29))
        #expect(configuration.routeTable == .init(path: "/srv/route.conf", line: 30))
    }

    @Test(arguments: [
        ("num_cores", "1"), ("num_cores", "128"), ("core_mask", "1"), ("core_mask", "0XfF00"),
        ("core_mask", "0xffffffffffffffff"), ("num_mem_ch", "1"), ("num_mem_ch", "32"),
        ("max_concurrency", "1"), ("max_num_buffers", "16777216"), ("rcvbuf", "1024"),
        ("sndbuf", "67108864"), ("tcp_timeout", "-1"), ("tcp_timeout", "0"), ("tcp_timeout", "86400"),
        ("tcp_timewait", "0"), ("tcp_timewait", "86400"), ("hugepages", "no"), ("memory_mb", "1"),
        ("checksum_offload", "auto"), ("idle", "poll"), ("idle", "interrupt"), ("burst_size", "1"), ("burst_size", "512"),
        ("ip_addr", "10.0.0.1/8"), ("ip_addr", "10.0.0.0/31"), ("ip_addr", "10.0.0.7/32"),
        ("port", "dpdk7"), ("vdev", "net_memif0,role=server,socket=/tmp/memif.sock"),
        ("pcap_file", "/tmp/a.pcap"), ("pcap_max_mb", "1"), ("pcap_max_mb", "65536"),
        ("prometheus_port", "0"), ("prometheus_port", "65535"), ("shutdown_grace_s", "0"), ("drain_s", "0"), ("drain_s", "3600"),
        ("shutdown_grace_s", "3600"), ("short_flow_bytes", "0"), ("short_flow_bytes", "16777216"),
        ("tx_rate_mbps", "1"), ("tx_rate_mbps", "400000"), ("data_scheduling", "fifo"),
        ("data_scheduling", "two_class"), ("data_scheduling", "srpt"), ("flow_spreading", "auto"),
        ("flow_spreading", "rss"),
    ])
    func acceptsBoundaryValue(key: String, value: String) throws {
        _ = try parse("\(key) = \(value)\n" + requiredExcept(key))
    }

    @Test func transmitRateIsRead() throws {
        #expect(try parse(required + "tx_rate_mbps = 1000").transmitRateMbps == 1000)
    }

    /// Each core gets an equal share in whole Mbit/s: a rate below one per core
    /// would be raised to 1 Mbit/s per core, more than the line configured.
    @Test func aLineRateBelowOneMegabitPerCoreIsRefused() throws {
        let error = parseError(required + "num_cores = 4\ntx_rate_mbps = 3\n")
        #expect(error == ConfigurationError(file: "/etc/mtcp/mtcp.conf", line: 4, key: "tx_rate_mbps",
                                            message: "3 Mbit/s cannot give each of the 4 cores at least 1 Mbit/s"))
        #expect(try parse(required + "num_cores = 4\ntx_rate_mbps = 4\n").transmitRateMbps == 4)
    }

    @Test func mtuSetsTheMSS() throws {
        #expect(try parse(required).maximumSegmentSize == 1460)
        let jumbo = try parse(required + "mtu = 9000")
        #expect(jumbo.mtu == 9000)
        #expect(jumbo.maximumSegmentSize == 8960)
        #expect(try parse(required + "mtu = 576").maximumSegmentSize == 536)
    }

    @Test func disabledIdleTimeoutIsNil() throws {
        #expect(try parse(required + "tcp_timeout = -1").tcpTimeout == nil)
        #expect(try parse(required + "tcp_timeout = 0").tcpTimeout == nil)
    }

    @Test func coreMaskAloneSetsTheNumberOfCores() throws {
        let configuration = try parse(required + "core_mask = 0x3c")
        #expect(configuration.numCores == 4)
        #expect(configuration.cores == [2, 3, 4, 5])
    }

    @Test(arguments: [
        ("pcap_file", "a b.pcap", "one word"),
        ("pcap_max_mb", "0", "expected an integer in 1...65536"),
        ("prometheus_port", "65536", "expected an integer in 0...65535"),
        ("shutdown_grace_s", "-1", "expected an integer in 0...3600"),
        ("drain_s", "3601", "expected an integer in 0...3600"),
        ("short_flow_bytes", "16777217", "expected an integer in 0...16777216"),
        ("tx_rate_mbps", "0", "expected an integer in 1...400000"),
        ("tx_rate_mbps", "1G", "expected an integer in 1...400000"),
        ("data_scheduling", "SRPT", "expected one of"),
        ("io", "psio", "psio I/O module is not supported"),
        ("io", "netmap", "netmap I/O module is not supported"),
        ("io", "onvm", "onvm I/O module is not supported"),
        ("io", "DPDK", "expected dpdk"),
        ("num_cores", "0", "expected an integer in 1...128"),
        ("num_cores", "129", "expected an integer in 1...128"),
        ("num_cores", "+2", "expected an integer"),
        ("num_cores", "2 cores", "expected an integer"),
        ("num_cores", "99999999999999999999999", "expected an integer"),
        ("core_mask", "0", "non-zero hex mask"),
        ("core_mask", "0x", "non-zero hex mask"),
        ("core_mask", "0xg", "non-zero hex mask"),
        ("core_mask", "+3", "non-zero hex mask"),
        ("core_mask", "0x1ffffffffffffffff", "non-zero hex mask"),
        ("num_mem_ch", "0", "expected an integer in 1...32"),
        ("num_mem_ch", "33", "expected an integer in 1...32"),
        ("port", "eth0", "expected port names like dpdk0, found 'eth0'"),
        ("port", "dpdk", "expected port names"),
        ("port", "dpdk01", "expected port names"),
        ("port", "dpdk-1", "expected port names"),
        ("port", "dpdk0 dpdk1", "exactly one port, found 2"),
        ("max_concurrency", "0", "expected an integer in 1...16777216"),
        ("max_concurrency", "16777217", "expected an integer in 1...16777216"),
        ("max_num_buffers", "0", "expected an integer in 1...16777216"),
        ("rcvbuf", "1023", "expected an integer in 1024...67108864"),
        ("rcvbuf", "67108865", "expected an integer in 1024...67108864"),
        ("sndbuf", "8k", "expected an integer in 1024...67108864"),
        ("tcp_timeout", "-2", "expected an integer in -1...86400"),
        ("tcp_timeout", "86401", "expected an integer in -1...86400"),
        ("tcp_timewait", "-1", "expected an integer in 0...86400"),
        ("stat_print", "eth0", "expected port names"),
        ("multiprocess", "1", "multi-process mode is not supported"),
        ("multiprocess", "0 master", "multi-process mode is not supported"),
        ("ip_addr", "198.18.0.1", "expected an address with its prefix length"),
        ("ip_addr", "198.18.0.1/33", "expected an address with its prefix length"),
        ("ip_addr", "198.18.0.1/0", "expected an address with its prefix length"),
        ("ip_addr", "198.18.0/24", "expected an address with its prefix length"),
        ("ip_addr", "224.0.0.1/24", "cannot be a host's address"),
        ("ip_addr", "127.0.0.1/8", "cannot be a host's address"),
        ("ip_addr", "198.18.0.0/24", "network or broadcast address"),
        ("ip_addr", "198.18.0.255/24", "network or broadcast address"),
        ("ip6_addr", "2001:2::1", "expected an IPv6 address with its prefix length"),
        ("ip6_addr", "2001:2::1/129", "expected an IPv6 address with its prefix length"),
        ("ip6_addr", "198.18.0.1/24", "expected an IPv6 address with its prefix length"),
        ("ip6_addr", "ff02::1/64", "cannot be a host's address"),
        ("ip6_addr", "::ffff:198.18.0.1/96", "cannot be a host's address"),
        ("ip6_addr", "fe80::1/64", "is link-local"),
        ("eal_args", "-l 0-3", "use num_cores or core_mask"),
        ("eal_args", "--lcores=0@1", "use num_cores or core_mask"),
        ("eal_args", "-c0x3", "use num_cores or core_mask"),
        ("eal_args", "-n 4", "use num_mem_ch"),
        ("eal_args", "--file-prefix=x", "use file_prefix"),
        ("eal_args", "--vdev net_tap0", "use vdev"),
        ("eal_args", "--no-huge", "use hugepages = no"),
        ("eal_args", "-m 256", "use memory_mb"),
        ("eal_args", "--no-pci", "PCI allow-list"),
        ("vdev", "net_tap0 net_tap1", "expected a device like net_af_packet0,iface=mtcp-a0 (one word)"),
        ("file_prefix", "a/b", "expected letters, digits"),
        ("file_prefix", "two words", "expected letters, digits"),
        ("hugepages", "true", "expected one of yes, no, found 'true'"),
        ("memory_mb", "0", "expected an integer in 1...1048576"),
        ("checksum_offload", "on", "expected one of auto, off, found 'on'"),
        ("idle", "sleep", "expected one of poll, backoff, interrupt, found 'sleep'"),
        ("flow_spreading", "steered", "expected one of auto, rss, found 'steered'"),
        ("burst_size", "0", "expected an integer in 1...512"),
        ("burst_size", "513", "expected an integer in 1...512"),
        ("mtu", "575", "expected an integer in 576...9000"),
        ("mtu", "9001", "expected an integer in 576...9000"),
        ("mtu", "jumbo", "expected an integer in 576...9000"),
    ])
    func rejectsBadValue(key: String, value: String, message: String) throws {
        let error = try #require(parseError("# the bad line is line 2\n\(key) = \(value)\n" + requiredExcept(key)))
        #expect(error.file == "/etc/mtcp/mtcp.conf")
        #expect(error.line == 2)
        #expect(error.key == key)
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func unknownKeyNamesKeyAndLine() throws {
        let error = try #require(parseError(required + "\n  num_core = 2  # typo\n"))
        #expect(error == ConfigurationError(file: "/etc/mtcp/mtcp.conf", line: 4, key: "num_core", message: "unknown key"))
        #expect(error.description == "/etc/mtcp/mtcp.conf:4: 'num_core': unknown key")
    }

    @Test func duplicateKeyNamesBothLines() throws {
        let error = try #require(parseError(required + "rcvbuf = 8192\nrcvbuf = 4096\n"))
        #expect(error.line == 4)
        #expect(error.key == "rcvbuf")
        #expect(error.message == "duplicate key (first set on line 3)")
    }

    @Test func repeatedVdevIsAllowedButNotTheSameDevice() throws {
        let configuration = try parse(required + "vdev = net_tap0\nvdev = net_tap1,iface=t1\n")
        #expect(configuration.vdevs == ["net_tap0", "net_tap1,iface=t1"])
        let error = try #require(parseError(required + "vdev = net_tap0\nvdev = net_tap0,iface=x\n"))
        #expect(error.line == 4)
        #expect(error.key == "vdev")
        #expect(error.message.contains("'net_tap0' is already declared"))
    }

    @Test func severalIPv6AddressesAreAllowedButNotOneTwice() throws {
        let configuration = try parse(required + "ip6_addr = 2001:2::1/64\nip6_addr = 2001:db8::1/48\n")
        #expect(configuration.ipv6Addresses == [IPv6Network("2001:2::1/64")!, IPv6Network("2001:db8::1/48")!])
        #expect(try parse(required).ipv6Addresses.isEmpty, "IPv4 only by default")
        let error = try #require(parseError(required + "ip6_addr = 2001:2::1/64\nip6_addr = 2001:2:0::1/48\n"))
        #expect(error.line == 4 && error.key == "ip6_addr")
        #expect(error.message.contains("2001:2::1 is already configured"), "\(error)")
    }

    @Test(arguments: ["ip_addr", "port"])
    func missingRequiredKey(key: String) throws {
        let error = try #require(parseError(requiredExcept(key)))
        #expect(error == ConfigurationError(file: "/etc/mtcp/mtcp.conf", key: key, message: "missing required key"))
    }

    @Test func malformedLines() throws {
        let noEquals = try #require(parseError(required + "num_cores 2\n"))
        #expect(noEquals.line == 3)
        #expect(noEquals.key == nil)
        #expect(noEquals.message.contains("expected 'key = value'"))

        let noKey = try #require(parseError(required + " = 2\n"))
        #expect(noKey.line == 3)
        #expect(noKey.message.contains("expected a key"))

        let noValue = try #require(parseError(required + "num_cores =   # nothing\n"))
        #expect(noValue.line == 3)
        #expect(noValue.key == "num_cores")
        #expect(noValue.message.contains("expected a value"))
    }

    @Test func commentsAndWhitespaceVariants() throws {
        let text = "# header comment\r\n\r\n\t ip_addr\t=\t198.18.0.1/24   # trailing\r\n"
            + "port=dpdk0\n   \n#num_cores = 9\n  num_cores   =2#no space before the comment\n"
            + "\u{00A0}eal_args =  -a   0000:00:04.0   \n"
        let configuration = try parse(text)
        #expect(configuration.address == IPv4Network("198.18.0.1/24"))
        #expect(configuration.ports == ["dpdk0"])
        #expect(configuration.numCores == 2)
        #expect(configuration.extraEALArguments == ["-a", "0000:00:04.0"])
        // Line numbers count CRLF, comment and blank lines alike.
        let error = try #require(parseError("# one\r\n\r\nbogus = 1\r\n"))
        #expect(error.line == 3)
        // A lone CR ends a line; a form feed or vertical tab is only whitespace.
        #expect(parseError("# one\rbogus = 1")?.line == 2)
        #expect(parseError("\u{000C}\u{000B}# one\u{000B}\nbogus = 1")?.line == 2)
    }

    @Test func coreMaskMustMatchNumCores() throws {
        let error = try #require(parseError(required + "num_cores = 2\n# comment\ncore_mask = 0x7\n"))
        #expect(error.line == 5)
        #expect(error.key == "core_mask")
        #expect(error.message == "selects 3 cores but num_cores = 2 (line 3)")
        // The order of the two keys does not matter.
        #expect(try parse(required + "core_mask = 0x6\nnum_cores = 2\n").cores == [1, 2])
    }

    @Test func statPrintMustNameConfiguredPorts() throws {
        // stat_print may come before port; the check is made once both are known.
        let error = try #require(parseError("stat_print = dpdk1\n" + required))
        #expect(error.line == 1)
        #expect(error.key == "stat_print")
        #expect(error.message == "'dpdk1' is not a configured port (port = dpdk0)")
    }

    @Test func tablePathsResolveAgainstTheConfigurationFile() throws {
        #expect(try parse(required, file: "mtcp.conf").arpTable.path == "arp.conf")
        #expect(try parse(required, file: "conf/mtcp.conf").routeTable.path == "conf/route.conf")
        let named = try parse(required + "arp_conf = my arp.conf\n", file: "conf/mtcp.conf")
        #expect(named.arpTable == .init(path: "conf/my arp.conf", line: 3))
    }

    @Test func probesPCIOnlyWithAnAllowList() throws {
        for args in ["-a 0000:00:04.0", "-a0000:00:04.0", "--allow 0000:00:04.0", "--allow=0000:00:04.0"] {
            #expect(try parse(required + "eal_args = \(args)").probesPCI, "\(args)")
        }
        for args in ["--log-level=8", "--in-memory", "--main-lcore=0"] {
            #expect(try !parse(required + "eal_args = \(args)").probesPCI, "\(args)")
        }
    }

    @Test func ealArgumentsForTheDefaultTopology() throws {
        let configuration = try parse(required + """
            vdev = net_af_packet0,iface=mtcp-a0
            file_prefix = mtcp-httpd
            """)
        #expect(configuration.ealArguments(programName: "mtcp-httpd", pid: 42) == [
            "mtcp-httpd", "-l", "0", "--no-pci", "--no-huge", "-m", "512",
            "--file-prefix", "mtcp-httpd", "--vdev", "net_af_packet0,iface=mtcp-a0",
        ])
    }

    @Test func ealArgumentsWithEveryOption() throws {
        let configuration = try parse(required + """
            core_mask = 0xa
            num_mem_ch = 2
            hugepages = yes
            vdev = net_memif0,role=server
            vdev = net_tap0
            eal_args = --allow 0000:00:04.0 --log-level=7
            """)
        #expect(configuration.ealArguments(programName: "/usr/local/bin/mtcp-loadgen", pid: 1234) == [
            "/usr/local/bin/mtcp-loadgen", "-l", "1,3", "-n", "2",
            "--file-prefix", "mtcp-loadgen-1234",
            "--vdev", "net_memif0,role=server", "--vdev", "net_tap0",
            "--allow", "0000:00:04.0", "--log-level=7",
        ])
    }

    @Test func ealArgumentsCoreListFromNumCores() throws {
        let arguments = try parse(required + "num_cores = 3\nmemory_mb = 256\n")
            .ealArguments(programName: "p", pid: 7)
        #expect(arguments == ["p", "-l", "0,1,2", "--no-pci", "--no-huge", "-m", "256", "--file-prefix", "p-7"])
    }

    @Test func neverTrapsOnOddInput() {
        for text in ["", "=", "==", "#", "\0", "ip_addr = /", "port = dpdk99999999999999999999999",
                     "core_mask = 0x\u{FF10}", "ip_addr = 1.2.3.4/\u{0661}", "\u{2028}=\u{2029}",
                     String(repeating: "x = y\n", count: 3)] {
            #expect(parseError(text) != nil, "accepted \(text.debugDescription)")
        }
    }
}

@Suite struct TCPKeyTests {
    @Test func tcpTuningKeys() throws {
        let text = """
            port = dpdk0
            ip_addr = 198.18.0.1/24
            congestion_control = cubic
            delayed_ack_ms = 0
            min_rto_ms = 1000
            peer_rtt_cache = on
            """
        let configuration = try StackConfiguration.parse(text: text, file: "t.conf")
        #expect(configuration.congestionControl == .cubic)
        #expect(configuration.delayedAck == nil)
        #expect(configuration.minimumRTO == .milliseconds(1000))
        #expect(configuration.peerRTTCache)
        for (line, bad) in [("congestion_control = vegas", "congestion_control"), ("delayed_ack_ms = 501", "delayed_ack_ms"),
                            ("min_rto_ms = 0", "min_rto_ms"), ("peer_rtt_cache = yes", "peer_rtt_cache")] {
            do {
                _ = try StackConfiguration.parse(text: "port = dpdk0\nip_addr = 198.18.0.1/24\n" + line, file: "t.conf")
                Issue.record("\(line) was accepted")
            } catch {
                #expect(error.line == 3 && error.key == bad)
            }
        }
    }

    /// `flow_spreading = rss`: a memif peer that spreads like an RSS NIC, which
    /// the port cannot report; the stack assumes the table drivers program.
    @Test func flowSpreadingRSSOverridesWhatThePortReportsWithSeveralCores() throws {
        let twoCores = try parse("flow_spreading = rss\nnum_cores = 2\n" + requiredExcept("flow_spreading"))
        #expect(twoCores.spreading(reportedByPort: .paired)
            == .receiveSideScaling(redirectionTable: (0..<128).map { UInt16($0 % 2) }))
        let oneCore = try parse("flow_spreading = rss\n" + requiredExcept("flow_spreading"))
        #expect(oneCore.spreading(reportedByPort: .paired) == .paired)
        let automatic = try parse("num_cores = 2\n" + requiredExcept("num_cores"))
        #expect(automatic.spreading(reportedByPort: .unpredictable(cores: 2)) == .unpredictable(cores: 2))
    }
}

/// A reload compares the running mtcp.conf with the one on disk: every key the
/// parser accepts must be compared, or an edit to it would pass unnoticed.
@Suite struct StackConfigurationDifferencesTests {
    /// For each key, a line that sets it to a value other than its default.
    static let changedLines = [
        "num_cores = 2", "core_mask = 0x1", "num_mem_ch = 2", "max_concurrency = 5", "max_num_buffers = 5",
        "rcvbuf = 4096", "sndbuf = 4096", "tcp_timeout = 5", "tcp_timewait = 5", "stat_print = dpdk0",
        "eal_args = --log-level=8", "vdev = net_tap0", "file_prefix = x", "hugepages = yes", "memory_mb = 64",
        "checksum_offload = off", "idle = poll", "burst_size = 8", "short_flow_bytes = 5", "data_scheduling = srpt",
        "tx_rate_mbps = 100", "congestion_control = cubic", "delayed_ack_ms = 0", "tcp_keepalive = 5",
        "min_rto_ms = 5", "peer_rtt_cache = on", "pcap_file = x.pcap", "pcap_max_mb = 5", "prometheus_port = 9000",
        "drain_s = 1", "shutdown_grace_s = 1", "arp_conf = other-arp.conf", "route_conf = other-route.conf",
        "flow_spreading = rss", "mtu = 9000", "exception_path = on", "vip = 198.18.0.9", "ip6_addr = 2001:2::9/64",
    ]

    /// Lines for the keys that are read only with `exception_path = on`.
    static let changedExceptionPathLines = [
        "exception_iface = mtcp-k1", "exception_protocols = udp", "exception_tcp_ports = 22",
    ]

    @Test(arguments: changedLines)
    func aChangedKeyIsNamed(_ line: String) throws {
        let running = try parse(required)
        let edited = try parse(required + line + "\n")
        let key = String(line.prefix { $0 != " " })
        #expect(edited.keysDiffering(from: running) == [key])
        #expect(running.keysDiffering(from: edited) == [key])
    }

    @Test(arguments: changedExceptionPathLines)
    func aChangedExceptionPathKeyIsNamed(_ line: String) throws {
        let running = try parse(required + "exception_path = on\n")
        let edited = try parse(required + "exception_path = on\n" + line + "\n")
        let key = String(line.prefix { $0 != " " })
        #expect(edited.keysDiffering(from: running) == [key])
        #expect(running.keysDiffering(from: edited) == [key])
    }

    /// The keys without a line above either have one accepted value (`io`,
    /// `multiprocess`) or are required (changed in `aChangedRequiredKeyIsNamed`).
    @Test func everyKeyIsCovered() {
        let covered = Set((Self.changedLines + Self.changedExceptionPathLines).map { String($0.prefix { $0 != " " }) }
            + ["io", "multiprocess", "ip_addr", "port"])
        #expect(Set(StackConfiguration.keys) == covered)
    }

    @Test func aChangedRequiredKeyIsNamed() throws {
        let running = try parse(required)
        let edited = try parse("ip_addr = 198.18.0.9/24\nport = dpdk0\n")
        #expect(edited.keysDiffering(from: running) == ["ip_addr"])
        #expect(try parse(requiredExcept("port") + "port = dpdk1\n").keysDiffering(from: running) == ["port"])
    }
}
