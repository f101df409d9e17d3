import Testing
@testable import MTCP

@Suite struct ARPCacheTests {
    let a = IPv4Address(198, 18, 0, 2)
    let macA = MACAddress(0x02, 0, 0, 0, 0, 0x02)
    let macB = MACAddress(0x02, 0, 0, 0, 0, 0x0B)

    @Test func learnedEntriesExpire() {
        var cache = ARPCache(capacity: 8, lifetime: .seconds(60))
        #expect(cache.lookup(a, now: .zero) == nil)
        cache.learn(a, macA, now: .zero)
        #expect(cache.lookup(a, now: Instant.zero + .seconds(59)) == macA)
        #expect(cache.lookup(a, now: Instant.zero + .seconds(60)) == nil)
        let stillKnown = cache.contains(a)
        #expect(stillKnown, "an expired entry still counts for RFC 826's merge rule")
        cache.learn(a, macB, now: Instant.zero + .seconds(61))
        #expect(cache.lookup(a, now: Instant.zero + .seconds(62)) == macB)
        #expect(cache.count == 1)
    }

    @Test func staleEntriesAreUsedWhileAProbeConfirmsThem() {
        var cache = ARPCache(capacity: 8, lifetime: .seconds(60))
        cache.learn(a, macA, now: .zero)
        let fresh = cache.resolve(a, now: Instant.zero + .seconds(59))
        #expect(fresh.mac == macA && !fresh.probe)
        let stale = cache.resolve(a, now: Instant.zero + .seconds(60))
        #expect(stale.mac == macA && stale.probe, "expired: still used, and a request confirms it")
        let again = cache.resolve(a, now: Instant.zero + .milliseconds(60_500))
        #expect(again.mac == macA && !again.probe, "one request a second")
        #expect(cache.resolve(a, now: Instant.zero + .seconds(61)).probe)
        #expect(cache.resolve(a, now: Instant.zero + .seconds(65)).mac == nil, "no answer within the grace: unknown")
        cache.learn(a, macB, now: Instant.zero + .seconds(66))
        #expect(cache.resolve(a, now: Instant.zero + .seconds(67)).mac == macB)
        #expect(cache.resolve(IPv4Address(10, 0, 0, 1), now: .zero).mac == nil)
    }

    @Test func staticEntriesWinAndNeverExpire() {
        var cache = ARPCache(capacity: 8)
        cache.addStatic(a, macA)
        cache.learn(a, macB, now: .zero)
        #expect(cache.lookup(a, now: Instant.zero + .seconds(100_000)) == macA)
    }

    static func host(_ number: Int) -> IPv4Address { IPv4Address(10, 0, UInt8(number / 256), UInt8(number % 256)) }

    @Test func aFullTableEvictsTheLeastRecentlyUsedAndKeepsEveryOtherReachable() {
        var cache = ARPCache(capacity: 100)
        var evictions = 0
        for number in 0..<1000 {
            let now = Instant.zero + .milliseconds(UInt64(number))
            _ = cache.resolve(Self.host(0), now: now)  // host 0 stays in use
            switch cache.learn(Self.host(number), macA, now: now) {
            case .stored: break
            case .storedEvicting: evictions += 1
            case .refused: Issue.record("refused \(number)")
            }
        }
        #expect(cache.count == cache.capacity)
        #expect(evictions == 1000 - cache.capacity)
        #expect(cache.lookup(Self.host(0), now: .zero) == macA, "the entry in use was kept")
        #expect(cache.lookup(Self.host(999), now: .zero) == macA, "the newest was stored")
        let reachable = (0..<1000).filter { cache.lookup(Self.host($0), now: .zero) != nil }.count
        #expect(reachable == cache.capacity, "deletion left no entry unreachable")
        let oldestKept = (1..<1000).first { cache.lookup(Self.host($0), now: .zero) != nil }!
        #expect(oldestKept > 1000 - 2 * cache.capacity, "evictions took old entries, not recent ones")
    }

    @Test func staticEntriesAreNeverEvicted() {
        var cache = ARPCache(capacity: 8)
        for number in 0..<cache.capacity - 1 { cache.addStatic(Self.host(1000 + number), macB) }
        for number in 0..<50 { cache.learn(Self.host(number), macA, now: .zero) }
        for number in 0..<cache.capacity - 1 {
            #expect(cache.lookup(Self.host(1000 + number), now: .zero) == macB)
        }
        #expect(cache.lookup(Self.host(49), now: .zero) == macA, "one slot left turns over")
        var allStatic = ARPCache(capacity: 8)
        for number in 0..<allStatic.capacity { allStatic.addStatic(Self.host(1000 + number), macB) }
        #expect(allStatic.learn(Self.host(1), macA, now: .zero) == .refused, "nothing to evict")
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
