import Testing
@testable import MTCP
import MTCPHTTP
@testable import MTCPHTTPServer

/// Reloads (SIGHUP) while the proxy is busy: a proxied exchange keeps its bytes
/// in its own slots, never in the cache, so no reload may cut it, and a health
/// check that outlives a reload must not act on a connection that took its slot.
extension HTTPProxyFailureTests {
    /// An address of the link's subnet that nobody answers (no ARP reply): a
    /// connect to it stays pending, like one to a server that drops SYNs.
    static let blackhole = IPv4Address(198, 18, 0, 9)

    /// Two reloads while a client that stopped reading has a proxied download
    /// pending: it gets the whole body once it reads again.
    @Test func proxiedDownloadSurvivesTwoReloads() throws {
        var network = network(ports: [ScriptedUpstream.port])
        let upstream = network.startUpstream()
        let body = DocumentRoot.bytes(200_000, seed: 5)
        upstream.response = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
        let client = network.open(sending: Array("GET /api/big HTTP/1.1\r\nHost: h\r\n\r\n".utf8), readLimit: 0)
        network.advance(.seconds(1))
        try network.http.reload(&network.server)
        try network.http.reload(&network.server)
        client.readLimit = .max
        network.run(for: .seconds(10)) { client.responses().count == 1 || client.closed }
        #expect(client.error == nil)
        let received = client.responses().first?.body ?? []
        #expect(received.count == body.count && received == body, "\(received.count) of \(body.count) bytes")
    }

    /// Two reloads while the upstream connection is still being opened: the
    /// request goes on and the client gets the answer.
    @Test func connectingUpstreamSurvivesTwoReloads() throws {
        var network = network(ports: [ScriptedUpstream.port])
        let upstream = network.startUpstream()
        let client = network.open(sending: Array("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        var rounds = 0
        while !network.http.connections.contains(where: { $0.isOpen && $0.isUpstream && $0.isConnecting }) && rounds < 100 {
            network.round()
            rounds += 1
        }
        try #require(rounds < 100, "the upstream connection was being opened")
        try network.http.reload(&network.server)
        try network.http.reload(&network.server)
        network.run(for: .seconds(5)) { client.responses().count == 1 || client.closed }
        #expect(client.responses().map(\.status) == [200])
        #expect(upstream.allRequests.count == 1)
    }

    /// A check to a server that never answers its SYN is still connecting
    /// through two reloads; the client that takes a freed slot next is not
    /// reset when the check falls due, and the stuck check counts as failed.
    @Test func healthCheckStuckThroughReloadsTouchesNoOtherConnection() throws {
        var network = HTTPTestNetwork(options: {
            var options = HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path))
            options.pools = [ProxyPool(servers: [ProxyServer(address: Self.blackhole, port: 8080)],
                                       healthCheck: UpstreamHealthCheck(path: "/health", interval: .seconds(2),
                                                                        rise: 1, fall: 1))]
            return options
        }())
        network.advance(.milliseconds(1500))
        #expect(network.http.connections.contains { $0.isOpen && $0.isHealthCheck && $0.isConnecting })
        try network.http.reload(&network.server)
        try network.http.reload(&network.server)
        let client = network.open(sending: Array("GET /small.txt HTTP/1.1\r\n".utf8))
        network.advance(.milliseconds(2000))  // the check falls due meanwhile
        client.send("Host: h\r\n\r\n")
        network.run(for: .seconds(2)) { client.responses().count == 1 || client.closed }
        #expect(client.error == nil)
        #expect(client.responses().map(\.status) == [200])
        #expect(network.http.upstreams.servers[0].healthy == false, "the stuck check failed")
    }

    // MARK: retry only before any response byte

    /// An upstream that answers garbage has answered: the request is not sent
    /// to another server, and the client gets a 502.
    @Test func garbageAnswerIsNotRetried() throws {
        var network = network(ports: [ScriptedUpstream.port, Self.secondPort])
        let garbled = network.startUpstream()
        garbled.response = Array("XYZ\r\n\r\n".utf8)
        let healthy = network.startUpstream(port: Self.secondPort)
        let client = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(client.responses().map(\.status) == [502])
        #expect(garbled.allRequests.count == 1 && healthy.allRequests.isEmpty)
        #expect(network.serverStatistics.proxyRetries == 0)
    }
}

extension HTTPProxyFailureTests {
    // MARK: a local shortage is not the server's failure

