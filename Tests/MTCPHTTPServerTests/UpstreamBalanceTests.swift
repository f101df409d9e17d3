import Testing
@testable import MTCP
import MTCPHTTP
@testable import MTCPHTTPServer

/// How a pool picks its server: weighted round robin, least outstanding requests.
@Suite struct UpstreamBalanceTests {
    static let address = IPv4Address(198, 18, 0, 2)
    static let start = Instant.zero + .seconds(1)

    func pools(_ balance: UpstreamBalance, weights: [Int], healthCheck: UpstreamHealthCheck? = nil) -> UpstreamPools {
        var options = HTTPServerOptions(cache: StaticFileCacheConfiguration(documentRoot: "/nonexistent"))
        options.pools = [ProxyPool(servers: weights.enumerated().map {
            ProxyServer(address: Self.address, port: UInt16(8080 + $0.offset), weight: $0.element)
        }, balance: balance, healthCheck: healthCheck)]
        return UpstreamPools(options)
    }

    func choices(_ pools: inout UpstreamPools, _ count: Int) -> [Int] {
        (0..<count).compactMap { _ in pools.chooseServer(in: 0, now: Self.start) }
    }

    @Test func equalWeightsTakeTurns() {
        var pools = pools(.roundRobin, weights: [1, 1, 1])
        #expect(choices(&pools, 6) == [0, 1, 2, 0, 1, 2])
    }

    /// Weight 3 against 1: three turns in four, spread out rather than in a row.
    @Test func weightsShareTheTurns() {
        var pools = pools(.roundRobin, weights: [3, 1])
        #expect(choices(&pools, 8) == [0, 0, 1, 0, 0, 0, 1, 0])
    }

    /// A server listed twice (the way to weight one before weights) is one
    /// server with the two weights summed: one series per family in /metrics,
    /// and twice the other's share.
    @Test func aServerListedTwiceIsOneServerWithTheWeightsSummed() {
        var options = HTTPServerOptions(cache: StaticFileCacheConfiguration(documentRoot: "/nonexistent"))
        let twice = ProxyServer(address: Self.address, port: 8080)
        options.pools = [ProxyPool(servers: [twice, twice, ProxyServer(address: Self.address, port: 8081)])]
        var pools = UpstreamPools(options)
        let up = pools.counters.filter { $0.name == "http_upstream_up" }.map(\.labels)
        #expect(up == ["pool=\"\",server=\"198.18.0.2:8080\"", "pool=\"\",server=\"198.18.0.2:8081\""])
        #expect(choices(&pools, 6) == [0, 1, 0, 0, 1, 0])
    }

    /// A server marked down is skipped, and so is the one a retry avoids.
    @Test func downAndAvoidedServersAreSkipped() {
        var pools = pools(.roundRobin, weights: [1, 1, 1])
        pools.recordFailure(1, now: Self.start)
        #expect(choices(&pools, 4) == [0, 2, 0, 2])
        #expect(pools.chooseServer(in: 0, avoiding: 0, now: Self.start) == 2)
        #expect(pools.chooseServer(in: 0, avoiding: 0, now: Self.start + .seconds(10)) == 1)
    }

    /// The only server of a pool is not skipped after a refused connect: there
    /// is no other to go to, and it may be back from a restart a moment later.
    @Test func theOnlyServerOfAPoolIsNeverSkipped() {
        var pools = pools(.roundRobin, weights: [1])
        pools.recordFailure(0, now: Self.start)
        #expect(pools.chooseServer(in: 0, now: Self.start) == 0)
        #expect(pools.chooseServer(in: 0, avoiding: 0, now: Self.start) == nil)
    }

    /// A server skipped after a refused connect is back (and up in /metrics) as
    /// soon as its health checks pass again, before any request has to find out.
    @Test func passingChecksEndThePassiveSkip() {
        let check = UpstreamHealthCheck(path: "/", interval: .seconds(1), rise: 2, fall: 2)
        var pools = pools(.roundRobin, weights: [1, 1], healthCheck: check)
        func up() -> UInt64? { pools.counters.first { $0.name == "http_upstream_up" }?.value }
        pools.recordFailure(0, now: Self.start)
        #expect(up() == 0)
        #expect(choices(&pools, 2) == [1, 1])
        pools.recordCheck(0, passed: true)
        pools.recordCheck(0, passed: true)
        #expect(up() == 1)
        #expect(choices(&pools, 2).contains(0))
    }

    /// The server with the fewest requests in flight for its weight wins; ties take turns.
    @Test func leastOutstandingPrefersTheLeastLoaded() {
        var pools = pools(.leastOutstanding, weights: [1, 1, 2])
        pools.opened(0)
        pools.opened(0)
        pools.opened(1)
        pools.opened(2)
        pools.opened(2)
        // In flight per weight: 2, 1, 1 (2 of weight 2): a tie of 1 and 2, whose
        // winner is the first from a start that moves on one server a choice.
        #expect(choices(&pools, 3) == [1, 1, 2])
        pools.opened(1)
        #expect(pools.chooseServer(in: 0, now: Self.start) == 2)
        pools.closed(0)
        pools.closed(0)
        #expect(pools.chooseServer(in: 0, now: Self.start) == 0)
        // An idle kept-alive connection carries nothing.
        #expect(pools.park(7, server: 2) && pools.park(8, server: 2))
        #expect(pools.servers[2].outstanding == 0)
    }
}

