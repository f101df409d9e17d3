import Testing
@testable import MTCP

/// Neighbor Unreachability Detection (RFC 4861 §7.3) with explicit time: the
/// IPv6 cache's STALE, DELAY, PROBE and FAILED, in the shared table and
/// between two engines on the virtual link. (IPv4's ARP grace is ARPTableTests'.)
@Suite struct NeighbourUnreachabilityTests {
    let b = IPv6Address("2001:2::3")!
    let macB = MACAddress(0x02, 0, 0, 0, 0, 0x0B)
    let macC = MACAddress(0x02, 0, 0, 0, 0, 0x0C)
    let t0 = Instant.zero + .seconds(100)

    func at(_ seconds: UInt64, _ milliseconds: UInt64 = 0) -> Instant { t0 + .seconds(seconds) + .milliseconds(milliseconds) }

    @Test func aSilentNeighbourGoesStaleDelayProbeAndFailed() {
        let storage = NDTableStorage(capacity: 8, lifetime: .seconds(30))
        let table = storage.table
        #expect(table.learn(b, macB, now: t0, reachable: true) == .stored)
        #expect(table.state(of: b, now: at(29)) == .reachable)
        #expect(table.state(of: b, now: at(30)) == .stale)
        #expect(table.state(of: b, now: at(3600)) == .stale, "STALE lasts until a frame goes out")
        #expect(table.lookup(b, now: at(3600)) == macB, "a STALE entry is still used")
        // The first frame: DELAY, no probe yet.
        #expect(table.resolve(b, now: at(3600)) == (macB, false))
        #expect(table.state(of: b, now: at(3600)) == .delay)
        #expect(table.resolve(b, now: at(3604, 999)) == (macB, false), "nothing before DELAY_FIRST_PROBE_TIME")
        // PROBE: one unicast solicitation a second, from one core.
        for probe in 0..<3 {
            let now = at(3605 + UInt64(probe))
            #expect(table.resolve(b, now: now) == (macB, true), "probe \(probe + 1)")
            #expect(table.resolve(b, now: now) == (macB, false), "one probe for all the cores")
            #expect(table.resolve(b, now: now + .milliseconds(999)) == (macB, false))
            #expect(table.state(of: b, now: now) == .probe)
        }
        // MAX_UNICAST_SOLICIT unanswered: unusable, the next frame resolves afresh.
        #expect(table.state(of: b, now: at(3608)) == .failed)
        #expect(table.resolve(b, now: at(3608)) == (nil, false))
        #expect(table.lookup(b, now: at(3608)) == nil)
        // An answer after all: REACHABLE, and cores with frames waiting must look.
        let generation = table.generation
        #expect(table.learn(b, macB, now: at(3609), reachable: true) == .stored)
        #expect(table.generation != generation)
        #expect(table.state(of: b, now: at(3609)) == .reachable)
        #expect(table.resolve(b, now: at(3610)) == (macB, false))
    }

    @Test func aConfirmationInDelayOrProbeMakesTheEntryReachableAgain() {
        let storage = NDTableStorage(capacity: 8, lifetime: .seconds(30))
        let table = storage.table
        table.learn(b, macB, now: t0, reachable: true)
        _ = table.resolve(b, now: at(40))  // DELAY
        #expect(table.learn(b, macB, now: at(42), reachable: true) == .unchanged, "usable all along")
        #expect(table.state(of: b, now: at(42)) == .reachable)
        #expect(table.resolve(b, now: at(71)) == (macB, false))
        #expect(table.state(of: b, now: at(71)) == .reachable, "REACHABLE until 42 s + 30 s")
        #expect(table.resolve(b, now: at(72)) == (macB, false), "a new DELAY, not the old timer's probe")
        #expect(table.state(of: b, now: at(72)) == .delay)
        #expect(table.resolve(b, now: at(77)) == (macB, true))
        table.learn(b, macB, now: at(77, 1), reachable: true)
        #expect(table.state(of: b, now: at(78)) == .reachable)
    }

    /// An entry learned within `lifetime` of the clock's origin (an appliance
    /// started just after boot) once computed its confirmation time by a
    /// wrapping subtraction, "confirmed in the far future": its MAC was locked
    /// for good. Past the lock time, a move is taken.
    @Test func anEntryLearnedNearTheClocksOriginCanStillMove() {
        let storage = NDTableStorage(capacity: 8, lifetime: .seconds(30))
        let table = storage.table
        #expect(table.learn(b, macB, now: Instant.zero + .seconds(1), reachable: false) == .stored)
        #expect(table.learn(b, macC, now: Instant.zero + .seconds(5), reachable: false) == .macChanged)
        #expect(table.lookup(b, now: Instant.zero + .seconds(5)) == macC)
    }

