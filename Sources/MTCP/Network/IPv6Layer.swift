/// The IPv6 state of one engine (RFC 8200, RFC 4861, RFC 4862): its addresses,
/// routes, the shared neighbour cache and the frames waiting on it, duplicate
/// address detection and the ICMPv6 error budget. Beside the IPv4 state, not
/// inside it: the engine branches on the EtherType once.
struct IPv6Layer: ~Copyable {
    let isEnabled: Bool
    let detectsDuplicates: Bool
    /// Our unicast addresses, the link-local one (from the MAC) first.
    let addresses: UnsafeMutableBufferPointer<IPv6Address>
    var routing: IPv6RoutingTable
    /// Keeps the cache's memory alive; the packet path uses `neighbours`.
    private let neighbourStorage: NDTableStorage
    let neighbours: NDTable
    var neighbourGenerationSeen: UInt64 = 0
    var pendingResolution: NDPendingQueue
    /// Until this time the addresses are tentative (RFC 4862 §5.4): solicitations
    /// for them are sent, not answered, and nothing is sent from them.
    var tentativeUntil = Instant.zero
    /// Set when duplicate address detection found another node with one of
    /// our addresses: the engine then stays off IPv6 (RFC 4862 §5.4.5).
    var duplicateDetected = false
    var errors: ICMPv6ErrorBudget

    /// RetransTimer (RFC 4861 §10): how long DAD waits for an answer.
    static var duplicateAddressDetectionTime: TimeSpan { .seconds(1) }

    /// - Parameter neighbourCapacity: entries of the neighbour cache made here
    ///   when the configuration brings no shared one (`arp_cache_capacity`, as ARP's).
    init(configuration: IPv6Configuration, macAddress: MACAddress, queueCapacity: Int, neighbourCapacity: Int,
         now: Instant) {
        isEnabled = configuration.isEnabled
        detectsDuplicates = configuration.detectsDuplicates
        let own = [IPv6Address.linkLocal(from: macAddress)] + configuration.addresses.map(\.address)
        addresses = .allocate(capacity: own.count)
        _ = addresses.initialize(from: own)
        var routing = IPv6RoutingTable(routes: configuration.routes)
        routing.add(.init(network: IPv6Network(address: own[0], prefixLength: 64)))
        for network in configuration.addresses { routing.add(.init(network: network)) }
        self.routing = routing
        neighbourStorage = configuration.neighbourTable
            ?? NDTableStorage(capacity: neighbourCapacity, staticNeighbours: configuration.staticNeighbours)
        neighbours = neighbourStorage.table
        pendingResolution = NDPendingQueue(capacity: queueCapacity)
        errors = ICMPv6ErrorBudget(now: now)
    }

    deinit { addresses.deallocate() }

    /// Whether traffic may use our addresses (DAD over, no duplicate found).
    @inline(__always)
    func isUsable(now: Instant) -> Bool { isEnabled && !duplicateDetected && now >= tentativeUntil }

    /// Whether `address` is one of our unicast addresses.
    @inline(__always)
    func isOurs(_ address: IPv6Address) -> Bool {
        for own in addresses where own == address { return true }
        return false
    }

    /// Whether we listen to multicast group `group`: all-nodes and the
    /// solicited-node groups of our addresses (RFC 4291 §2.8).
    @inline(__always)
    func isOurGroup(_ group: IPv6Address) -> Bool {
        if group == .allNodes { return true }
        for own in addresses where own.solicitedNode == group { return true }
        return false
    }

    /// Whether an Ethernet multicast destination carries one of our groups
    /// (the port runs promiscuous, so the filter is ours to do).
    @inline(__always)
    func acceptsMulticast(_ mac: MACAddress) -> Bool {
        guard isEnabled, mac.value >> 32 == 0x3333 else { return false }
        if mac == IPv6Address.allNodes.multicastMAC { return true }
        for own in addresses where own.solicitedNode.multicastMAC == mac { return true }
        return false
    }

    /// The source address for `destination` (RFC 6724's first rules, for a host
    /// with one link-local and a few global addresses): the link-local address
    /// for link-local destinations, else the global address sharing the longest
    /// prefix with it. Nil when there is no address of a matching scope.
    func sourceAddress(for destination: IPv6Address) -> IPv6Address? {
        if destination.isLinkLocal || destination.isMulticast && destination.high >> 48 == 0xFF02 {
            return addresses[0]
        }
        var best: (address: IPv6Address, common: Int)?
        for own in addresses.dropFirst() {
            let common = (own.high ^ destination.high) != 0 ? (own.high ^ destination.high).leadingZeroBitCount
                : 64 + (own.low ^ destination.low).leadingZeroBitCount
            if best == nil || common > best!.common { best = (own, common) }
        }
        return best?.address
    }
}