extension UpstreamBalanceTests {
    static func key(_ text: String) -> UInt64 { Array(text.utf8).withUnsafeBytes { RendezvousHash.key(of: $0) } }

    /// Consistent hashing: a key keeps its server; servers share the keys by
    /// weight; a server that goes down gives up its own keys alone, and gets
    /// them back when it returns.
    @Test func consistentHashKeepsKeysOnTheirServer() {
        var pools = pools(.consistentHash, weights: [1, 2, 1])
        let keys = (0..<3000).map { Self.key("user-\($0)") }
        let chosen = keys.map { pools.chooseServer(in: 0, key: $0, now: Self.start)! }
        #expect(keys.map { pools.chooseServer(in: 0, key: $0, now: Self.start)! } == chosen)
        let shares = (0..<3).map { server in chosen.filter { $0 == server }.count }
        #expect(abs(shares[0] - 750) < 120 && abs(shares[1] - 1500) < 150 && abs(shares[2] - 750) < 120, "\(shares)")
        pools.recordFailure(1, now: Self.start)
        let without = keys.map { pools.chooseServer(in: 0, key: $0, now: Self.start)! }
        for (before, after) in zip(chosen, without) {
            #expect(after != 1 && (before == 1 || before == after))
        }
        let moved = zip(chosen, without).filter { $0.0 == 1 }.map(\.1)
        #expect(moved.contains(0) && moved.contains(2))
        #expect(keys.map { pools.chooseServer(in: 0, key: $0, now: Self.start + .seconds(10))! } == chosen)
        // A retry avoids the failed server and goes where the key would go without it.
        #expect(pools.chooseServer(in: 0, avoiding: chosen[0], key: keys[0], now: Self.start) != chosen[0])
    }

    /// The same server keeps its keys when another server joins the pool, but
    /// for those the newcomer takes.
    @Test func consistentHashMovesOnlyTheNewcomersKeys() {
        var three = pools(.consistentHash, weights: [1, 1, 1])
        var four = pools(.consistentHash, weights: [1, 1, 1, 1])
        let keys = (0..<2000).map { Self.key("k\($0)") }
        for key in keys {
            let before = three.chooseServer(in: 0, key: key, now: Self.start)!
            let after = four.chooseServer(in: 0, key: key, now: Self.start)!
            #expect(after == before || after == 3)
        }
    }
}

extension UpstreamBalanceTests {
    /// Two servers, the first limited to one request in flight.
    func limitedPools(_ balance: UpstreamBalance) -> UpstreamPools {
        var options = HTTPServerOptions(cache: StaticFileCacheConfiguration(documentRoot: "/nonexistent"))
        options.pools = [ProxyPool(servers: [ProxyServer(address: Self.address, port: 8080, maxConnections: 1),
                                             ProxyServer(address: Self.address, port: 8081)], balance: balance)]
        return UpstreamPools(options)
    }

    /// A server at its `max_connections` is passed over as a down one is, by
    /// every balance; an idle kept-alive connection does not count; with every
    /// server at its limit, none is chosen and the request must wait.
    @Test func aServerAtItsLimitIsSkipped() {
        for balance in [UpstreamBalance.roundRobin, .leastOutstanding, .consistentHash] {
            var pools = limitedPools(balance)
            pools.opened(0)
            let keys = (0..<20).map { Self.key("k\($0)") }
            #expect(keys.map { pools.chooseServer(in: 0, key: $0, now: Self.start) } == keys.map { _ in 1 }, "\(balance)")
            let parked = pools.park(5, server: 0)
            #expect(parked)
            let chosen = keys.map { pools.chooseServer(in: 0, key: $0, now: Self.start) }
            #expect(chosen.contains(0), "\(balance)")
            let taken = pools.takeIdle(0)
            #expect(taken == 5)
        }
        var options = HTTPServerOptions(cache: StaticFileCacheConfiguration(documentRoot: "/nonexistent"))
        options.pools = [ProxyPool(servers: [ProxyServer(address: Self.address, port: 8080, maxConnections: 2)])]
        var pools = UpstreamPools(options)
        pools.opened(0)
        pools.opened(0)
        #expect(pools.chooseServer(in: 0, now: Self.start) == nil)
        #expect(pools.mustWait(in: 0, now: Self.start) && !pools.hasRoom(in: 0, now: Self.start))
        let limit = pools.counters.first { $0.name == "http_upstream_max_connections" }
        #expect(limit?.value == 2 && limit?.labels == "pool=\"\",server=\"198.18.0.2:8080\"")
        pools.closed(0)
        #expect(pools.hasRoom(in: 0, now: Self.start) && pools.chooseServer(in: 0, now: Self.start) == 0)
    }
}
