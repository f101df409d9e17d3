import CDPDK
import Glibc
import MTCP

/// An Ethernet port driven by DPDK: any PMD, in this project usually a vdev
/// (`net_af_packet`, `net_af_xdp`, `net_tap`, `net_memif`).
///
/// Set-up happens once at start: `configure` creates one RX/TX queue pair and one
/// mbuf pool per engine, `start` starts the port, and `queue(_:)` hands each engine
/// its own `DPDKQueue`. Nothing here runs on the data path.
public struct DPDKPort {
    public let id: UInt16
    public private(set) var queueCount = 0
    public private(set) var pools: [OpaquePointer] = []
    /// Offloads enabled on the port, resolved from what it offers and what was asked.
    public private(set) var transmitOffloads: ChecksumOffload = []
    public private(set) var receiveOffloads: ChecksumOffload = []
    /// How the port carries the configured MTU.
    public private(set) var frameSize = PortFrameSize.device
    /// Whether the port hashes TCP flows, ports included, to queues with our
    /// symmetric Toeplitz key, as `FlowOwnership` does.
    public private(set) var hashesWithSymmetricKey = false

    public init(id: Int) throws(DPDKError) {
        guard id >= 0, id < Int(RTE_MAX_ETHPORTS), rte_eth_dev_is_valid_port(UInt16(id)) != 0 else {
            throw DPDKError("DPDK port \(id) does not exist: \(DPDKEnvironment.availablePorts) port(s) found "
                + "(is the vdev configured, and is the interface it names present in this network namespace?)")
        }
        self.id = UInt16(id)
    }