    /// Clients hold every connection of the core: health checks cannot start,
    /// which says nothing of the server; it stays up (and is not counted as a
    /// failed connect), the shortage is counted apart, and once a client
    /// leaves the check runs and passes.
    @Test func healthChecksWithoutALocalConnectionLeaveTheServerUp() throws {
        var options = HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path))
        options.pools[0].healthCheck = UpstreamHealthCheck(path: "/health", interval: .seconds(1), rise: 1, fall: 1)
        var tcp = HTTPTestNetwork.tcp()
        tcp.maxConnections = 3
        var network = HTTPTestNetwork(options: options, server: tcp)
        let upstream = network.startUpstream()
        let clients = (0..<3).map { _ in network.open() }
        network.advance(.milliseconds(3500))
        #expect(upstream.allRequests.isEmpty, "no connection for a check")
        #expect(network.http.counters().first { $0.name == "http_upstream_local_shortages" }?.value ?? 0 > 0)
        let counters = network.http.counters()
        #expect(counters.first { $0.name == "http_upstream_up" }?.value == 1)
        #expect(counters.first { $0.name == "http_upstream_connect_failures" }?.value == 0)
        clients[0].close(&network.client, now: network.link.now)
        network.advance(.milliseconds(2500))
        #expect(upstream.allRequests.contains { $0.hasPrefix("GET /health ") })
        #expect(network.http.counters().first { $0.name == "http_upstream_up" }?.value == 1)
    }
}

extension HTTPProxyFailureTests {
    // MARK: timeouts of checks and connects

    /// A check to a server that takes the request and never answers fails
    /// after the connect and read timeouts, not when the next check is due.
    @Test func healthCheckTimesOutBeforeTheNextOne() throws {
        var network = network(ports: [ScriptedUpstream.port]) { options in
            options.upstreamTimeouts = UpstreamTimeouts(connect: .seconds(1), read: .seconds(2), send: .seconds(2))
            options.pools[0].healthCheck = UpstreamHealthCheck(path: "/health", interval: .seconds(60), rise: 1, fall: 1)
        }
        let silent = network.startUpstream()
        silent.response = []
        network.advance(.seconds(6))
        #expect(silent.allRequests.count == 1)
        #expect(network.http.counters().first { $0.name == "http_upstream_up" }?.value == 0)
    }

    /// A connect that times out is a 504, as nginx answers; a refused one a 502.
    @Test func connectTimeoutIs504AndRefusalIs502() throws {
        var network = HTTPTestNetwork(options: {
            var options = HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path))
            options.upstreamTimeouts.connect = .seconds(1)
            options.pools = [ProxyPool(servers: [ProxyServer(address: Self.blackhole, port: 8080)])]
            return options
        }())
        let timedOut = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(timedOut.responses().map(\.status) == [504])
        var refusing = self.network(ports: [Self.refusingPort])
        let refused = refusing.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(refused.responses().map(\.status) == [502])
    }
}

extension HTTPProxyFailureTests {
    // MARK: a kept-alive connection that went stale

    /// The only server closes a kept-alive connection as the proxy reuses it:
    /// the GET goes again to the same server on a fresh connection.
    @Test func staleKeptAliveConnectionIsRetriedOnAFreshOneToTheSameServer() throws {
        var network = network(ports: [ScriptedUpstream.port])
        let upstream = network.startUpstream()
        upstream.answersPerConnection = 1
        let request = "GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n"
        let client = network.exchange(request + request, responses: 2)
        #expect(client.responses().map(\.status) == [200, 200])
        #expect(upstream.connections.count == 2 && upstream.allRequests.count == 3)
        #expect(network.serverStatistics.proxyRetries == 1)
    }

    /// An idle kept-alive connection is closed by the proxy before common
    /// servers close theirs (5 s), so a later request, even a POST, which is
    /// never retried, goes on a fresh connection instead of into a closing one.
    @Test func idleKeptAliveConnectionIsClosedBeforeTheServerClosesIt() throws {
        var network = network(ports: [ScriptedUpstream.port])
        let upstream = network.startUpstream()
        let first = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(first.responses().map(\.status) == [200])
        network.advance(.seconds(3))
        #expect(upstream.connections.count == 1 && !upstream.connections[0].closed)
        network.advance(.seconds(2) + .milliseconds(100))
        #expect(upstream.connections[0].closed)  // on the proxy's FIN
        let post = network.exchange("POST /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
        #expect(post.responses().map(\.status) == [200])
        #expect(upstream.connections.count == 2 && upstream.allRequests.count == 2)
    }

    /// A POST is not sent again, stale connection or not.
    @Test func postOnAStaleKeptAliveConnectionIsNotRetried() throws {
        var network = network(ports: [ScriptedUpstream.port])
        let upstream = network.startUpstream()
        upstream.answersPerConnection = 1
        let client = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\nPOST /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
                                      responses: 2)
        #expect(client.responses().map(\.status) == [200, 502])
        #expect(upstream.allRequests.count == 2)
    }
}
