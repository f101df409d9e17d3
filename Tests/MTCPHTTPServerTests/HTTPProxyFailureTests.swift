import Testing
@testable import MTCP
import MTCPHTTP
@testable import MTCPHTTPServer

/// The proxy when upstreams fail: one retry of an idempotent request on another
/// server, per-route timeouts, and a slow client that must not make the proxy
/// swallow a fast upstream's response.
@Suite struct HTTPProxyFailureTests {
    let root = DocumentRoot()

    /// A port of the client's address where nothing listens: a connect is refused.
    static let refusingPort: UInt16 = 8081
    static let secondPort: UInt16 = 8082

    /// `/api/` routed to a pool of the servers on `ports` of the client's address, in that order.
    func network(ports: [UInt16], configure: (inout HTTPServerOptions) -> Void = { _ in }) -> HTTPTestNetwork {
        var options = HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path))
        options.pools = [ProxyPool(servers: ports.map { ProxyServer(address: HTTPTestNetwork.clientIP, port: $0) })]
        configure(&options)
        return HTTPTestNetwork(options: options)
    }

    // MARK: one retry, on another server, for idempotent requests only

    @Test func getIsRetriedOnAnotherServerWhenTheConnectIsRefused() throws {
        var network = network(ports: [Self.refusingPort, ScriptedUpstream.port])
        let upstream = network.startUpstream()
        let client = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(client.responses().map(\.status) == [200])
        #expect(upstream.allRequests.count == 1)
        #expect(network.serverStatistics.proxyRetries == 1)
    }

    /// The server takes the request and dies before any response byte: a GET
    /// (and a HEAD) goes to the next server once.
    @Test(arguments: ["GET", "HEAD"])
    func requestCutBeforeAnyResponseByteIsRetried(method: String) throws {
        var network = network(ports: [ScriptedUpstream.port, Self.secondPort])
        let dying = network.startUpstream()
        dying.closesWithoutAnswer = true
        let healthy = network.startUpstream(port: Self.secondPort)
        let client = network.exchange("\(method) /api/x HTTP/1.1\r\nHost: h\r\n\r\n",
                                      headRequests: method == "HEAD" ? [0] : [])
        #expect(client.responses(headRequests: method == "HEAD" ? [0] : []).map(\.status) == [200])
        #expect(dying.allRequests.count == 1 && healthy.allRequests.count == 1)
        #expect(network.serverStatistics.proxyRetries == 1)
    }

    /// A POST may have had its effect on the server that died: never sent twice.
    @Test func postIsNeverRetried() throws {
        var network = network(ports: [ScriptedUpstream.port, Self.secondPort])
        let dying = network.startUpstream()
        dying.closesWithoutAnswer = true
        let healthy = network.startUpstream(port: Self.secondPort)
        let client = network.exchange("POST /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab")
        #expect(client.responses().map(\.status) == [502])
        #expect(dying.allRequests.count == 1 && healthy.allRequests.isEmpty)
        #expect(network.serverStatistics.proxyRetries == 0)
    }

    /// Once only: when the second server fails too, the client gets its 502.
    @Test func aRequestIsRetriedOnce() throws {
        var network = network(ports: [ScriptedUpstream.port, Self.secondPort, 8083])
        let first = network.startUpstream()
        let second = network.startUpstream(port: Self.secondPort)
        let third = network.startUpstream(port: 8083)
        first.closesWithoutAnswer = true
        second.closesWithoutAnswer = true
        let client = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(client.responses().map(\.status) == [502])
        #expect(first.allRequests.count == 1 && second.allRequests.count == 1 && third.allRequests.isEmpty)
        #expect(network.serverStatistics.proxyRetries == 1)
    }

    /// Every server of the pool skipped after refusing: the 502 comes at once
    /// and the connection stays open, so a HEAD's 502 ends at its head (a body
    /// would be read as the response to the request pipelined after it).
    @Test func headToAPoolThatIsDownGetsA502HeadAndTheNextRequestItsAnswer() throws {
        var network = network(ports: [Self.refusingPort, Self.secondPort])
        let refused = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(refused.responses().map(\.status) == [502])
        let client = network.exchange("HEAD /api/x HTTP/1.1\r\nHost: h\r\n\r\nGET /api/y HTTP/1.1\r\nHost: h\r\n\r\n",
                                      headRequests: [0])
        let responses = client.responses(headRequests: [0])
        #expect(responses.map(\.status) == [502, 502])
        #expect(responses.first?.body.isEmpty == true)
    }

    // MARK: a slow client and a fast upstream

    /// A client that stops reading stops the proxy reading its upstream: what the
    /// proxy holds of a large response is bounded by its buffers (here a 16 KiB
    /// receive window, a 16 KiB send buffer and one head buffer), the rest waits
    /// at the upstream; all of it arrives once the client reads again.
    @Test func slowClientHoldsBackTheUpstream() throws {
        var network = network(ports: [ScriptedUpstream.port])
        let upstream = network.startUpstream()
        let body = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 % 251) }
        upstream.response = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
        let client = network.open(sending: Array("GET /api/big HTTP/1.1\r\nHost: h\r\n\r\n".utf8), readLimit: 0)
        network.advance(.seconds(2))
        let unsent = upstream.connections.first?.pending.count ?? 0
        let heldByTheProxy = body.count - unsent
        #expect(heldByTheProxy < 160 << 10, "the proxy took \(heldByTheProxy) bytes for a client that reads nothing")
        client.readLimit = .max
        network.run(for: .seconds(30)) { client.responses().count == 1 }
        #expect(client.responses().first?.body == body)
    }
}

