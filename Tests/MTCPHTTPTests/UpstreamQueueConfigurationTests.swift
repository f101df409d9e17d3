import Testing
@testable import MTCPHTTP

/// `max_connections` of an upstream server, and its pool's `queue_size` and `queue_timeout_ms`.
@Suite struct UpstreamQueueConfigurationTests {
    @Test func decodesTheLimitAndTheQueue() throws {
        let configuration = try decodeConfiguration("""
            {"upstreams": [{"name": "b", "queue_size": 10, "queue_timeout_ms": 500,
                            "servers": ["198.18.0.2:8080", {"address": "198.18.0.2:8081", "max_connections": 4}]}]}
            """)
        let pool = configuration.upstreams[0]
        #expect(pool.servers.map(\.maxConnections) == [nil, 4])
        #expect(pool.queueSize == 10 && pool.queueTimeoutMilliseconds == 500)
        let defaults = try decodeConfiguration("""
            {"upstreams": [{"name": "b", "servers": [{"address": "198.18.0.2:8080", "max_connections": 1}]}]}
            """).upstreams[0]
        #expect(defaults.queueSize == nil && defaults.queueTimeoutMilliseconds == nil)
    }

    @Test func mistakesAreNamedWithTheirLine() {
        #expect(configurationError("""
            {"upstreams": [{"name": "b", "servers": [
                {"address": "198.18.0.2:8080", "max_connections": 0}]}]}
            """) == "conf/test.json:2: upstreams[0].servers[0].max_connections: must be 1...1000000")
        // The line of the server at fault, not of the first server that has the key.
        #expect(configurationError("""
            {"upstreams": [{"name": "a", "servers": [{"address": "198.18.0.2:8080", "max_connections": 2}]},
                           {"name": "b", "servers": [
                {"address": "198.18.0.2:8080", "max_connections": 2, "weight": 1},
                "198.18.0.2:8081",
                {"address": "198.18.0.2:8082", "weight": 2},
                {"address": "198.18.0.2:8083", "max_connections": 2000000}]}]}
            """) == "conf/test.json:6: upstreams[1].servers[3].max_connections: must be 1...1000000")
        #expect(configurationError("""
            {"upstreams": [{"name": "b", "servers": [
                {"address": "198.18.0.2:8080", "weight": 2}, "198.18.0.2:8081",
                {"address": "198.18.0.2:8082",
                 "weight": 0}]}]}
            """) == "conf/test.json:4: upstreams[0].servers[2].weight: must be 1...100")
        #expect(configurationError("""
            {"upstreams": [{"name": "b", "servers": [{"address": "198.18.0.2:8080", "max_connections": 2}],
                            "queue_size": -1}]}
            """) == "conf/test.json:2: upstreams[0].queue_size: must be 0...65536")
        #expect(configurationError("""
            {"upstreams": [{"name": "b", "servers": [{"address": "198.18.0.2:8080", "max_connections": 2}],
                            "queue_timeout_ms": 0}]}
            """) == "conf/test.json:2: upstreams[0].queue_timeout_ms: must be 1...86400000 milliseconds (a day)")
        #expect(configurationError("""
            {"upstreams": [{"name": "b", "servers": ["198.18.0.2:8080"],
                            "queue_size": 5}]}
            """) == "conf/test.json:2: upstreams[0].queue_size: is only used when a server has max_connections")
        #expect(configurationError("""
            {"upstreams": [{"name": "b", "servers": ["198.18.0.2:8080"],

                            "queue_timeout_ms": 5}]}
            """) == "conf/test.json:3: upstreams[0].queue_timeout_ms: is only used when a server has max_connections")
        #expect(configurationError("""
            {"upstreams": [{"name": "b", "servers": [
                {"address": "198.18.0.2:8080", "max_connections": "2"}]}]}
            """) == "conf/test.json:2: upstreams[0].servers[0].max_connections: expected a number")
    }

    /// Listed twice, a server's limits would add up (two entries, two shares of
    /// the requests in flight): with a limit in the pool, each server is listed once.
    @Test func aServerListedTwiceWithALimitIsRefusedAtItsSecondLine() {
        #expect(configurationError("""
            {"upstreams": [{"name": "b", "servers": [
                {"address": "198.18.0.2:8080", "max_connections": 2},
                "198.18.0.2:8081",
                "198.18.0.2:8080"]}]}
            """) == "conf/test.json:4: upstreams[0].servers[2]: 198.18.0.2:8080 is listed already (servers[0]); "
            + "with max_connections in the pool, list a server once (its weight gives it a larger share)")
        // The same address however written.
        #expect(configurationError("""
            {"upstreams": [{"name": "b", "servers": [
                "[2001:db8::5]:80",
                {"address": "[2001:db8:0::5]:80", "max_connections": 3}]}]}
            """) == "conf/test.json:3: upstreams[0].servers[1]: [2001:db8:0::5]:80 is listed already (servers[0]); "
            + "with max_connections in the pool, list a server once (its weight gives it a larger share)")
        // Without a limit, twice is a weight of 2 (as before weights); in another pool, another limit.
        #expect(configurationError("""
            {"upstreams": [{"name": "a", "servers": ["198.18.0.2:8080", "198.18.0.2:8080"]},
                           {"name": "b", "servers": [{"address": "198.18.0.2:8080", "max_connections": 1}]}]}
            """) == nil)
    }
}
