import Testing
@testable import MTCP

/// ARP requests from many senders (a flood of spoofed addresses, or simply a
/// long life) must never lock new neighbours out of the neighbour table.
@Suite struct ARPFloodTests {
    static let ipA = IPv4Address(10, 0, 0, 1)
    static let ipB = IPv4Address(10, 0, 200, 9)

    /// An engine on a /16 (room for far more neighbours than its table holds).
    static func engine(_ link: VirtualLink, mac: MACAddress, ip: IPv4Address,
                       configure: (inout EngineConfiguration) -> Void = { _ in }) -> Engine<VirtualPort> {
        EngineNetworkTests.engine(link, mac: mac, ip: ip) { configuration in
            configuration.address = IPv4Network(address: ip, prefixLength: 16)
            configuration.arpCacheCapacity = 64
            configure(&configuration)
        }
    }

    /// A broadcast ARP request for `target` from `sender` at `mac`, as on the wire.
    static func request(from sender: IPv4Address, mac: MACAddress, for target: IPv4Address) -> [UInt8] {
        frame(operation: 1, from: sender, mac: mac, to: target, at: nil)
    }

    /// An ARP reply to `target` at `targetMAC` saying `sender` is at `mac`, as on the wire.
    static func reply(from sender: IPv4Address, mac: MACAddress, to target: IPv4Address, at targetMAC: MACAddress)
        -> [UInt8] {
        frame(operation: 2, from: sender, mac: mac, to: target, at: targetMAC)
    }

    /// An ARP frame, broadcast when the target's MAC is not known (nil).
    private static func frame(operation: UInt8, from sender: IPv4Address, mac: MACAddress, to target: IPv4Address,
                              at targetMAC: MACAddress?) -> [UInt8] {
        func bytes(_ mac: MACAddress) -> [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: mac.value >> (40 - 8 * $0)) } }
        func bytes(_ address: IPv4Address) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: address.value >> (24 - 8 * $0)) } }
        let destination = targetMAC.map(bytes) ?? [UInt8](repeating: 0xFF, count: 6)
        return destination + bytes(mac) + [0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, operation]
            + bytes(mac) + bytes(sender) + (targetMAC.map(bytes) ?? [UInt8](repeating: 0, count: 6)) + bytes(target)
    }

    /// `count` requests for A from distinct senders of 10.0.0.0/16 (or of `network`).
    static func flood(_ a: inout Engine<VirtualPort>, _ link: VirtualLink, count: Int, firstOctet: UInt8 = 10) {
        var injector = link.makePort(macAddress: MACAddress(0x02, 0xEE, 0, 0, 0, 0), bufferCount: 64)
        for host in 0..<count {
            let sender = IPv4Address(firstOctet, 0, UInt8(1 + host / 250), UInt8(2 + host % 250))
            EngineNetworkTests.inject(request(from: sender, mac: MACAddress(0x02, 0xEE, 0, 0, UInt8(host >> 8), UInt8(host & 0xFF)),
                                              for: ipA), from: &injector)
            a.step(now: link.now)
            link.now = link.now + .milliseconds(1)
            while EngineNetworkTests.receiveOne(&injector) != nil {}  // the replies
        }
    }

    @Test func aNewNeighbourIsServedAfterMoreSendersThanTheTableHolds() {
        let link = VirtualLink(seed: 3)
        var a = Self.engine(link, mac: EngineNetworkTests.macA, ip: Self.ipA)
        Self.flood(&a, link, count: 300)
        var b = Self.engine(link, mac: EngineNetworkTests.macB, ip: Self.ipB)
        // B's request for A teaches A where B is (an echo is answered in place,
        // so A's own ping is what needs the entry).
        b.sendEchoRequest(to: Self.ipA, identifier: 7, sequenceNumber: 1, now: link.now)
        EngineNetworkTests.settle(link, &a, &b)
        a.sendEchoRequest(to: Self.ipB, identifier: 8, sequenceNumber: 1, now: link.now)
        EngineNetworkTests.settle(link, &a, &b)
        #expect(a.statistics.echoRepliesReceived == 1, "A reached B")
        #expect(a.statistics.arpRequestsSent == 0, "A kept what B's request taught it")
        #expect(a.statistics.drops[.arpCacheFull] == 0)
        #expect(a.statistics.arpCacheEvictions == UInt64(300 + 1 - a.neighbours.capacity))
    }

    /// A multi-homed host (Linux's arp_announce=0) or a router's secondary
    /// address asks with a sender outside our networks: RFC 826 answers it, but
    /// such a sender can never be a next hop, so it is not learned (a flood of
    /// them cannot grow or churn the table).
    @Test func sendersOffTheConnectedNetworkAreAnsweredButNotLearned() {
        let link = VirtualLink(seed: 3)
        var a = Self.engine(link, mac: EngineNetworkTests.macA, ip: Self.ipA)
        Self.flood(&a, link, count: 40, firstOctet: 11)
        #expect(a.statistics.arpRepliesSent == 40)
        #expect(a.neighbours.count == 0)
        #expect(a.statistics.arpCacheEvictions == 0)
    }

    /// The flood's senders are learned (their requests are for us), but they
    /// replace only each other: a neighbour we are sending to keeps its entry.
    @Test func aNeighbourInUseKeepsItsEntryThroughTheFlood() {
        let link = VirtualLink(seed: 3)
        var a = Self.engine(link, mac: EngineNetworkTests.macA, ip: Self.ipA)
        var b = Self.engine(link, mac: EngineNetworkTests.macB, ip: Self.ipB)
        a.sendEchoRequest(to: Self.ipB, identifier: 8, sequenceNumber: 1, now: link.now)
        EngineNetworkTests.settle(link, &a, &b)
        #expect(a.statistics.arpRequestsSent == 1)
        for round in 0..<3 {
            Self.flood(&a, link, count: 100)
            a.sendEchoRequest(to: Self.ipB, identifier: 8, sequenceNumber: UInt16(2 + round), now: link.now)
            EngineNetworkTests.settle(link, &a, &b)
        }
        #expect(a.statistics.echoRepliesReceived == 4)
        #expect(a.statistics.arpRequestsSent == 1, "B's entry survived 300 new senders")
        #expect(a.neighbours.count == a.neighbours.capacity, "the table did not grow")
        #expect(a.statistics.arpCacheEvictions > 0)
    }

    @Test func staticNeighboursOutliveTheFlood() {
        let link = VirtualLink(seed: 3)
        let fixed = IPv4Address(10, 0, 250, 1)
        var a = Self.engine(link, mac: EngineNetworkTests.macA, ip: Self.ipA) { configuration in
            configuration.staticNeighbours = [.init(address: fixed, mac: EngineNetworkTests.macB)]
        }
        Self.flood(&a, link, count: 300)
        #expect(a.neighbours.lookup(fixed, now: link.now) == EngineNetworkTests.macB)
    }
}
