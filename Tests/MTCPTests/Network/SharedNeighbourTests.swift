import Testing
@testable import MTCP

/// Two cores of one appliance (engines sharing one neighbour table, the same
/// address and MAC) behind a NIC that delivers everything from the wire to
/// core 0's queue, as RSS does with ARP: what core 1 sends reaches the wire,
/// but no answer ever comes back to core 1's queue.
struct TwoCores: ~Copyable {
    static let ipA = EngineNetworkTests.ipA
    static let macA = EngineNetworkTests.macA
    static let ipB = EngineNetworkTests.ipB
    static let macB = EngineNetworkTests.macB

    /// The wire: core 0, host B, and the NIC's transmit side for core 1.
    let wire = VirtualLink(seed: 5)
    /// Core 1's queue, with the NIC at its other end.
    let core1Queue = VirtualLink(seed: 6)
    var core0: Engine<VirtualPort>
    var core1: Engine<VirtualPort>
    var b: Engine<VirtualPort>
    var nicFromCore1: VirtualPort
    var nicToWire: VirtualPort
    /// Frames core 1 sent, as they left the NIC.
    var sentByCore1: [[UInt8]] = []

    init(configure: (inout EngineConfiguration) -> Void = { _ in }) {
        var configuration = EngineConfiguration(address: IPv4Network(address: Self.ipA, prefixLength: 24))
        configure(&configuration)
        configuration.shareNeighbourTable()
        core0 = Engine(device: wire.makePort(macAddress: Self.macA, bufferCount: 256), configuration: configuration)
        core1 = Engine(device: core1Queue.makePort(macAddress: Self.macA, bufferCount: 256), configuration: configuration)
        nicFromCore1 = core1Queue.makePort(macAddress: Self.macA)
        nicToWire = wire.makePort(macAddress: Self.macA)
        b = EngineNetworkTests.engine(wire, mac: Self.macB, ip: Self.ipB)
    }

    /// Polls every stack for `rounds` milliseconds; core 1's frames go out on the wire.
    mutating func settle(rounds: Int = 50) {
        for _ in 0..<rounds {
            core0.step(now: wire.now)
            core1.step(now: wire.now)
            while let frame = EngineNetworkTests.receiveOne(&nicFromCore1) {
                sentByCore1.append(frame)
                EngineNetworkTests.inject(frame, from: &nicToWire)
            }
            b.step(now: wire.now)
            while EngineNetworkTests.receiveOne(&nicToWire) != nil {}  // the NIC's own receive side is unused
            wire.now = wire.now + .milliseconds(1)
            core1Queue.now = wire.now
        }
    }

    /// A frame from `port` on the wire (as B's neighbour, e.g. a spoofer).
    mutating func injectOnWire(_ frame: [UInt8], from port: inout VirtualPort) {
        EngineNetworkTests.inject(frame, from: &port)
        settle(rounds: 2)
    }
}

@Suite struct SharedNeighbourTests {
    @Test func anEntryLearnedOnOneCoreResolvesOnTheOther() {
        var cores = TwoCores()
        // B's request for A lands on core 0 and teaches it B's MAC.
        cores.b.sendEchoRequest(to: TwoCores.ipA, identifier: 1, sequenceNumber: 1, now: cores.wire.now)
        cores.settle()
        #expect(cores.b.statistics.echoRepliesReceived == 1)
        cores.core1.sendEchoRequest(to: TwoCores.ipB, identifier: 2, sequenceNumber: 1, now: cores.wire.now)
        cores.settle()
        #expect(cores.core1.statistics.arpRequestsSent == 0, "core 1 resolved B from what core 0 heard")
        #expect(cores.b.statistics.echoRepliesSent == 1, "core 1's ping reached B")
        #expect(cores.sentByCore1.count == 1)
    }

    @Test func aFrameWaitingOnOneCoreIsSentWhenTheAnswerLandsOnAnother() {
        var cores = TwoCores()
        cores.core1.sendEchoRequest(to: TwoCores.ipB, identifier: 2, sequenceNumber: 1, now: cores.wire.now)
        cores.settle()
        // B answered core 1's request; the reply reached core 0 only, and core 1,
        // which received nothing at all, sent its waiting frame.
        #expect(cores.core1.statistics.arpRequestsSent == 1)
        #expect(cores.b.statistics.arpRepliesSent == 1)
        #expect(cores.core1.statistics.receivedFrames == 0)
        #expect(cores.b.statistics.drops.total == 0)
        #expect(cores.b.statistics.echoRepliesSent == 1, "the waiting ping was sent")
        #expect(cores.core1.bufferedFrames == 0)
        #expect(cores.core1.statistics.drops[.arpResolutionTimeout] == 0)
    }

    @Test func staticEntriesWinOverTheWireOnEveryCore() {
        let spoofer = MACAddress(0x02, 0xEE, 0, 0, 0, 0x66)
        var cores = TwoCores { $0.staticNeighbours = [.init(address: TwoCores.ipB, mac: TwoCores.macB)] }
        var port = cores.wire.makePort(macAddress: spoofer)
        // A request for us and a gratuitous ARP, each claiming B's address at the spoofer's MAC.
        cores.injectOnWire(ARPFloodTests.request(from: TwoCores.ipB, mac: spoofer, for: TwoCores.ipA), from: &port)
        cores.injectOnWire(ARPFloodTests.request(from: TwoCores.ipB, mac: spoofer, for: TwoCores.ipB), from: &port)
        #expect(cores.core0.statistics.drops[.arpSpoofedStatic] == 2)
        #expect(cores.core0.statistics.arpRepliesSent == 0, "the spoofer is not answered")
        for now in [cores.wire.now, cores.wire.now + .seconds(3600)] {
            #expect(cores.core0.neighbours.lookup(TwoCores.ipB, now: now) == TwoCores.macB)
            #expect(cores.core1.neighbours.lookup(TwoCores.ipB, now: now) == TwoCores.macB)
        }
    }

