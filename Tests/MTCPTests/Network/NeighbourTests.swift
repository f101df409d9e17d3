import Testing
@testable import MTCP

@Suite struct ARPTableTests {
    let a = IPv4Address(198, 18, 0, 2)
    let macA = MACAddress(0x02, 0, 0, 0, 0, 0x02)
    let macB = MACAddress(0x02, 0, 0, 0, 0, 0x0B)

    @Test func learnedEntriesExpire() {
        let storage = ARPTableStorage(capacity: 8, lifetime: .seconds(60))
        let table = storage.table
        #expect(table.lookup(a, now: .zero) == nil)
        table.learn(a, macA, now: .zero)
        #expect(table.lookup(a, now: Instant.zero + .seconds(59)) == macA)
        #expect(table.lookup(a, now: Instant.zero + .seconds(60)) == nil)
        #expect(table.contains(a), "an expired entry still counts for RFC 826's merge rule")
        table.learn(a, macB, now: Instant.zero + .seconds(61))
        #expect(table.lookup(a, now: Instant.zero + .seconds(62)) == macB)
        #expect(table.count == 1)
    }

    @Test func staleEntriesAreUsedWhileOneProbeConfirmsThem() {
        let storage = ARPTableStorage(capacity: 8, lifetime: .seconds(60))
        let table = storage.table
        table.learn(a, macA, now: .zero)
        let fresh = table.resolve(a, now: Instant.zero + .seconds(59))
        #expect(fresh.mac == macA && !fresh.probe)
        let stale = table.resolve(a, now: Instant.zero + .seconds(60))
        #expect(stale.mac == macA && stale.probe, "expired: still used, and a request confirms it")
        let otherCore = table.resolve(a, now: Instant.zero + .seconds(60))
        #expect(otherCore.mac == macA && !otherCore.probe, "one request for all the cores")
        let again = table.resolve(a, now: Instant.zero + .milliseconds(60_500))
        #expect(again.mac == macA && !again.probe, "one request a second")
        #expect(table.resolve(a, now: Instant.zero + .seconds(61)).probe)
        #expect(table.resolve(a, now: Instant.zero + .seconds(65)).mac == nil, "no answer within the grace: unknown")
        table.learn(a, macB, now: Instant.zero + .seconds(66))
        #expect(table.resolve(a, now: Instant.zero + .seconds(67)).mac == macB)
        #expect(table.resolve(IPv4Address(10, 0, 0, 1), now: .zero).mac == nil)
    }

    @Test func staticEntriesWinAndNeverExpire() {
        let storage = ARPTableStorage(capacity: 8, staticNeighbours: [.init(address: a, mac: macA)])
        let table = storage.table
        #expect(table.learn(a, macB, now: .zero) == .conflictsWithStatic)
        #expect(table.learn(a, macA, now: .zero) == .unchanged, "the same MAC is no conflict")
        #expect(table.lookup(a, now: Instant.zero + .seconds(100_000)) == macA)
    }

    /// Readers retry, and cores with frames waiting rescan, whenever the table
    /// changes: an ARP that tells nothing new (a static neighbour at its right
    /// MAC, a known neighbour still resolvable at the same MAC) must not count as a change.
    @Test func packetsThatChangeNothingLeaveTheGenerationAlone() {
        let storage = ARPTableStorage(capacity: 8, lifetime: .seconds(60),
                                      staticNeighbours: [.init(address: a, mac: macA)])
        let table = storage.table
        let b = IPv4Address(198, 18, 0, 3)
        table.learn(b, macB, now: .zero)
        let learned = table.generation
        #expect(table.learn(a, macA, now: .zero) == .unchanged)
        #expect(table.learn(b, macB, now: Instant.zero + .seconds(30)) == .unchanged)
        #expect(table.generation == learned)
        #expect(table.lookup(b, now: Instant.zero + .seconds(89)) == macB, "the refresh still moved the expiry")
        table.learn(b, macB, now: Instant.zero + .seconds(200))
        #expect(table.generation != learned, "an entry that had lapsed resolves again: waiting frames must look")
    }