    /// §7.2.3 and §7.2.5: a solicitation or an unsolicited advertisement says
    /// where a neighbour is, not that it hears us.
    @Test func whatDoesNotProveReachabilityStoresStaleAndChangesNoKnownEntry() {
        let storage = NDTableStorage(capacity: 8, lifetime: .seconds(30))
        let table = storage.table
        #expect(table.learn(b, macB, now: t0, reachable: false) == .stored)
        #expect(table.state(of: b, now: t0) == .stale)
        #expect(table.lookup(b, now: t0) == macB)
        #expect(table.learn(b, macB, now: at(1), reachable: true) == .unchanged)
        #expect(table.state(of: b, now: at(1)) == .reachable)
        #expect(table.learn(b, macB, now: at(2), reachable: false) == .unchanged)
        #expect(table.state(of: b, now: at(31)) == .stale, "REACHABLE from the confirmation at 1 s, not from 2 s")
        // A neighbour that moved (past the lock time) is STALE at its new address.
        #expect(table.learn(b, macC, now: at(40), reachable: false) == .macChanged)
        #expect(table.state(of: b, now: at(40)) == .stale)
        #expect(table.lookup(b, now: at(40)) == macC)
        // A FAILED entry that solicits us comes back STALE (usable: waiting frames look).
        _ = table.resolve(b, now: at(41))
        for second in [46, 47, 48] as [UInt64] { _ = table.resolve(b, now: at(second)) }
        #expect(table.state(of: b, now: at(49)) == .failed)
        #expect(table.learn(b, macC, now: at(50), reachable: false) == .stored)
        #expect(table.state(of: b, now: at(50)) == .stale)
    }

    /// The timer shares its word with "no timer" (0): no deadline may encode as 0.
    @Test func noRunningTimerReadsAsNone() {
        for nanoseconds: UInt64 in [0, 1, 7, 8, 1 << 63, UInt64.max &- 7] {
            let timer = UnreachabilityTimer(deadline: Instant(nanoseconds: nanoseconds), probesSent: 0)
            #expect(timer.word != 0 && timer.probesSent == 0 && timer.deadline == nanoseconds & ~0b111)
        }
        #expect(UnreachabilityTimer(deadline: .zero, probesSent: 3).probesSent == 3)
    }

    @Test func staticEntriesArePermanent() {
        let storage = NDTableStorage(capacity: 8, lifetime: .seconds(30), staticNeighbours: [.init(address: b, mac: macB)])
        #expect(storage.table.state(of: b, now: at(1_000_000)) == .permanent)
        #expect(storage.table.resolve(b, now: at(1_000_000)) == (macB, false))
    }

    /// Two engines: A learns B STALE from B's solicitation, confirms it with a
    /// unicast probe 5 s after answering through it, and once B falls silent
    /// goes DELAY, PROBE (three unicast solicitations a second apart), FAILED,
    /// and back to a multicast solicitation (INCOMPLETE).
    @Test func enginesProbeAStaleNeighbourAndGiveUpOnASilentOne() {
        let link = VirtualLink(seed: 3)
        let ipA = IPv6EngineTests.ipA, ipB = IPv6EngineTests.ipB
        var a = IPv6EngineTests.engine(link, mac: IPv6EngineTests.macA, v6: ipA, v4: 1)
        var b = IPv6EngineTests.engine(link, mac: IPv6EngineTests.macB, v6: ipB, v4: 3)
        link.now = t0
        b.sendEchoRequest(to: ipA, identifier: 1, sequenceNumber: 0, now: link.now)
        EngineNetworkTests.settle(link, &a, &b)
        #expect(b.ipv6.neighbours.state(of: ipA, now: link.now) == .reachable, "A's solicited advertisement")
        #expect(a.ipv6.neighbours.state(of: ipB, now: link.now) == .delay, "learned STALE, then the echo reply went")
        #expect(a.statistics.neighborSolicitationsSent == 0 && a.statistics.icmpv6EchoRepliesSent == 1)

        link.now = link.now + .seconds(5)
        a.sendEchoRequest(to: ipB, identifier: 2, sequenceNumber: 0, now: link.now)
        EngineNetworkTests.settle(link, &a, &b)
        #expect(a.statistics.neighborSolicitationsSent == 1, "the unicast probe")
        #expect(a.ipv6.neighbours.state(of: ipB, now: link.now) == .reachable, "B's solicited advertisement")
        #expect(a.statistics.drops.total == 0 && b.statistics.drops.total == 0)

        // B falls silent (never polled again).
        link.now = link.now + a.ipv6.neighbours.lifetime
        func ping(_ sequence: UInt16) {
            a.sendEchoRequest(to: ipB, identifier: 3, sequenceNumber: sequence, now: link.now)
            a.step(now: link.now)
        }
        ping(0)
        #expect(a.ipv6.neighbours.state(of: ipB, now: link.now) == .delay)
        #expect(a.statistics.neighborSolicitationsSent == 1)
        for probe in 1...3 {
            link.now = link.now + (probe == 1 ? .seconds(5) : .seconds(1))
            ping(UInt16(probe))
            #expect(a.statistics.neighborSolicitationsSent == 1 + UInt64(probe), "unicast probe \(probe)")
            #expect(a.ipv6.neighbours.state(of: ipB, now: link.now) == .probe)
        }
        link.now = link.now + .seconds(1)
        #expect(a.ipv6.neighbours.state(of: ipB, now: link.now) == .failed)
        ping(4)
        #expect(a.statistics.neighborSolicitationsSent == 5, "a multicast solicitation for the frame now waiting")
        let waiting = a.ipv6.pendingResolution.isResolving(ipB)  // (the queue is not copyable: no #expect on it)
        #expect(waiting)
        a.releaseAll()
        b.releaseAll()
    }
}