    /// A forged reply lands on the queue of core 1, which never asked: the
    /// static entry holds on every core, and core 1 counts the spoofer.
    @Test func aSpoofedReplyOnAnyCoreLeavesAStaticEntryAlone() {
        let spoofer = MACAddress(0x02, 0xEE, 0, 0, 0, 0x66)
        var cores = TwoCores { $0.staticNeighbours = [.init(address: TwoCores.ipB, mac: TwoCores.macB)] }
        let generation = cores.core0.neighbours.generation
        // Through the NIC to core 1's queue: a reply to us claiming B's address at the spoofer's MAC.
        EngineNetworkTests.inject(ARPFloodTests.reply(from: TwoCores.ipB, mac: spoofer, to: TwoCores.ipA, at: TwoCores.macA),
                                  from: &cores.nicFromCore1)
        cores.settle(rounds: 2)
        #expect(cores.core1.statistics.drops[.arpSpoofedStatic] == 1)
        #expect(cores.core0.statistics.drops.total == 0, "it reached core 1 only")
        #expect(cores.core1.neighbours.generation == generation, "nothing was written")
        for now in [cores.wire.now, cores.wire.now + .seconds(3600)] {
            #expect(cores.core0.neighbours.lookup(TwoCores.ipB, now: now) == TwoCores.macB)
            #expect(cores.core1.neighbours.lookup(TwoCores.ipB, now: now) == TwoCores.macB)
        }
        // Core 1's traffic to B still goes to B's MAC.
        cores.core1.sendEchoRequest(to: TwoCores.ipB, identifier: 3, sequenceNumber: 1, now: cores.wire.now)
        cores.settle()
        #expect(cores.b.statistics.echoRepliesSent == 1)
        #expect(cores.sentByCore1.last.map { Array($0.prefix(6)) } == [0x02, 0, 0, 0, 0, 0x0B], "to B's MAC")
    }

    @Test func theFloodOnOneCoreIsBoundedAndSparesTheEntryAnotherCoreUses() {
        var cores = TwoCores { $0.address = IPv4Network(address: TwoCores.ipA, prefixLength: 16); $0.arpCacheCapacity = 64 }
        cores.core1.sendEchoRequest(to: TwoCores.ipB, identifier: 2, sequenceNumber: 1, now: cores.wire.now)
        cores.settle()
        var port = cores.wire.makePort(macAddress: MACAddress(0x02, 0xEE, 0, 0, 0, 0))
        for host in 0..<300 {
            let sender = IPv4Address(198, 18, UInt8(1 + host / 250), UInt8(2 + host % 250))
            EngineNetworkTests.inject(ARPFloodTests.request(from: sender, mac: MACAddress(0x02, 0xEE, 0, 0, 1, UInt8(host & 0xFF)),
                                                            for: TwoCores.ipA), from: &port)
            cores.settle(rounds: 1)
            if host % 50 == 0 {  // core 1 keeps talking to B
                cores.core1.sendEchoRequest(to: TwoCores.ipB, identifier: 2, sequenceNumber: UInt16(host), now: cores.wire.now)
            }
        }
        cores.settle()
        #expect(cores.core0.statistics.arpRepliesSent == 300)
        #expect(cores.core0.neighbours.count == cores.core0.neighbours.capacity, "bounded")
        #expect(cores.core0.statistics.arpCacheEvictions == UInt64(301 - cores.core0.neighbours.capacity))
        #expect(cores.core1.statistics.arpRequestsSent == 1, "B's entry, in use on core 1, survived")
        #expect(cores.b.statistics.echoRepliesSent == 7)
    }

    /// RFC 5227 §2.3: two announcements, ANNOUNCE_INTERVAL (2 s) apart, so a
    /// neighbour that missed the first (or locked its entry) takes the second.
    @Test func theAddressIsAnnouncedTwiceTwoSecondsApart() {
        var cores = TwoCores()
        let start = cores.wire.now
        cores.core0.announceAddress(now: start)
        var sent: [UInt64] = []
        for tenth in [0, 19, 20, 21, 100] {
            cores.core0.step(now: start + .milliseconds(UInt64(tenth) * 100))
            sent.append(cores.core0.statistics.arpRequestsSent)
        }
        #expect(sent == [1, 1, 2, 2, 2])
    }

    @Test func anAnnouncementTellsNeighboursOurMAC() {
        var cores = TwoCores()
        var observer = cores.wire.makePort(macAddress: MACAddress(0x02, 0, 0, 0, 0, 0x0C))
        // B knew A at an old MAC (A's port was replaced).
        #expect(cores.b.neighbours.learn(TwoCores.ipA, MACAddress(0x02, 0, 0, 0, 0, 0x99), now: .zero) == .stored)
        cores.wire.now = cores.wire.now + ARPTable.lockTime  // past the lock on B's entry
        cores.core0.announceAddress(now: cores.wire.now)
        cores.settle(rounds: 1)
        let frame = EngineNetworkTests.receiveOne(&observer)
        let expected = ARPFloodTests.request(from: TwoCores.ipA, mac: TwoCores.macA, for: TwoCores.ipA)
        #expect(frame.map { Array($0.prefix(expected.count)) } == expected, "a request with sender = target = our address")
        #expect(cores.b.neighbours.lookup(TwoCores.ipA, now: cores.wire.now) == TwoCores.macA)
    }
}
