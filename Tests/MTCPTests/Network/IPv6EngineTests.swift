import Testing
@testable import MTCP

/// IPv6 on the virtual link with explicit time: Neighbor Discovery, ICMPv6
/// echo and errors, duplicate address detection, the extension-header discards.
@Suite struct IPv6EngineTests {
    static let macA = MACAddress(0x02, 0, 0, 0, 0, 0x0A)
    static let macB = MACAddress(0x02, 0, 0, 0, 0, 0x0B)
    static let macC = MACAddress(0x02, 0, 0, 0, 0, 0x0C)
    static let ipA = IPv6Address("2001:2::1")!
    static let ipB = IPv6Address("2001:2::3")!

    static func engine(_ link: VirtualLink, mac: MACAddress, v6: IPv6Address, v4 last: UInt8,
                       configure: (inout EngineConfiguration) -> Void = { _ in }) -> Engine<VirtualPort> {
        EngineNetworkTests.engine(link, mac: mac, ip: IPv4Address(198, 18, 0, last)) { configuration in
            configuration.ipv6 = IPv6Configuration(addresses: [IPv6Network(address: v6, prefixLength: 64)])
            configure(&configuration)
        }
    }

    /// Sends `frame` as is from `port` (a station without a stack: a forger, a test).
    static func inject(_ frame: [UInt8], from port: inout VirtualPort) {
        var buffer = port.allocate()!
        buffer.length = frame.count
        buffer.frame.copyBytes(from: frame)
        var batch = [buffer]
        batch.withUnsafeMutableBufferPointer { _ = port.transmit($0) }
    }

