import Testing
@testable import MTCP

/// A neighbour that comes back at another MAC right after talking to us (a
/// restarted client whose port has a new address, a replaced NIC) asks for our
/// address before its first packet. That request moves its entry even within
/// the lock time, STALE, as Linux's neigh_event_ns and RFC 4861 §7.2.3 do:
/// under the lock, the SYN-ACKs of a loadgen started right after another went
/// to the old MAC until its second announcement, 2 s later, and every
/// connection it opened first timed out. Every other message still meets the
/// lock, and a forged move is undone by the owner's answer.
@Suite struct NeighbourMovedTests {
    static let oldMAC = MACAddress(0x02, 0xCC, 0, 0, 0, 1)
    static let newMAC = MACAddress(0x02, 0xCC, 0, 0, 0, 2)
    static let forgedMAC = MACAddress(0x02, 0xEE, 0, 0, 0, 0x66)
    /// Past the entries' lifetime, so that no entry looks confirmed just because
    /// the clock is near its origin.
    static let start = Instant.zero + .seconds(1000)

    /// A at `start` with B's entry at `oldMAC`, just confirmed by B's request for A.
    static func engineKnowingB(_ link: VirtualLink, _ station: inout VirtualPort) -> Engine<VirtualPort> {
        link.now = start
        var a = ARPFloodTests.engine(link, mac: EngineNetworkTests.macA, ip: ARPFloodTests.ipA)
        EngineNetworkTests.inject(ARPFloodTests.request(from: ARPFloodTests.ipB, mac: oldMAC, for: ARPFloodTests.ipA),
                                  from: &station)
        a.step(now: link.now)
        #expect(a.neighbours.state(of: ARPFloodTests.ipB, now: link.now) == .reachable)
        while EngineNetworkTests.receiveOne(&station) != nil {}  // the reply
        link.now = link.now + .milliseconds(200)  // well within the lock
        return a
    }