    /// ARP poisoning spreads to every core through the shared table: a MAC
    /// change for an entry confirmed within `lockTime` is ignored, so a forged
    /// ARP racing the real neighbour's does not win it over at once.
    @Test func aMACChangeRightAfterAnUpdateIsIgnored() {
        let storage = ARPTableStorage(capacity: 8, lifetime: .seconds(60))
        let table = storage.table
        table.learn(a, macA, now: .zero)
        #expect(table.learn(a, macB, now: Instant.zero + .milliseconds(500)) == .macChangeIgnored)
        #expect(table.lookup(a, now: Instant.zero + .milliseconds(500)) == macA)
        #expect(table.learn(a, macA, now: Instant.zero + .milliseconds(900)) == .unchanged)
        #expect(table.learn(a, macB, now: Instant.zero + .milliseconds(1500)) == .macChangeIgnored,
                "the real neighbour's confirmation renewed the lock")
        #expect(table.learn(a, macB, now: Instant.zero + .seconds(3)) == .macChanged, "a real move, announced again later")
        #expect(table.lookup(a, now: Instant.zero + .seconds(3)) == macB)
    }

    /// A writer on one bucket must not invalidate the cache line readers of the next one use.
    @Test func bucketsFillWholeCacheLines() {
        #expect(ARPTable.wordsPerBucket * MemoryLayout<UInt64>.stride % 64 == 0)
        #expect(ARPTable.wordsPerBucket >= 1 + 3 * ARPTable.ways)
        let storage = ARPTableStorage(capacity: 64)
        #expect(UInt(bitPattern: storage.table.words) % 64 == 0)
    }

    static func host(_ number: Int) -> IPv4Address { IPv4Address(10, 0, UInt8(number / 256), UInt8(number % 256)) }

    @Test func aFullTableTurnsOverEntriesNotInUseAndKeepsTheOneInUse() {
        let storage = ARPTableStorage(capacity: 100)
        let table = storage.table
        var evictions = 0
        for number in 0..<1000 {
            let now = Instant.zero + .milliseconds(UInt64(number))
            _ = table.resolve(Self.host(0), now: now)  // host 0 is in use
            switch table.learn(Self.host(number), macA, now: now) {
            case .stored, .unchanged: break
            case .storedEvicting: evictions += 1
            case .refused, .conflictsWithStatic, .macChanged, .macChangeIgnored: Issue.record("not stored: \(number)")
            }
        }
        #expect(table.count == table.capacity, "bounded: memory fixed at start")
        #expect(evictions == 1000 - table.capacity)
        #expect(table.lookup(Self.host(0), now: .zero) == macA, "the entry in use was kept")
        #expect(table.lookup(Self.host(999), now: .zero) == macA, "the newest was stored")
        let reachable = (0..<1000).filter { table.lookup(Self.host($0), now: .zero) != nil }.count
        #expect(reachable == table.capacity)
        let oldestKept = (1..<1000).first { table.lookup(Self.host($0), now: .zero) != nil }!
        #expect(oldestKept > 1000 - 3 * table.capacity, "evictions took old entries, not recent ones")
    }

    @Test func entriesInUseAreNeverEvictedUntilTheyFallOutOfUse() {
        let storage = ARPTableStorage(capacity: ARPTable.ways)  // one bucket
        let table = storage.table
        let start = Instant.zero + .seconds(1)
        for number in 0..<table.capacity {
            table.learn(Self.host(number), macA, now: start)
            #expect(table.resolve(Self.host(number), now: start).mac == macA)
        }
        #expect(table.learn(Self.host(100), macB, now: start) == .refused, "every entry is in use")
        #expect(table.lookup(Self.host(100), now: start) == nil)
        let later = start + ARPTable.inUseWindow + .milliseconds(1)
        _ = table.resolve(Self.host(3), now: later)
        #expect(table.learn(Self.host(100), macB, now: later) == .storedEvicting, "out of use: replaced")
        #expect(table.lookup(Self.host(3), now: later) == macA, "the one still in use stayed")
    }

    @Test func staticEntriesAreNeverEvicted() {
        let statics = (0..<ARPTable.ways - 1).map { EngineConfiguration.StaticNeighbour(address: Self.host(1000 + $0), mac: macB) }
        let storage = ARPTableStorage(capacity: ARPTable.ways, staticNeighbours: statics)
        let table = storage.table
        for number in 0..<50 { table.learn(Self.host(number), macA, now: .zero) }
        for neighbour in statics { #expect(table.lookup(neighbour.address, now: .zero) == macB) }
        #expect(table.lookup(Self.host(49), now: .zero) == macA, "one place left turns over")
    }

    @Test func staticEntriesThatCrowdABucketGrowTheTable() {
        let statics = (0..<100).map { EngineConfiguration.StaticNeighbour(address: Self.host($0), mac: macB) }
        let storage = ARPTableStorage(capacity: ARPTable.ways, staticNeighbours: statics)
        let table = storage.table
        #expect(table.count == 100)
        for neighbour in statics { #expect(table.lookup(neighbour.address, now: .zero) == macB) }
    }
}

@Suite struct RoutingTableTests {
    @Test func longestPrefixWins() {
        var table = RoutingTable()
        table.add(.init(network: IPv4Network("198.18.0.1/24")!))
        table.add(.init(network: IPv4Network("0.0.0.0/0")!, gateway: IPv4Address(198, 18, 0, 254)))
        table.add(.init(network: IPv4Network("10.1.0.0/16")!, gateway: IPv4Address(198, 18, 0, 253)))
        table.add(.init(network: IPv4Network("10.1.2.0/24")!, gateway: IPv4Address(198, 18, 0, 252)))
        #expect(table.nextHop(for: IPv4Address(198, 18, 0, 9)) == IPv4Address(198, 18, 0, 9))
        #expect(table.nextHop(for: IPv4Address(10, 1, 2, 3)) == IPv4Address(198, 18, 0, 252))
        #expect(table.nextHop(for: IPv4Address(10, 1, 9, 3)) == IPv4Address(198, 18, 0, 253))
        #expect(table.nextHop(for: IPv4Address(8, 8, 8, 8)) == IPv4Address(198, 18, 0, 254))
        #expect(table.routes.map(\.network.prefixLength) == [24, 24, 16, 0], "longest first")
        #expect(table.routes.contains { $0.network.description == "198.18.0.0/24" }, "stored normalised")
    }

    @Test func noMatchMeansNoRoute() {
        let table = RoutingTable(routes: [.init(network: IPv4Network("198.18.0.0/24")!)])
        #expect(table.nextHop(for: IPv4Address(198, 19, 0, 1)) == nil)
    }

    @Test func sameNetworkReplacesRoute() {
        var table = RoutingTable()
        table.add(.init(network: IPv4Network("10.0.0.0/8")!, gateway: IPv4Address(1, 1, 1, 1)))
        table.add(.init(network: IPv4Network("10.9.9.9/8")!, gateway: IPv4Address(2, 2, 2, 2)))
        #expect(table.routes.count == 1)
        #expect(table.nextHop(for: IPv4Address(10, 0, 0, 1)) == IPv4Address(2, 2, 2, 2))
    }
}

@Suite struct ARPPendingQueueTests {
    let hop1 = IPv4Address(198, 18, 0, 2)
    let hop2 = IPv4Address(198, 18, 0, 3)

    /// Distinct fake buffers: the queue never dereferences them.
    func buffer(_ tag: Int) -> PacketBuffer {
        PacketBuffer(handle: UnsafeMutableRawPointer(bitPattern: 0x1000 * (tag + 1))!,
                     bytes: UnsafeMutableRawPointer(bitPattern: 0x1000 * (tag + 1))!, length: tag, capacity: 2048)
    }

    @Test func firstFrameAsksForARequestAndResolutionReleasesInOrder() {
        var queue = ARPPendingQueue(capacity: 8)
        #expect(queue.enqueue(buffer(1), nextHop: hop1, now: .zero) == true)
        #expect(queue.enqueue(buffer(2), nextHop: hop2, now: .zero) == true)
        #expect(queue.enqueue(buffer(3), nextHop: hop1, now: .zero) == false)
        queue.resolve(hop1)
        var released: [Int] = []
        while let buffer = queue.take(waitingFor: hop1) { released.append(buffer.length) }
        #expect(released == [1, 3])
        #expect(queue.count == 1)
        #expect(queue.take(waitingFor: hop1) == nil)
        #expect(queue.take(waitingFor: hop2)?.length == 2)
    }

    @Test func fullQueueRefuses() {
        var queue = ARPPendingQueue(capacity: 2)
        #expect(queue.enqueue(buffer(1), nextHop: hop1, now: .zero) != nil)
        #expect(queue.enqueue(buffer(2), nextHop: hop1, now: .zero) != nil)
        #expect(queue.enqueue(buffer(3), nextHop: hop1, now: .zero) == nil)
    }

    @Test func retriesEverySecondThenGivesUp() {
        var queue = ARPPendingQueue(capacity: 8, retryInterval: .seconds(1), timeout: .seconds(3))
        _ = queue.enqueue(buffer(1), nextHop: hop1, now: .zero)
        _ = queue.enqueue(buffer(2), nextHop: hop1, now: .zero)
        var requests = 0
        var gaveUp = 0
        var dropped: [Int] = []
        for millisecond in stride(from: 0, through: 3500, by: 100) {
            while let action = queue.nextAction(now: Instant.zero + .milliseconds(UInt64(millisecond))) {
                switch action {
                case .sendRequest: requests += 1
                case .giveUp(let hop):
                    gaveUp += 1
                    while let buffer = queue.take(waitingFor: hop) { dropped.append(buffer.length) }
                }
            }
        }
        #expect(requests == 2, "resent at 1 s and 2 s")
        #expect(gaveUp == 1)
        #expect(dropped == [1, 2])
        let empty = queue.isEmpty
        #expect(empty)
    }
}