extension HTTPProxyFailureTests {
    // MARK: per-route timeouts

    /// A route's own read timeout cuts a silent upstream long before the server-wide one.
    @Test func routeReadTimeoutOverridesTheServerWideOne() throws {
        var network = network(ports: [ScriptedUpstream.port]) { options in
            options.upstreamTimeouts.read = .seconds(60)
            options.routes = [ProxyRoute(prefix: "/api/", pool: 0,
                                         timeouts: UpstreamTimeouts(connect: .seconds(3), read: .seconds(2), send: .seconds(60)))]
        }
        let upstream = network.startUpstream()
        upstream.response = []  // never answers
        let client = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n", limit: .seconds(10))
        #expect(client.responses().map(\.status) == [504])
        #expect(upstream.allRequests.count == 1)
    }

    /// A client slower than the route's read timeout per buffer of response
    /// still gets all of it: the upstream waits on the client, which keeps
    /// reading, not on its own silence.
    @Test func slowReadingClientIsNotCutByTheUpstreamReadTimeout() throws {
        var network = network(ports: [ScriptedUpstream.port]) { options in
            options.upstreamTimeouts = UpstreamTimeouts(connect: .seconds(3), read: .seconds(1), send: .seconds(60))
        }
        let upstream = network.startUpstream()
        let body = (0..<120_000).map { UInt8(truncatingIfNeeded: $0 % 251) }
        upstream.response = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
        // 10 bytes a millisecond: a buffer of the proxy's takes longer than a second to drain.
        let client = network.open(sending: Array("GET /api/big HTTP/1.1\r\nHost: h\r\n\r\n".utf8), readLimit: 10)
        network.run(for: .seconds(30)) { client.responses().count == 1 || client.closed }
        let received = client.responses().first?.body
        #expect(received.map { $0 == body } == true, "\(received?.count ?? -1) of \(body.count) bytes")
    }