    /// The port's name as DPDK knows it (e.g. `net_af_packet0`).
    public var name: String {
        var buffer = [CChar](repeating: 0, count: Int(RTE_ETH_NAME_MAX_LEN))
        guard rte_eth_dev_get_name_by_port(id, &buffer) == 0 else { return "port\(id)" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var macAddress: MACAddress {
        var address = rte_ether_addr()
        _ = rte_eth_macaddr_get(id, &address)
        return withUnsafeBytes(of: address.addr_bytes) { MACAddress(loadingFrom: $0.baseAddress!) }
    }

    /// Configures `queues` RX/TX queue pairs, each with its own pool of `mbufsPerQueue`
    /// buffers on the port's NUMA socket.
    /// - Parameter useChecksumOffload: enable the checksum offloads the port offers.
    /// - Parameter mtu: the IP MTU to carry (see `PortFrameSize`); mbufs are sized for it.
    /// - Parameter deviceArguments: the port's vdev arguments, for the PMD's own limits.
    public mutating func configure(queues: Int, mbufsPerQueue: Int, receiveDescriptors: Int = 1024,
                                   transmitDescriptors: Int = 1024, useChecksumOffload: Bool,
                                   mtu: Int = 1500, deviceArguments: [String: String] = [:],
                                   receiveInterrupts: Bool = false) throws(DPDKError) {
        var info = rte_eth_dev_info()
        try check(rte_eth_dev_info_get(id, &info), "reading device info")
        frameSize = try PortFrameSize.resolve(mtu: mtu, portName: name, maxMTU: Int(info.max_mtu),
                                              maxFrameLength: Int(info.max_rx_pktlen),
                                              deviceArguments: deviceArguments, interfaceMTU: Self.interfaceMTU)
        guard queues <= Int(info.max_rx_queues), queues <= Int(info.max_tx_queues) else {
            throw DPDKError("port \(id) (\(name)) has \(info.max_rx_queues) RX / \(info.max_tx_queues) TX queues; "
                + "\(queues) cores need one pair each (lower num_cores or give the vdev more queues)")
        }
        var txOffloads: UInt64 = 0
        var rxOffloads: UInt64 = 0
        if useChecksumOffload {
            let wantedTX = mtcp_txoff_ipv4_cksum() | mtcp_txoff_tcp_cksum()
            if info.tx_offload_capa & wantedTX == wantedTX {
                txOffloads = wantedTX
                transmitOffloads = [.computeIPv4Checksum, .computeTCPChecksum]
            }
            let wantedRX = mtcp_rxoff_ipv4_cksum() | mtcp_rxoff_tcp_cksum()
            if info.rx_offload_capa & wantedRX == wantedRX {
                rxOffloads = wantedRX
                receiveOffloads = [.ipv4ChecksumGood, .l4ChecksumGood]
            }
        }
        // RSS only matters with several queues, and only where the PMD hashes.
        let rssTypes = queues > 1 ? info.flow_type_rss_offloads & mtcp_rss_ipv4_tcp() : 0
        // The key at the length the port takes (0: it does not say, and keeps its own).
        var key = ToeplitzHash.symmetricKey(length: Int(info.hash_key_size))
        let rc = key.withUnsafeMutableBufferPointer { key in
            mtcp_eth_configure(id, UInt16(queues), UInt16(queues), rssTypes,
                               key.isEmpty ? nil : key.baseAddress, UInt8(key.count), rxOffloads, txOffloads,
                               receiveInterrupts ? 1 : 0)
        }
        try check(rc, "configuring \(queues) queue pair(s)")
        if frameSize == .device, mtu != 1500 {
            try check(rte_eth_dev_set_mtu(id, UInt16(mtu)), "setting MTU \(mtu)")
        }
        // Steering predicts queues from the hash with ports; a PMD offering only
        // RTE_ETH_RSS_IPV4 hashes TCP on the addresses alone, so connect would pick
        // ports whose replies land elsewhere: such a port is left to forwarding.
        hashesWithSymmetricKey = rssTypes & mtcp_rss_nonfrag_ipv4_tcp() != 0 && key.count >= 16

        var rxDescriptors = UInt16(receiveDescriptors)
        var txDescriptors = UInt16(transmitDescriptors)
        try check(rte_eth_dev_adjust_nb_rx_tx_desc(id, &rxDescriptors, &txDescriptors), "sizing descriptor rings")
        let socket = UInt32(bitPattern: rte_eth_dev_socket_id(id))
        pools = []
        for queue in 0..<queues {
            let poolName = "mtcp_p\(id)_q\(queue)"
            // One frame of `mtu` per mbuf plus DPDK's 128-byte headroom (2048 + 128 at
            // MTU 1500: RTE_MBUF_DEFAULT_BUF_SIZE).
            let bufferSize = UInt16(PortFrameSize.dataRoom(mtu: mtu) + Int(RTE_PKTMBUF_HEADROOM))
            let pool = try name.hasPrefix("net_af_xdp")
                ? Self.umemPool(poolName, mbufs: mbufsPerQueue,
                                frameRoom: mtu + PortFrameSize.ethernetOverhead + Int(RTE_PKTMBUF_HEADROOM),
                                socket: socket)
                : rte_pktmbuf_pool_create(poolName, UInt32(mbufsPerQueue), 256, 0, bufferSize, Int32(bitPattern: socket))
            guard let pool else { throw Self.poolFailure(poolName, mbufs: mbufsPerQueue) }
            pools.append(pool)
            try check(rte_eth_rx_queue_setup(id, UInt16(queue), rxDescriptors, socket, nil, pool),
                      "setting up RX queue \(queue)", hint: Self.receiveQueueSetupHint(portName: name))
            try check(rte_eth_tx_queue_setup(id, UInt16(queue), txDescriptors, socket, nil),
                      "setting up TX queue \(queue)")
        }
        queueCount = queues
    }

    /// Starts the port and turns on promiscuous mode where supported: the stack
    /// filters by address itself, and some vdevs deliver nothing otherwise.
    public func start() throws(DPDKError) {
        try check(rte_eth_dev_start(id), "starting the port")
        _ = rte_eth_promiscuous_enable(id)
    }

    public func stop() {
        _ = rte_eth_dev_stop(id)
        _ = rte_eth_dev_close(id)
    }

    /// Whether every configured queue has a receive interrupt (the port was
    /// configured with `receiveInterrupts` and its PMD offers them), once started.
    public var offersReceiveInterrupts: Bool {
        queueCount > 0 && (0..<queueCount).allSatisfy { ReceiveInterrupts.offered(port: id, queue: UInt16($0)) }
    }

    /// The device of queue pair `index`, for the engine of that core.
    public func queue(_ index: Int, burstSize: Int) -> DPDKQueue {
        precondition(index < queueCount, "queue \(index) was not configured")
        return DPDKQueue(port: id, queue: UInt16(index), pool: pools[index], macAddress: macAddress,
                         transmitOffloads: transmitOffloads, receiveOffloads: receiveOffloads, burstSize: burstSize)
    }

    /// How the started port spreads received flows over `queueCount` queues:
    /// `net_memif` pairs its queues with the peer's; a port hashing with our key
    /// spreads by its redirection table; anything else cannot be predicted.
    public var flowSpreading: FlowSpreading {
        guard queueCount > 1, !name.hasPrefix("net_memif") else { return .paired }
        guard hashesWithSymmetricKey, let table = redirectionTable() else { return .unpredictable(cores: queueCount) }
        return .receiveSideScaling(redirectionTable: table)
    }

    /// The port's RSS redirection table (queue per hash bucket), nil when it has none to read.
    private func redirectionTable() -> [UInt16]? {
        var info = rte_eth_dev_info()
        guard rte_eth_dev_info_get(id, &info) == 0, info.reta_size > 0 else { return nil }
        let groupSize = Int(RTE_ETH_RETA_GROUP_SIZE)
        var everyEntry = rte_eth_rss_reta_entry64()
        everyEntry.mask = ~0
        var groups = Array(repeating: everyEntry, count: (Int(info.reta_size) + groupSize - 1) / groupSize)
        guard rte_eth_dev_rss_reta_query(id, &groups, info.reta_size) == 0 else { return nil }
        let table = groups.flatMap { group in withUnsafeBytes(of: group.reta) { Array($0.bindMemory(to: UInt16.self)) } }
        return Array(table.prefix(Int(info.reta_size)))
    }

    public var link: (up: Bool, speedMbps: UInt32) {
        var up: Int32 = 0
        var speed: UInt32 = 0
        guard mtcp_eth_link(id, &up, &speed) == 0 else { return (false, 0) }
        return (up != 0, speed)
    }

    /// The port's own counters (every queue), nil when the driver could not
    /// read them. Frames the port missed because a receive ring was full are
    /// counted here, before any engine sees them. Read off the engines' cores:
    /// some drivers make a system call per queue or ask the NIC's firmware.
    public func statistics() -> DeviceStatistics? { Self.statistics(ofPort: id) }

    /// `statistics()` of port `id`, for a thread that holds only its number.
    public static func statistics(ofPort id: UInt16) -> DeviceStatistics? {
        var raw = rte_eth_stats()
        guard rte_eth_stats_get(id, &raw) == 0 else { return nil }
        var statistics = DeviceStatistics()
        statistics.receivedPackets = raw.ipackets
        statistics.receivedBytes = raw.ibytes
        statistics.transmittedPackets = raw.opackets
        statistics.transmittedBytes = raw.obytes
        statistics.receiveMissed = raw.imissed
        statistics.receiveErrors = raw.ierrors
        statistics.transmitErrors = raw.oerrors
        statistics.allocationFailures = raw.rx_nombuf
        return statistics
    }

    /// The MTU of kernel interface `name` in this network namespace, nil when unknown.
    static func interfaceMTU(_ name: String) -> Int? {
        guard !name.contains("/"), let file = fopen("/sys/class/net/\(name)/mtu", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 32)
        guard fgets(&line, Int32(line.count), file) != nil else { return nil }
        return Int(String(decoding: line.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    private func check(_ rc: Int32, _ what: String, hint: String? = nil) throws(DPDKError) {
        guard rc >= 0 else {
            throw DPDKError("port \(id) (\(name)): \(what) failed: \(String(cString: rte_strerror(-rc)))"
                + (hint.map { " (\($0))" } ?? ""))
        }
    }

    /// The mbuf pool of a net_af_xdp queue, which DPDK 22.11's PMD registers as the
    /// AF_XDP UMEM: from its first object, populated size x object size bytes. A
    /// pool from rte_pktmbuf_pool_create breaks that: its objects (2,368 bytes at
    /// MTU 1500) never cross a page, so without hugepages they lie 4 KiB apart and
    /// the UMEM ends 42% short of the pool. The kernel then drops every frame sent
    /// from an mbuf beyond it, and every such mbuf offered for receiving, without a
    /// counter, and the mbuf never comes back: with a small pool (max_num_buffers =
    /// 256) the first frames after start-up all came from there, so the gratuitous
    /// ARPs never left and a client's first SYN went unanswered for 5 s until an
    /// ARP request found a good mbuf (test_floods' exhaustion test, 4 of 40 runs).
    /// Page-sized objects lie back to back, so the PMD's size is the pool's; nil
    /// when DPDK could not make it (rte_errno). `frameRoom`: headroom and a whole frame.
    static func umemPool(_ name: String, mbufs: Int, frameRoom: Int, socket: UInt32)
        throws(DPDKError) -> OpaquePointer? {
        guard let pool = mtcp_pktmbuf_pool_create_page_sized(name, UInt32(mbufs), 256, Int32(bitPattern: socket))
        else { return nil }
        let dataRoom = Int(rte_pktmbuf_data_room_size(pool))
        guard mtcp_mempool_chunks(pool) == 1, mtcp_mempool_object_size(pool) == UInt32(MTCP_PAGE_SIZED_MBUF),
              dataRoom >= frameRoom else {
            let chunks = mtcp_mempool_chunks(pool)
            rte_mempool_free(pool)
            throw DPDKError("mbuf pool \(name) for net_af_xdp: its \(mbufs) buffers took \(chunks) memory chunk(s) "
                + "and \(dataRoom) bytes of data room each; the AF_XDP UMEM needs one chunk and \(frameRoom) bytes "
                + "(raise memory_mb, or lower max_num_buffers or mtu)")
        }
        return pool
    }

    static func poolFailure(_ name: String, mbufs: Int) -> DPDKError {
        DPDKError("cannot create mbuf pool \(name) of \(mbufs) buffers: " + String(cString: rte_strerror(mtcp_rte_errno()))
            + " (raise memory_mb or lower max_num_buffers)")
    }

    /// net_af_xdp opens its AF_XDP socket and registers its UMEM when the RX queue
    /// is set up, and reports every way that fails as "Invalid argument": name
    /// the likely causes, since the operator cannot tell them apart from that.
    static func receiveQueueSetupHint(portName: String) -> String? {
        guard portName.hasPrefix("net_af_xdp") else { return nil }
        return "an AF_XDP socket needs CAP_NET_RAW, CAP_NET_ADMIN and CAP_SYS_ADMIN, CAP_IPC_LOCK or a memlock limit "
            + "(RLIMIT_MEMLOCK, ulimit -l) large enough for its UMEM, and a kernel with XDP sockets; "
            + "without them use the net_af_packet vdev (vdev = net_af_packet0,iface=...)"
    }
}
