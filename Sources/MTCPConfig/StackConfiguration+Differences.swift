extension StackConfiguration {
    /// The keys of mtcp.conf whose values differ between `self` and `other`, in
    /// the file's usual order. Every key sizes or places something made once at
    /// start-up (EAL, the port, the pools, the engines' TCP parameters), so a
    /// reload that finds any of them changed is refused naming them.
    public func keysDiffering(from other: StackConfiguration) -> [String] {
        Self.keyComparisons.compactMap { key, equal in equal(self, other) ? nil : key }
    }

    private static func same<Value: Equatable>(_ keyPath: KeyPath<StackConfiguration, Value> & Sendable)
        -> @Sendable (StackConfiguration, StackConfiguration) -> Bool {
        { $0[keyPath: keyPath] == $1[keyPath: keyPath] }
    }

    private static let keyComparisons: [(String, @Sendable (StackConfiguration, StackConfiguration) -> Bool)] = [
        ("num_cores", same(\.numCores)), ("core_mask", same(\.coreMask)), ("num_mem_ch", same(\.numMemoryChannels)),
        ("port", same(\.ports)), ("max_concurrency", same(\.maxConcurrency)), ("max_num_buffers", same(\.maxNumBuffers)),
        ("rcvbuf", same(\.receiveBufferSize)), ("sndbuf", same(\.sendBufferSize)), ("tcp_timeout", same(\.tcpTimeout)),
        ("tcp_timewait", same(\.tcpTimewait)), ("stat_print", same(\.statPrint)), ("ip_addr", same(\.address)),
        ("eal_args", same(\.extraEALArguments)), ("vdev", same(\.vdevs)), ("file_prefix", same(\.filePrefix)),
        ("hugepages", same(\.hugepages)), ("memory_mb", same(\.memoryMB)), ("checksum_offload", same(\.checksumOffload)),
        ("flow_spreading", same(\.flowSpreading)),
        ("congestion_control", same(\.congestionControl)), ("delayed_ack_ms", same(\.delayedAck)),
        ("tcp_keepalive", same(\.keepAlive)), ("min_rto_ms", same(\.minimumRTO)),
        ("short_flow_bytes", same(\.shortFlowBytes)), ("burst_size", same(\.burstSize)), ("pcap_file", same(\.pcapFile)),
        ("pcap_max_mb", same(\.pcapMaxMB)), ("prometheus_port", same(\.prometheusPort)),
        ("shutdown_grace_s", same(\.shutdownGraceSeconds)), ("arp_conf", same(\.arpTable.path)),
        ("route_conf", same(\.routeTable.path)), ("exception_path", same(\.exceptionPath)),
        ("exception_iface", same(\.exceptionSettings.interfaceName)),
        ("exception_protocols", same(\.exceptionSettings.kept.protocols)),
        ("exception_tcp_ports", same(\.exceptionSettings.kept.tcpPorts)), ("vip", same(\.virtualAddresses)),
    ]
}
