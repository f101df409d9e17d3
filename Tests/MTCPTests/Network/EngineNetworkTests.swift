import Testing
@testable import MTCP

/// Two (or three) engines on one virtual link, time driven by the test.
@Suite struct EngineNetworkTests {
    static let macA = MACAddress(0x02, 0, 0, 0, 0, 0x0A)
    static let macB = MACAddress(0x02, 0, 0, 0, 0, 0x0B)
    static let ipA = IPv4Address(198, 18, 0, 1)
    static let ipB = IPv4Address(198, 18, 0, 3)

    static func engine(_ link: VirtualLink, mac: MACAddress, ip: IPv4Address,
                       configure: (inout EngineConfiguration) -> Void = { _ in }) -> Engine<VirtualPort> {
        var configuration = EngineConfiguration(address: IPv4Network(address: ip, prefixLength: 24))
        configure(&configuration)
        return Engine(device: link.makePort(macAddress: mac, bufferCount: 256), configuration: configuration)
    }

    /// Polls both engines until the link is quiet, advancing time by 1 ms a round.
    static func settle(_ link: VirtualLink, _ a: inout Engine<VirtualPort>, _ b: inout Engine<VirtualPort>,
                       rounds: Int = 50) {
        for _ in 0..<rounds {
            a.step(now: link.now)
            b.step(now: link.now)
            link.now = link.now + .milliseconds(1)
        }
    }

    /// A packet larger than the device's buffers is refused, counted and its
    /// buffer given back, never written past the buffer's end.
    @Test func aPacketLargerThanABufferIsDroppedAndCounted() {
        let link = VirtualLink(seed: 7)
        var b = Self.engine(link, mac: Self.macB, ip: Self.ipB)
        let sent = b.sendEchoRequest(to: Self.ipA, identifier: 1, sequenceNumber: 1, dataLength: 4000, now: link.now)
        #expect(!sent)
        #expect(b.statistics.drops[.frameTooLong] == 1)
        let (available, total) = (b.device.availableBuffers, b.device.totalBuffers)
        #expect(available == total, "the buffer went back to the pool")
        b.releaseAll()
    }

    @Test func pingResolvesThroughARPAndIsAnswered() {
        let link = VirtualLink(seed: 7)
        var a = Self.engine(link, mac: Self.macA, ip: Self.ipA)
        var b = Self.engine(link, mac: Self.macB, ip: Self.ipB)
        for sequence in 0..<5 {
            b.sendEchoRequest(to: Self.ipA, identifier: 42, sequenceNumber: UInt16(sequence), now: link.now)
        }
        Self.settle(link, &a, &b)
        #expect(b.statistics.arpRequestsSent == 1, "one request covers all five queued pings")
        #expect(a.statistics.arpRepliesSent == 1)
        #expect(a.statistics.echoRepliesSent == 5)
        #expect(b.statistics.echoRepliesReceived == 5)
        #expect(a.statistics.arpRequestsSent == 0, "A learned B from B's request (RFC 826 merge)")
        #expect(a.statistics.drops.total == 0)
        #expect(b.statistics.drops.total == 0)
        a.releaseAll()
        b.releaseAll()
        #expect(a.device.availableBuffers == a.device.totalBuffers, "no buffer leaked")
        #expect(b.device.availableBuffers == b.device.totalBuffers, "no buffer leaked")
    }

    @Test func unresolvableNextHopTimesOutAndFreesFrames() {
        let link = VirtualLink(seed: 1)
        var a = Self.engine(link, mac: Self.macA, ip: Self.ipA)
        var b = Self.engine(link, mac: Self.macB, ip: Self.ipB)
        let absent = IPv4Address(198, 18, 0, 77)
        a.sendEchoRequest(to: absent, identifier: 1, sequenceNumber: 1, now: link.now)
        a.sendEchoRequest(to: absent, identifier: 1, sequenceNumber: 2, now: link.now)
        Self.settle(link, &a, &b, rounds: 3500)
        #expect(a.statistics.arpRequestsSent == 3, "first request plus retries at 1 s and 2 s")
        #expect(a.statistics.drops[.arpResolutionTimeout] == 2)
        #expect(b.statistics.drops[.arpNotForUs] == 3)
        #expect(a.device.availableBuffers == a.device.totalBuffers)
    }

    @Test func offLinkDestinationGoesThroughTheGatewayOrNowhere() {
        let link = VirtualLink(seed: 1)
        var a = Self.engine(link, mac: Self.macA, ip: Self.ipA) { configuration in
            configuration.routes = [.init(network: IPv4Network("10.0.0.0/8")!, gateway: Self.ipB)]
        }
        var b = Self.engine(link, mac: Self.macB, ip: Self.ipB)
        a.sendEchoRequest(to: IPv4Address(10, 1, 2, 3), identifier: 1, sequenceNumber: 1, now: link.now)
        a.sendEchoRequest(to: IPv4Address(8, 8, 8, 8), identifier: 1, sequenceNumber: 1, now: link.now)
        Self.settle(link, &a, &b)
        #expect(a.statistics.drops[.noRoute] == 1)
        #expect(b.statistics.arpRepliesSent == 1, "the gateway was resolved")
        #expect(b.statistics.drops[.ipv4OtherDestination] == 1, "B is a host: it does not forward")
    }

    @Test func staticNeighbourNeedsNoARP() {
        let link = VirtualLink(seed: 1)
        var a = Self.engine(link, mac: Self.macA, ip: Self.ipA)
        var b = Self.engine(link, mac: Self.macB, ip: Self.ipB) { configuration in
            configuration.staticNeighbours = [.init(address: Self.ipA, mac: Self.macA)]
        }
        b.sendEchoRequest(to: Self.ipA, identifier: 1, sequenceNumber: 1, now: link.now)
        Self.settle(link, &a, &b)
        #expect(b.statistics.arpRequestsSent == 0)
        #expect(b.statistics.echoRepliesReceived == 1)
    }