    /// An Ethernet + IPv6 frame from C to A carrying `payload` after a header
    /// whose next header is `next`.
    static func frame(to mac: MACAddress = macA, from source: IPv6Address = IPv6Address("2001:2::9")!,
                      to destination: IPv6Address = ipA, next: IPProtocol, hopLimit: UInt8 = 64,
                      _ payload: [UInt8]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: EthernetFrame.headerLength + IPv6Packet.headerLength + payload.count)
        bytes.withUnsafeMutableBytes { buffer in
            EthernetRepr(source: macC, destination: mac, etherType: .ipv6).emit(into: EthernetFrame(unchecked: buffer))
            let ip = IPv6Packet(unchecked: EthernetFrame(unchecked: buffer).payload)
            IPv6Repr(source: source, destination: destination, nextHeader: next, payloadLength: payload.count,
                     hopLimit: hopLimit).emit(into: ip)
            ip.payload.copyBytes(from: payload)
        }
        return bytes
    }

    /// A Neighbor Solicitation for A's address from `source`, whose link-layer address option says `mac`.
    static func solicitation(from source: IPv6Address, mac: MACAddress = macC, hopLimit: UInt8 = 255) -> [UInt8] {
        neighborDiscovery(NeighborDiscoveryRepr(kind: .solicitation, target: ipA, linkLayerAddress: mac),
                          from: source, to: ipA.solicitedNode, at: ipA.solicitedNode.multicastMAC, hopLimit: hopLimit)
    }

    /// A solicited Neighbor Advertisement to A saying `target` is at `mac`.
    static func advertisement(of target: IPv6Address, at mac: MACAddress) -> [UInt8] {
        neighborDiscovery(NeighborDiscoveryRepr(kind: .advertisement(router: false, solicited: true, override: true),
                                                target: target, linkLayerAddress: mac),
                          from: target, to: ipA, at: macA, hopLimit: 255)
    }

    static func neighborDiscovery(_ message: NeighborDiscoveryRepr, from source: IPv6Address,
                                  to destination: IPv6Address, at destinationMAC: MACAddress, hopLimit: UInt8) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: message.bufferLength)
        bytes.withUnsafeMutableBytes { buffer in
            let icmp = ICMPPacket(unchecked: buffer)
            message.emit(into: icmp)
            icmp.fillChecksum(source: source, destination: destination)
        }
        return frame(to: destinationMAC, from: source, to: destination, next: .icmpv6, hopLimit: hopLimit, bytes)
    }

    @Test func pingResolvesThroughNeighborDiscoveryAndIsAnswered() {
        let link = VirtualLink(seed: 7)
        var a = Self.engine(link, mac: Self.macA, v6: Self.ipA, v4: 1)
        var b = Self.engine(link, mac: Self.macB, v6: Self.ipB, v4: 3)
        for sequence in 0..<3 {
            b.sendEchoRequest(to: Self.ipA, identifier: 6, sequenceNumber: UInt16(sequence), now: link.now)
        }
        EngineNetworkTests.settle(link, &a, &b)
        #expect(b.statistics.neighborSolicitationsSent == 1, "one solicitation covers the three queued pings")
        #expect(a.statistics.neighborAdvertisementsSent == 1)
        #expect(a.statistics.icmpv6EchoRepliesSent == 3)
        #expect(b.statistics.echoRepliesReceived == 3)
        #expect(a.statistics.neighborSolicitationsSent == 0, "A learned B from the solicitation's source option")
        #expect(a.statistics.drops.total == 0 && b.statistics.drops.total == 0)
        #expect(a.ipv6.neighbours.lookup(Self.ipB, now: link.now) == Self.macB)
        // The link-local address answers too.
        b.sendEchoRequest(to: .linkLocal(from: Self.macA), identifier: 6, sequenceNumber: 9, now: link.now)
        EngineNetworkTests.settle(link, &a, &b)
        #expect(b.statistics.echoRepliesReceived == 4)
        a.releaseAll()
        b.releaseAll()
        #expect(a.device.availableBuffers == a.device.totalBuffers && b.device.availableBuffers == b.device.totalBuffers)
    }

    @Test func headersAHostCannotProcessAreCountedAndAnsweredWithinTheBudget() {
        let link = VirtualLink(seed: 7)
        var a = Self.engine(link, mac: Self.macA, v6: Self.ipA, v4: 1) { configuration in
            configuration.ipv6.staticNeighbours = [.init(address: IPv6Address("2001:2::9")!, mac: Self.macC)]
        }
        var c = link.makePort(macAddress: Self.macC, bufferCount: 64)
        // An unknown next header (253), a fragment, a routing header with a segment left.
        Self.inject(Self.frame(next: IPProtocol(rawValue: 253), [UInt8](repeating: 0, count: 8)), from: &c)
        Self.inject(Self.frame(next: .ipv6Fragment, [6, 0, 0, 1, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 20)), from: &c)
        Self.inject(Self.frame(next: .ipv6Routing, [6, 2, 0, 1] + [UInt8](repeating: 0, count: 20)), from: &c)
        a.step(now: link.now)
        #expect(a.statistics.drops[.ipv6UnknownNextHeader] == 1)
        #expect(a.statistics.drops[.ipv6Fragment] == 1)
        #expect(a.statistics.drops[.ipv6RoutingHeader] == 1)
        #expect(a.statistics.icmpv6ErrorsSent == 2, "parameter problems for the next header and the routing header")
        var received: [[UInt8]] = []
        let batch = UnsafeMutableBufferPointer<PacketBuffer>.allocate(capacity: 64)
        defer { batch.deallocate() }
        link.now = link.now + .milliseconds(1)
        let count = c.receive(into: batch)
        for index in 0..<count {
            received.append(Array(batch[index].frame))
            c.release(batch[index])
        }
        let problems = received.compactMap { bytes -> (code: UInt8, pointer: UInt32)? in
            var bytes = bytes
            return bytes.withUnsafeMutableBytes { buffer in
                guard let ip = try? IPv6Packet(checking: EthernetFrame(unchecked: buffer).payload),
                      let icmp = try? ICMPPacket(checking: ip.payload), icmp.icmpv6Type == .parameterProblem,
                      icmp.verifyChecksum(source: ip.source, destination: ip.destination) else { return nil }
                return (icmp.code, icmp.bytes.bigEndian(at: 4))
            }
        }
        #expect(problems.map(\.code) == [1, 0] && problems.map(\.pointer) == [6, 42])
        // A flood: the budget (10 at once) holds, the rest are counted.
        for _ in 0..<30 { Self.inject(Self.frame(next: IPProtocol(rawValue: 253), [0, 0, 0, 0]), from: &c) }
        a.step(now: link.now)
        #expect(a.statistics.drops[.ipv6UnknownNextHeader] == 31)
        #expect(a.statistics.icmpv6ErrorsSent == 10)
        #expect(a.statistics.icmpv6ErrorsRateLimited == 22)
        a.releaseAll()
    }

    @Test func aSolicitationMustComeFromTheLinkAndMayNotMoveAStaticEntry() {
        let link = VirtualLink(seed: 7)
        let victim = IPv6Address("2001:2::9")!
        var a = Self.engine(link, mac: Self.macA, v6: Self.ipA, v4: 1) { configuration in
            configuration.ipv6.staticNeighbours = [.init(address: victim, mac: Self.macB)]
        }
        var c = link.makePort(macAddress: Self.macC, bufferCount: 64)
        Self.inject(Self.solicitation(from: victim, hopLimit: 64), from: &c)  // forwarded: not ND
        Self.inject(Self.solicitation(from: victim), from: &c)  // claims the static entry
        a.step(now: link.now)
        #expect(a.statistics.drops[.ndMalformed] == 1)
        #expect(a.statistics.drops[.ndSpoofedStatic] == 1)
        #expect(a.statistics.neighborAdvertisementsSent == 0)
        #expect(a.ipv6.neighbours.lookup(victim, now: link.now) == Self.macB)
        a.releaseAll()
    }

    @Test func duplicateAddressDetectionTakesADuplicateOffline() {
        let link = VirtualLink(seed: 7)
        var holder = Self.engine(link, mac: Self.macB, v6: Self.ipA, v4: 3)
        var newcomer = Self.engine(link, mac: Self.macA, v6: Self.ipA, v4: 1)
        newcomer.detectDuplicateAddresses(now: link.now)
        let tentative = newcomer.ipv6IsUp(now: link.now)
        #expect(!tentative)
        EngineNetworkTests.settle(link, &holder, &newcomer, rounds: 1500)
        #expect(newcomer.statistics.duplicateAddressesDetected == 1)
        let upAfterConflict = newcomer.ipv6IsUp(now: link.now)
        #expect(!upAfterConflict)
        // Without a holder the addresses come up after RetransTimer (1 s).
        let quiet = VirtualLink(seed: 8)
        var alone = Self.engine(quiet, mac: Self.macA, v6: Self.ipA, v4: 1)
        alone.detectDuplicateAddresses(now: quiet.now)
        #expect(alone.statistics.neighborSolicitationsSent == 2, "the link-local and the global address")
        alone.step(now: quiet.now + .milliseconds(999))
        let (before, after) = (alone.ipv6IsUp(now: quiet.now + .milliseconds(999)),
                               alone.ipv6IsUp(now: quiet.now + .seconds(1)))
        #expect(!before && after)
        holder.releaseAll()
        newcomer.releaseAll()
        alone.releaseAll()
    }
}
