import Testing
@testable import MTCP

/// Neighbor Discovery under bad input, as ARP (`ARPFloodTests`,
/// `SharedNeighbourTests`): the IPv6 neighbour cache is as large as configured,
/// a flood of solicitations from new senders turns over only entries nobody
/// uses (each is answered at its own MAC, so none becomes used), and a forged
/// advertisement moves no static entry on any core.
@Suite struct NeighborDiscoveryFloodTests {
    static let ipA = IPv6EngineTests.ipA
    static let ipB = IPv6EngineTests.ipB
    static let macA = IPv6EngineTests.macA
    static let macB = IPv6EngineTests.macB

    static func engine(_ link: VirtualLink, mac: MACAddress, v6: IPv6Address, v4 last: UInt8) -> Engine<VirtualPort> {
        IPv6EngineTests.engine(link, mac: mac, v6: v6, v4: last) { $0.arpCacheCapacity = 64 }
    }

    /// Solicitations for A from new senders `hosts` of A's /64, each at a MAC of its own.
    static func flood(_ a: inout Engine<VirtualPort>, _ link: VirtualLink, hosts: Range<Int>) {
        var injector = link.makePort(macAddress: MACAddress(0x02, 0xEE, 0, 0, 0, 0), bufferCount: 64)
        for host in hosts {
            let sender = IPv6Address(high: ipA.high, low: 0x1_0000 + UInt64(host))
            IPv6EngineTests.inject(IPv6EngineTests.solicitation(from: sender,
                                                                mac: MACAddress(0x02, 0xEE, 0, 0, UInt8(host >> 8),
                                                                                UInt8(host & 0xFF))),
                                   from: &injector)
            a.step(now: link.now)
            link.now = link.now + .milliseconds(1)
            while EngineNetworkTests.receiveOne(&injector) != nil {}  // the advertisements
        }
    }

    /// A table of its own (no shared one configured) had 1024 entries whatever
    /// the configuration said, so the flood below never reached its bound.
    @Test func theCacheIsAsLargeAsConfigured() {
        let link = VirtualLink(seed: 9)
        let alone = Self.engine(link, mac: Self.macA, v6: Self.ipA, v4: 1)
        #expect(alone.ipv6.neighbours.capacity == 64)
        var configuration = EngineConfiguration(address: IPv4Network(address: IPv4Address(198, 18, 0, 1), prefixLength: 24),
                                                arpCacheCapacity: 64)
        configuration.shareNeighbourTable()
        let shared = Engine(device: link.makePort(macAddress: Self.macB), configuration: configuration)
        #expect(shared.ipv6.neighbours.capacity == 64)
    }

    @Test func aSolicitationFloodIsBoundedCountedAndSparesTheNeighbourInUse() {
        let link = VirtualLink(seed: 9)
        var a = Self.engine(link, mac: Self.macA, v6: Self.ipA, v4: 1)
        var b = Self.engine(link, mac: Self.macB, v6: Self.ipB, v4: 3)
        a.sendEchoRequest(to: Self.ipB, identifier: 8, sequenceNumber: 1, now: link.now)
        EngineNetworkTests.settle(link, &a, &b)
        #expect(a.statistics.neighborSolicitationsSent == 1)
        let senders = 300
        for round in 0..<3 {
            Self.flood(&a, link, hosts: round * senders / 3..<(round + 1) * senders / 3)
            a.sendEchoRequest(to: Self.ipB, identifier: 8, sequenceNumber: UInt16(2 + round), now: link.now)
            EngineNetworkTests.settle(link, &a, &b)
        }
        #expect(b.statistics.icmpv6EchoRepliesSent == 4)
        #expect(b.statistics.neighborAdvertisementsSent == 1, "A never asked for B again: its entry survived")
        #expect(a.ipv6.neighbours.count <= a.ipv6.neighbours.capacity, "bounded")
        // Answered at their own MACs, the senders' entries are never in use: the
        // cache turns over (each new sender in place of an older one, counted)
        // and refuses none, as ARP's (`ARPFloodTests`).
        #expect(a.ipv6.neighbours.count == a.ipv6.neighbours.capacity)
        #expect(a.statistics.drops[.ndCacheFull] == 0)
        #expect(a.statistics.arpCacheEvictions == UInt64(senders + 1 - a.ipv6.neighbours.capacity))
        #expect(a.statistics.drops[.arpQueueFull] == 0, "no answer waited for resolution")
        a.releaseAll()
        b.releaseAll()
    }

    /// Two cores sharing one cache: a forged advertisement for a static
    /// neighbour lands on core 1's queue, a forged solicitation from it on core 0's.
    @Test func aSpoofedAdvertisementOnAnyCoreLeavesAStaticEntryAlone() {
        let victim = IPv6Address("2001:2::9")!
        let spoofer = MACAddress(0x02, 0xEE, 0, 0, 0, 0x66)
        var configuration = EngineConfiguration(address: IPv4Network(address: IPv4Address(198, 18, 0, 1), prefixLength: 24))
        configuration.ipv6 = IPv6Configuration(addresses: [IPv6Network(address: Self.ipA, prefixLength: 64)])
        configuration.ipv6.staticNeighbours = [.init(address: victim, mac: Self.macB)]
        configuration.shareNeighbourTable()
        let queues = (VirtualLink(seed: 10), VirtualLink(seed: 11))
        var core0 = Engine(device: queues.0.makePort(macAddress: Self.macA, bufferCount: 64), configuration: configuration)
        var core1 = Engine(device: queues.1.makePort(macAddress: Self.macA, bufferCount: 64), configuration: configuration)
        var wire0 = queues.0.makePort(macAddress: spoofer, bufferCount: 64)
        var wire1 = queues.1.makePort(macAddress: spoofer, bufferCount: 64)
        let generation = core0.ipv6.neighbours.generation
        IPv6EngineTests.inject(IPv6EngineTests.advertisement(of: victim, at: spoofer), from: &wire1)
        IPv6EngineTests.inject(IPv6EngineTests.solicitation(from: victim, mac: spoofer), from: &wire0)
        core0.step(now: queues.0.now)
        core1.step(now: queues.1.now)
        #expect(core1.statistics.drops[.ndSpoofedStatic] == 1)
        #expect(core0.statistics.drops[.ndSpoofedStatic] == 1)
        #expect(core0.statistics.neighborAdvertisementsSent == 0, "the spoofer is not answered")
        #expect(core1.ipv6.neighbours.generation == generation, "nothing was written")
        for now in [queues.0.now, queues.0.now + .seconds(3600)] {
            #expect(core0.ipv6.neighbours.lookup(victim, now: now) == Self.macB)
            #expect(core1.ipv6.neighbours.lookup(victim, now: now) == Self.macB)
        }
        core0.releaseAll()
        core1.releaseAll()
    }
}