    @Test func pingsSurviveLossAndDuplication() {
        let link = VirtualLink(seed: 99, impairments: .init(loss: 0.2, duplication: 0.1, reordering: 0.2))
        // Static entries, so this measures the data path, not a lost ARP reply.
        var a = Self.engine(link, mac: Self.macA, ip: Self.ipA) { configuration in
            configuration.staticNeighbours = [.init(address: Self.ipB, mac: Self.macB)]
        }
        var b = Self.engine(link, mac: Self.macB, ip: Self.ipB) { configuration in
            configuration.staticNeighbours = [.init(address: Self.ipA, mac: Self.macA)]
        }
        for sequence in 0..<200 {
            b.sendEchoRequest(to: Self.ipA, identifier: 9, sequenceNumber: UInt16(sequence), now: link.now)
            Self.settle(link, &a, &b, rounds: 5)
        }
        Self.settle(link, &a, &b, rounds: 4000)
        #expect(link.counters.lost > 0 && link.counters.duplicated > 0 && link.counters.reordered > 0)
        // A ping survives 20% loss each way with probability 0.64: about 128 of 200.
        #expect(b.statistics.echoRepliesReceived > 100)
        #expect(b.statistics.echoRepliesReceived <= 200 + UInt64(link.counters.duplicated))
        a.releaseAll()
        b.releaseAll()
        #expect(a.device.availableBuffers == a.device.totalBuffers)
        #expect(b.device.availableBuffers == b.device.totalBuffers)
    }

    /// Builds one valid echo request from B to A, as bytes, by letting B send it.
    static func echoRequestFrame(dataLength: Int) -> [UInt8] {
        let link = VirtualLink(seed: 1)
        var b = engine(link, mac: macB, ip: ipB) { configuration in
            configuration.staticNeighbours = [.init(address: ipA, mac: macA)]
        }
        var capture = link.makePort(macAddress: macA)
        b.sendEchoRequest(to: ipA, identifier: 3, sequenceNumber: 1, dataLength: dataLength, now: link.now)
        b.step(now: link.now)
        return receiveOne(&capture)!
    }

    static func receiveOne(_ port: inout VirtualPort) -> [UInt8]? {
        let slot = UnsafeMutableBufferPointer<PacketBuffer>.allocate(capacity: 1)
        defer { slot.deallocate() }
        guard port.receive(into: slot) == 1 else { return nil }
        defer { port.release(slot[0]) }
        return Array(UnsafeRawBufferPointer(slot[0].frame))
    }

    static func inject(_ bytes: [UInt8], from port: inout VirtualPort) {
        var buffer = port.allocate()!
        buffer.length = bytes.count
        bytes.withUnsafeBytes { buffer.bytes.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        let slot = UnsafeMutableBufferPointer<PacketBuffer>.allocate(capacity: 1)
        defer { slot.deallocate() }
        slot[0] = buffer
        _ = port.transmit(slot)
    }

    @Test func everySingleBitFlipAfterTheAddressesIsDroppedAndCounted() {
        let request = Self.echoRequestFrame(dataLength: 32)
        let link = VirtualLink(seed: 1)
        var a = Self.engine(link, mac: Self.macA, ip: Self.ipA)
        var injector = link.makePort(macAddress: Self.macB)
        var flipped = 0
        // Ethernet carries no checksum here (the NIC strips the FCS), so flips in the
        // addresses are out of scope; every other bit is covered by a check.
        for bit in (12 * 8)..<(request.count * 8) {
            var frame = request
            frame[bit / 8] ^= UInt8(1 << (bit % 8))
            Self.inject(frame, from: &injector)
            a.step(now: link.now)
            flipped += 1
        }
        #expect(a.statistics.receivedFrames == UInt64(flipped))
        #expect(a.statistics.echoRepliesSent == 0)
        #expect(a.statistics.drops.total == UInt64(flipped), "each one counted under a reason")
        #expect(a.statistics.drops[.icmpBadChecksum] > 0 && a.statistics.drops[.ipv4BadChecksum] > 0)
        Self.inject(request, from: &injector)
        a.step(now: link.now)
        #expect(a.statistics.echoRepliesSent == 1, "the intact frame is still answered")
    }

    @Test func truncatedAndPaddedFrames() {
        let request = Self.echoRequestFrame(dataLength: 8)
        let link = VirtualLink(seed: 1)
        var a = Self.engine(link, mac: Self.macA, ip: Self.ipA)
        var injector = link.makePort(macAddress: Self.macB)
        for length in 0..<request.count {
            Self.inject(Array(request.prefix(length)), from: &injector)
            a.step(now: link.now)
        }
        #expect(a.statistics.echoRepliesSent == 0)
        #expect(a.statistics.drops.total == UInt64(request.count))
        #expect(a.statistics.drops[.ethernetTruncated] == 14)
        // Ethernet pads short frames to 60 bytes: the padding is not part of the packet.
        var observer = link.makePort(macAddress: MACAddress(0x02, 0, 0, 0, 0, 0x0C))
        Self.inject(request + [UInt8](repeating: 0xEE, count: 20), from: &injector)
        a.step(now: link.now)
        #expect(a.statistics.echoRepliesSent == 1)
        #expect(Self.receiveOne(&observer)?.count == request.count + 20, "the padded request")
        #expect(Self.receiveOne(&observer)?.count == request.count, "the reply carries no padding")
    }
}