    /// Every frame A sent, in order.
    static func drain(_ station: inout VirtualPort) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        while let frame = EngineNetworkTests.receiveOne(&station) { frames.append(frame) }
        return frames
    }

    /// The destination MAC of the first IPv4 frame among `frames` (the echo request).
    static func echoDestination(in frames: [[UInt8]]) -> [UInt8]? {
        frames.first { $0.count > 14 && $0[12] == 0x08 && $0[13] == 0x00 }.map { Array($0.prefix(6)) }
    }

    /// The ARP requests among `frames`.
    static func arpRequests(in frames: [[UInt8]]) -> [[UInt8]] {
        frames.filter { $0.count > 41 && $0[12] == 0x08 && $0[13] == 0x06 && $0[21] == 1 }
    }

    @Test func aRequestForUsFromAMovedNeighbourMovesItsLockedEntryStale() {
        let link = VirtualLink(seed: 21)
        var station = link.makePort(macAddress: Self.newMAC, bufferCount: 64)
        var a = Self.engineKnowingB(link, &station)
        let b = ARPFloodTests.ipB
        EngineNetworkTests.inject(ARPFloodTests.request(from: b, mac: Self.newMAC, for: ARPFloodTests.ipA), from: &station)
        a.step(now: link.now)
        #expect(a.statistics.arpMACChanges == 1)
        #expect(a.neighbours.state(of: b, now: link.now) == .stale, "RFC 4861 §7.2.3, and Linux for ARP")
        _ = Self.drain(&station)  // the reply
        a.sendEchoRequest(to: b, identifier: 1, sequenceNumber: 1, now: link.now)
        a.step(now: link.now)
        let frames = Self.drain(&station)
        #expect(Self.echoDestination(in: frames) == [0x02, 0xCC, 0, 0, 0, 2], "to the MAC the request gave")
        #expect(!Self.arpRequests(in: frames).isEmpty, "and a request confirming the stale entry")
        EngineNetworkTests.inject(ARPFloodTests.reply(from: b, mac: Self.newMAC, to: ARPFloodTests.ipA,
                                                      at: EngineNetworkTests.macA), from: &station)
        a.step(now: link.now)
        #expect(a.neighbours.state(of: b, now: link.now) == .reachable)
        a.releaseAll()
    }

    @Test func onlyARequestForUsPassesTheLockAndAForgedOneIsUndoneByTheOwner() {
        let link = VirtualLink(seed: 23)
        var station = link.makePort(macAddress: Self.forgedMAC, bufferCount: 64)
        var a = Self.engineKnowingB(link, &station)
        let b = ARPFloodTests.ipB
        // A reply nobody asked for, and a gratuitous request (B asking for B):
        // neither is a request for A, both meet the lock.
        EngineNetworkTests.inject(ARPFloodTests.reply(from: b, mac: Self.forgedMAC, to: ARPFloodTests.ipA,
                                                      at: EngineNetworkTests.macA), from: &station)
        EngineNetworkTests.inject(ARPFloodTests.request(from: b, mac: Self.forgedMAC, for: b), from: &station)
        a.step(now: link.now)
        #expect(a.statistics.arpMACChangesIgnored == 2)
        #expect(a.neighbours.lookup(b, now: link.now) == Self.oldMAC)
        // A forged request for A moves the entry, STALE: it locks nothing, so
        // B's own answer to the confirming request takes it back.
        EngineNetworkTests.inject(ARPFloodTests.request(from: b, mac: Self.forgedMAC, for: ARPFloodTests.ipA),
                                  from: &station)
        a.step(now: link.now)
        #expect(a.neighbours.resolve(b, now: link.now).mac == Self.forgedMAC)
        link.now = link.now + .milliseconds(10)
        EngineNetworkTests.inject(ARPFloodTests.reply(from: b, mac: Self.oldMAC, to: ARPFloodTests.ipA,
                                                      at: EngineNetworkTests.macA), from: &station)
        a.step(now: link.now)
        #expect(a.neighbours.lookup(b, now: link.now) == Self.oldMAC)
        #expect(a.neighbours.state(of: b, now: link.now) == .reachable)
        a.releaseAll()
    }

    @Test func framesWaitingForALapsedNeighbourGoToItsNewMACAndARequestConfirmsIt() {
        let link = VirtualLink(seed: 24)
        var station = link.makePort(macAddress: Self.newMAC, bufferCount: 64)
        var a = Self.engineKnowingB(link, &station)
        let b = ARPFloodTests.ipB
        link.now = link.now + .seconds(200)  // B's entry lapsed, past its grace
        a.sendEchoRequest(to: b, identifier: 1, sequenceNumber: 1, now: link.now)
        a.step(now: link.now)
        #expect(Self.drain(&station).count == 1, "the echo waits; one request for B")
        EngineNetworkTests.inject(ARPFloodTests.request(from: b, mac: Self.newMAC, for: ARPFloodTests.ipA), from: &station)
        a.step(now: link.now)
        let frames = Self.drain(&station)
        #expect(Self.echoDestination(in: frames) == [0x02, 0xCC, 0, 0, 0, 2])
        #expect(Self.arpRequests(in: frames).contains { Array($0[38..<42]) == [10, 0, 200, 9] },
                "the entry moved STALE: a request for B confirms it")
        a.releaseAll()
    }

    @Test func aMoveByARequestForUsIsStaleOutsideTheLockToo() {
        let storage = ARPTableStorage(capacity: 8, lifetime: .seconds(60))
        let table = storage.table
        let b = ARPFloodTests.ipB
        table.learn(b, Self.oldMAC, now: Self.start)
        let later = Self.start + .seconds(2)
        #expect(table.learn(b, Self.newMAC, now: later, overridingLock: true) == .macChanged)
        #expect(table.state(of: b, now: later) == .stale, "confirmed by our next request, as Linux's neigh_event_ns")
        let resolved = table.resolve(b, now: later)
        #expect(resolved.mac == Self.newMAC && resolved.probe, "used at once, and a request confirms it")
    }

    @Test func aStaticEntryIsNotMovedEvenByARequestForUs() {
        let storage = ARPTableStorage(capacity: 8, lifetime: .seconds(60))
        let table = storage.table
        let b = ARPFloodTests.ipB
        #expect(table.addStatic(b, Self.oldMAC))
        #expect(table.learn(b, Self.newMAC, now: Self.start, overridingLock: true) == .conflictsWithStatic)
        #expect(table.lookup(b, now: Self.start) == Self.oldMAC)
    }

    @Test func aSolicitationFromAMovedNeighbourMovesItsConfirmedEntryStale() {
        let link = VirtualLink(seed: 22)
        link.now = Self.start
        var a = IPv6EngineTests.engine(link, mac: IPv6EngineTests.macA, v6: IPv6EngineTests.ipA, v4: 1)
        var station = link.makePort(macAddress: Self.newMAC, bufferCount: 64)
        let neighbour = IPv6EngineTests.ipB
        // Confirmed REACHABLE by a solicited advertisement (the lock's start).
        IPv6EngineTests.inject(IPv6EngineTests.solicitation(from: neighbour, mac: Self.oldMAC), from: &station)
        IPv6EngineTests.inject(IPv6EngineTests.advertisement(of: neighbour, at: Self.oldMAC), from: &station)
        a.step(now: link.now)
        #expect(a.ipv6.neighbours.state(of: neighbour, now: link.now) == .reachable)
        link.now = link.now + .milliseconds(200)
        IPv6EngineTests.inject(IPv6EngineTests.advertisement(of: neighbour, at: Self.forgedMAC), from: &station)
        a.step(now: link.now)
        #expect(a.ipv6.neighbours.lookup(neighbour, now: link.now) == Self.oldMAC, "an advertisement meets the lock")
        IPv6EngineTests.inject(IPv6EngineTests.solicitation(from: neighbour, mac: Self.newMAC), from: &station)
        a.step(now: link.now)
        #expect(a.ipv6.neighbours.lookup(neighbour, now: link.now) == Self.newMAC)
        #expect(a.ipv6.neighbours.state(of: neighbour, now: link.now) == .stale, "RFC 4861 §7.2.3")
        #expect(a.statistics.arpMACChanges == 1)
        a.releaseAll()
    }
}
