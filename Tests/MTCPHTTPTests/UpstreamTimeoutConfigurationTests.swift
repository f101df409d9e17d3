import Testing
import MTCPHTTP

/// Upstream timeouts: server-wide in `timeouts`, and per route under the same keys.
@Suite struct UpstreamTimeoutConfigurationTests {
    static let pools = "\"upstreams\": [{\"name\": \"b\", \"servers\": [\"198.18.0.2:8080\"]}]"

    @Test func routesCarryTheirOwnTimeouts() throws {
        let configuration = try decodeConfiguration("""
            {"timeouts": {"upstream_send_ms": 7},
             "routes": [{"prefix": "/a/", "upstream": "b"},
                        {"prefix": "/s/", "upstream": "b", "upstream_connect_ms": 1, "upstream_read_ms": 2,
                         "upstream_send_ms": 3}],
             \(Self.pools)}
            """)
        #expect(configuration.timeouts.upstreamSendMilliseconds == 7)
        #expect(configuration.routes[0].upstreamReadMilliseconds == nil)
        let slow = configuration.routes[1]
        #expect(slow.upstreamConnectMilliseconds == 1 && slow.upstreamReadMilliseconds == 2
                && slow.upstreamSendMilliseconds == 3)
    }

    /// A bad value is named by its key path and line.
    @Test func badRouteTimeoutsAreNamedWithTheirLine() throws {
        #expect(configurationError("""
            {"routes": [{"prefix": "/a/", "upstream": "b"},
                        {"prefix": "/s/", "upstream": "b",
                         "upstream_read_ms": 0}],
             \(Self.pools)}
            """) == "conf/test.json:3: routes[1].upstream_read_ms: must be 1...86400000 milliseconds (a day)")
        #expect(configurationError("""
            {"routes": [{"prefix": "/s/", "upstream": "b", "upstream_send_ms": 86400001}],
             \(Self.pools)}
            """) == "conf/test.json:1: routes[0].upstream_send_ms: must be 1...86400000 milliseconds (a day)")
        #expect(configurationError("""
            {"routes": [{"prefix": "/s/", "upstream": "b",
              "upstream_connect_ms": "1s"}], \(Self.pools)}
            """) == "conf/test.json:2: routes[0].upstream_connect_ms: expected a number")
        #expect(configurationError("{\"timeouts\": {\"upstream_send_ms\": -1}}")
                == "conf/test.json:1: timeouts.upstream_send_ms: must be 1...86400000 milliseconds (a day)")
    }
}

/// Upstream pools: `balance` and weighted servers.
@Suite struct UpstreamBalanceConfigurationTests {
    @Test func decodesBalanceAndWeights() throws {
        let configuration = try decodeConfiguration("""
            {"upstreams": [{"name": "b", "balance": "least_outstanding",
                            "servers": ["198.18.0.2:8080", {"address": "198.18.0.2:8081", "weight": 3}]}]}
            """)
        let pool = try #require(configuration.upstreams.first)
        #expect(pool.balance == "least_outstanding")
        #expect(pool.servers.map(\.weight) == [1, 3] && pool.servers.map(\.port) == [8080, 8081])
    }

    @Test func badBalanceAndWeightsAreNamedWithTheirLine() throws {
        #expect(configurationError("""
            {"upstreams": [{"name": "b",
                            "balance": "random", "servers": ["198.18.0.2:8080"]}]}
            """) == "conf/test.json:2: upstreams[0].balance: must be one of round_robin, least_outstanding, consistent_hash")
        #expect(configurationError("""
            {"upstreams": [{"name": "b", "servers": [
                {"address": "198.18.0.2:8080", "weight": 0}]}]}
            """) == "conf/test.json:2: upstreams[0].servers[0].weight: must be 1...100")
        #expect(configurationError("""
            {"upstreams": [{"name": "b", "servers": [
                {"address": "198.18.0.2:8080", "wieght": 2}]}]}
            """)?.hasPrefix("conf/test.json:2: upstreams[0].servers[0].wieght: unknown key") == true)
    }
}

/// Upstream pools: `health_check`.
@Suite struct HealthCheckConfigurationTests {
    @Test func decodesHealthChecksWithDefaults() throws {
        let configuration = try decodeConfiguration("""
            {"upstreams": [{"name": "b", "servers": ["198.18.0.2:8080"],
                            "health_check": {"path": "/healthz", "interval_ms": 2000}}]}
            """)
        let check = try #require(configuration.upstreams.first?.healthCheck)
        #expect(check.path == "/healthz" && check.intervalMilliseconds == 2000 && check.rise == 2 && check.fall == 3)
    }

    @Test func badHealthChecksAreNamedWithTheirLine() throws {
        #expect(configurationError("""
            {"upstreams": [{"name": "b", "servers": ["198.18.0.2:8080"],
                            "health_check": {"path": "/a b"}}]}
            """) == "conf/test.json:2: upstreams[0].health_check.path: "
                + "must be a path of up to 1024 visible ASCII characters, starting with \"/\"")
        #expect(configurationError("""
            {"upstreams": [{"name": "b", "servers": ["198.18.0.2:8080"],
                            "health_check": {"interval_ms": 10}}]}
            """) == "conf/test.json:2: upstreams[0].health_check.interval_ms: must be 1000...3600000")
        #expect(configurationError("""
            {"upstreams": [{"name": "b", "servers": ["198.18.0.2:8080"], "health_check": {
                "fall": 0}}]}
            """) == "conf/test.json:2: upstreams[0].health_check.fall: must be 1...100")
    }
}

/// `consistent_hash` and its `hash_header`.
@Suite struct ConsistentHashConfigurationTests {
    @Test func decodesTheHashHeader() throws {
        let configuration = try decodeConfiguration("""
            {"upstreams": [{"name": "b", "balance": "consistent_hash", "hash_header": "X-User",
                            "servers": ["198.18.0.2:8080", "198.18.0.2:8081"]}]}
            """)
        #expect(configuration.upstreams[0].balance == "consistent_hash")
        #expect(configuration.upstreams[0].hashHeader == "X-User")
    }

    @Test func mistakesAreNamedWithTheirLine() {
        #expect(configurationError("""
            {"upstreams": [{"name": "b", "servers": ["198.18.0.2:8080"],
                            "hash_header": "X-User"}]}
            """) == "conf/test.json:2: upstreams[0].hash_header: is only used with \"balance\": \"consistent_hash\"")
        #expect(configurationError("""
            {"upstreams": [{"name": "b", "servers": ["198.18.0.2:8080"], "balance": "consistent_hash",
                            "hash_header": "X User"}]}
            """) == "conf/test.json:2: upstreams[0].hash_header: \"X User\" is not a field name")
    }
}