    /// A proxied exchange's buffers count as used (the upstream's response
    /// buffer, the request head it was sent, the client's relayed head), so
    /// closing gives a large exchange's pages back, as for a client's large head.
    @Test func proxiedBuffersCountForGivingPagesBack() throws {
        var network = network(ports: [ScriptedUpstream.port])
        let upstream = network.startUpstream()
        let body = [UInt8](repeating: UInt8(ascii: "b"), count: 200_000)
        upstream.response = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
        let client = network.exchange("GET /api/big HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(client.responses().first?.body.count == body.count)
        let upstreamSlots = network.http.connections.filter(\.isUpstream)
        #expect(upstreamSlots.count == 1 && upstreamSlots[0].highWater > 4096, "\(upstreamSlots.map(\.highWater))")
        #expect(upstreamSlots.first.map { $0.forwardHighWater > 0 } == true)
    }

    /// An upstream that stops reading a request body is cut by the send timeout
    /// (504), though the read timeout would wait much longer.
    @Test func upstreamThatTakesNoBodyBytesHitsTheSendTimeout() throws {
        var network = network(ports: [ScriptedUpstream.port]) { options in
            options.upstreamTimeouts = UpstreamTimeouts(connect: .seconds(3), read: .seconds(60), send: .seconds(2))
        }
        let upstream = network.startUpstream()
        upstream.reads = false
        let body = String(repeating: "x", count: 200_000)
        let client = network.exchange("POST /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body,
                                      limit: .seconds(10))
        #expect(client.responses().map(\.status) == [504])
    }
}

extension HTTPProxyFailureTests {
    /// /metrics: each server's requests, failed connects, and state, labelled by pool and server.
    @Test func serverStatesAndCountersAreLabelledSamples() throws {
        var network = network(ports: [Self.refusingPort, ScriptedUpstream.port])
        _ = network.startUpstream()
        let client = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(client.responses().map(\.status) == [200])
        let samples = network.http.counters().filter { $0.name.hasPrefix("http_upstream_") }
        func value(_ name: String, port: UInt16) -> UInt64? {
            samples.first { $0.name == name && $0.labels == "pool=\"\",server=\"198.18.0.3:\(port)\"" }?.value
        }
        #expect(value("http_upstream_requests", port: Self.refusingPort) == 1)
        #expect(value("http_upstream_requests", port: ScriptedUpstream.port) == 1)
        #expect(value("http_upstream_connect_failures", port: Self.refusingPort) == 1)
        #expect(value("http_upstream_connect_failures", port: ScriptedUpstream.port) == 0)
        #expect(value("http_upstream_up", port: Self.refusingPort) == 0)
        #expect(value("http_upstream_up", port: ScriptedUpstream.port) == 1)
        #expect(value("http_upstream_outstanding", port: ScriptedUpstream.port) == 0)
    }
}

extension HTTPProxyFailureTests {
    // MARK: active health checks

    /// Requests under /api/ that `upstream` received (health checks aside).
    func proxied(_ upstream: ScriptedUpstream) -> Int {
        upstream.allRequests.filter { $0.hasPrefix("GET /api/") }.count
    }

    /// A server whose check answers 503 twice in a row leaves the pool's choice
    /// (and shows 0 in /metrics) before any client request reaches it; two
    /// passing checks bring it back.
    @Test func failingHealthChecksTakeAServerOutAndPassingOnesBringItBack() throws {
        var network = network(ports: [ScriptedUpstream.port, Self.secondPort]) { options in
            options.pools[0].healthCheck = UpstreamHealthCheck(path: "/health", interval: .seconds(1), rise: 2, fall: 2)
        }
        let healthy = network.startUpstream()
        let sick = network.startUpstream(port: Self.secondPort)
        sick.response = Array("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".utf8)
        network.advance(.milliseconds(3500))
        #expect(sick.allRequests.contains { $0.hasPrefix("GET /health HTTP/1.1\r\nHost: 198.18.0.3:8082\r\n") })
        let up = network.http.counters().first {
            $0.name == "http_upstream_up" && $0.labels.hasSuffix(":\(Self.secondPort)\"")
        }
        #expect(up?.value == 0)
        let request = "GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n"
        let first = network.exchange(String(repeating: request, count: 4), responses: 4)
        #expect(first.responses().map(\.status) == [200, 200, 200, 200])
        #expect(proxied(healthy) == 4 && proxied(sick) == 0)

        sick.response = healthy.response
        network.advance(.milliseconds(2500))
        let second = network.exchange(String(repeating: request, count: 4), responses: 4)
        #expect(second.responses().map(\.status) == [200, 200, 200, 200])
        #expect(proxied(sick) == 2, "back in turn with the other server")
    }
}
