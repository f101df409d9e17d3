import Testing
@testable import MTCP
import MTCPHTTP
@testable import MTCPHTTPServer

/// `max_connections` and the pool's queue, against an upstream that answers
/// only when told: requests beyond the limit wait, first come first served,
/// and get a 503 when they wait too long or find the queue full.
@Suite struct HTTPProxyQueueTests {
    let root = DocumentRoot()

    /// One upstream server limited to one request in flight, a queue of `size`.
    func network(size: Int = 4, timeout: TimeSpan = .seconds(2), healthCheck: UpstreamHealthCheck? = nil) -> HTTPTestNetwork {
        var options = HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path))
        options.pools = [ProxyPool(name: "api", servers: [ProxyServer(address: HTTPTestNetwork.clientIP,
                                                                      port: ScriptedUpstream.port, maxConnections: 1)],
                                   healthCheck: healthCheck, queueSize: size, queueTimeout: timeout)]
        return HTTPTestNetwork(options: options)
    }

    /// The upstream, holding its answers, and a first request in flight to it.
    func busyUpstream(_ network: inout HTTPTestNetwork) -> (ScriptedUpstream, HTTPTestClient) {
        let upstream = network.startUpstream()
        upstream.holdsAnswers = true
        let first = network.open(sending: Array(Self.request("a").utf8))
        network.advance(.milliseconds(20))
        return (upstream, first)
    }

    static func request(_ name: String) -> String { "GET /api/\(name) HTTP/1.1\r\nHost: h\r\n\r\n" }

    /// The paths of the requests the upstream received, in order.
    static func paths(_ upstream: ScriptedUpstream) -> [String] {
        upstream.allRequests.map { String($0.split(separator: " ")[1]) }
    }

    static func counter(_ network: borrowing HTTPTestNetwork, _ name: String) -> UInt64? {
        network.http.counters().first { $0.name == name }?.value
    }

    @Test func requestsBeyondTheLimitWaitAndGoInOrder() {
        var network = network()
        let upstream = network.startUpstream()
        upstream.holdsAnswers = true
        let clients = ["a", "b", "c"].map { name in
            let client = network.open(sending: Array(Self.request(name).utf8))
            network.advance(.milliseconds(20))
            return client
        }
        network.advance(.milliseconds(100))
        #expect(Self.paths(upstream) == ["/api/a"])
        #expect(Self.counter(network, "http_upstream_queue_length") == 2)
        #expect(Self.counter(network, "http_upstream_queued") == 2)
        #expect(Self.counter(network, "http_upstream_outstanding") == 1)
        for served in 1...3 {
            #expect(upstream.answerNext())
            network.run { clients[served - 1].responses().count == 1 }
            network.advance(.milliseconds(50))
            #expect(clients.map { $0.responses().map(\.status) } == clients.indices.map { $0 < served ? [200] : [] })
            #expect(Self.paths(upstream) == Array(["/api/a", "/api/b", "/api/c"].prefix(min(served + 1, 3))))
        }
        #expect(Self.counter(network, "http_upstream_queue_length") == 0)
        #expect(network.serverStatistics.requests == 3)
        // One connection at a time, reused: never a second one to the limited server.
        #expect(upstream.connections.count == 1)
    }

    /// A reload that raises the limit replaces the pool: the requests that
    /// waited go on with the new servers, in their order.
    @Test func waitingRequestsGoOnAfterAReload() throws {
        var network = network()
        let (upstream, _) = busyUpstream(&network)
        let waiting = ["b", "c"].map { name in
            let client = network.open(sending: Array(Self.request(name).utf8))
            network.advance(.milliseconds(20))
            return client
        }
        #expect(Self.counter(network, "http_upstream_queue_length") == 2)
        network.http.options.pools[0].servers[0].maxConnections = 3
        try network.http.reload(&network.server)
        network.run { upstream.held.count == 3 }
        #expect(Self.paths(upstream) == ["/api/a", "/api/b", "/api/c"])
        #expect(Self.counter(network, "http_upstream_queue_length") == 0)
        upstream.answerNext()
        upstream.answerNext()
        upstream.answerNext()
        network.run { waiting.allSatisfy { $0.responses().count == 1 } }
        #expect(waiting.map { $0.responses().map(\.status) } == [[200], [200]])
    }

    /// A request that comes just after a reload goes behind those that waited
    /// for the replaced pool: the room the reload makes is theirs first.
    @Test func requestsThatWaitedGoBeforeOneThatComesAfterAReload() throws {
        var network = network()
        let (upstream, _) = busyUpstream(&network)
        let waiting = network.open(sending: Array(Self.request("b").utf8))
        let newcomer = network.open()
        network.advance(.milliseconds(20))
        #expect(Self.counter(network, "http_upstream_queue_length") == 1)
        newcomer.send(Self.request("c"))
        network.round()  // its request is on the way to the proxy
        network.http.options.pools[0].servers[0].maxConnections = 2
        try network.http.reload(&network.server)
        network.run { upstream.held.count == 2 }
        network.advance(.milliseconds(20))
        #expect(Self.paths(upstream) == ["/api/a", "/api/b"])
        #expect(Self.counter(network, "http_upstream_queue_length") == 1, "the newcomer waits")
        // The newcomer's turn comes with the next room (on the first request's connection).
        upstream.answerNext()
        network.run { upstream.held.count == 2 && Self.paths(upstream).contains("/api/c") }
        #expect(Self.paths(upstream).sorted() == ["/api/a", "/api/b", "/api/c"])
        #expect(Self.counter(network, "http_upstream_queue_length") == 0)
        #expect(newcomer.responses().isEmpty && waiting.responses().isEmpty)
    }

    @Test func aRequestThatWaitsTooLongGets503() {
        var network = network(timeout: .seconds(2))
        let (upstream, first) = busyUpstream(&network)
        let waiting = network.open(sending: Array(Self.request("b").utf8))
        network.advance(.milliseconds(1900))
        #expect(waiting.responses().isEmpty)
        network.run { !waiting.responses().isEmpty }
        #expect(waiting.responses().map(\.status) == [503])
        #expect(!waiting.closed, "a 503 keeps the connection")
        #expect(Self.paths(upstream) == ["/api/a"])
        #expect(Self.counter(network, "http_upstream_queue_timeouts") == 1)
        #expect(Self.counter(network, "http_upstream_queue_length") == 0)
        // The connection goes on: its next request waits its turn again.
        upstream.answerNext()
        network.run { !first.responses().isEmpty }
        waiting.send(Self.request("c"))
        network.run { waiting.responses().count == 2 || upstream.held.count == 1 }
        upstream.answerNext()
        network.run { waiting.responses().count == 2 }
        #expect(waiting.responses().map(\.status) == [503, 200])
        #expect(Self.paths(upstream) == ["/api/a", "/api/c"])
    }

    @Test func aFullQueueGets503AtOnce() {
        var network = network(size: 1)
        let (upstream, _) = busyUpstream(&network)
        let waiting = network.open(sending: Array(Self.request("b").utf8))
        network.advance(.milliseconds(20))
        let refused = network.exchange(Self.request("c"), limit: .milliseconds(100))
        #expect(refused.responses().map(\.status) == [503])
        #expect(waiting.responses().isEmpty)
        #expect(Self.counter(network, "http_upstream_queue_overflows") == 1)
        #expect(Self.counter(network, "http_upstream_queued") == 1)
        upstream.answerNext()
        network.run { upstream.held.count == 1 }
        #expect(Self.paths(upstream) == ["/api/a", "/api/b"])
    }

    /// A reset says the client is gone (a FIN does not: `aClientThatHalfClosesIsServedInItsTurn`).
    @Test func aClientThatResetsLeavesTheQueue() {
        var network = network()
        let (upstream, first) = busyUpstream(&network)
        let leaving = network.open(sending: Array(Self.request("b").utf8))
        network.advance(.milliseconds(20))
        let staying = network.open(sending: Array(Self.request("c").utf8))
        network.advance(.milliseconds(20))
        #expect(Self.counter(network, "http_upstream_queue_length") == 2)
        leaving.reset(&network.client, now: network.link.now)
        network.advance(.milliseconds(50))
        #expect(Self.counter(network, "http_upstream_queue_length") == 1)
        upstream.answerNext()
        network.run { !first.responses().isEmpty && upstream.held.count == 1 }
        upstream.answerNext()
        network.run { !staying.responses().isEmpty }
        #expect(staying.responses().map(\.status) == [200])
        #expect(Self.paths(upstream) == ["/api/a", "/api/c"])
        #expect(Self.counter(network, "http_upstream_queue_length") == 0)
    }

    /// A client may end its sending side after its request (FIN, CLOSE-WAIT
    /// here) and still read the answer: waiting in the queue does not change that.
    @Test func aClientThatHalfClosesIsServedInItsTurn() {
        var network = network()
        let (upstream, first) = busyUpstream(&network)
        let halfClosed = network.open(sending: Array(Self.request("b").utf8))
        halfClosed.shutdownAfterSending = true
        network.advance(.milliseconds(50))
        #expect(Self.counter(network, "http_upstream_queue_length") == 1)
        upstream.answerNext()
        network.run { !first.responses().isEmpty && upstream.held.count == 1 }
        upstream.answerNext()
        network.run { halfClosed.closed }
        #expect(halfClosed.responses().map(\.status) == [200])
        #expect(halfClosed.closedCleanly)
        #expect(Self.paths(upstream) == ["/api/a", "/api/b"])
    }

    /// A graceful stop answers the waiting requests 503 at once, each closing
    /// its connection (nothing of them went upstream), and the request in
    /// flight finishes.
    @Test func waitingRequestsGet503WhenTheServerStops() {
        var network = network(timeout: .seconds(30))
        let (upstream, first) = busyUpstream(&network)
        let waiting = ["b", "c"].map { name in
            let client = network.open(sending: Array(Self.request(name).utf8))
            network.advance(.milliseconds(20))
            return client
        }
        network.http.stopAccepting(&network.server)
        network.run(for: .seconds(1)) { waiting.allSatisfy { $0.closed } }
        #expect(waiting.map { $0.responses().map(\.status) } == [[503], [503]])
        #expect(waiting.allSatisfy { $0.closedCleanly })
        #expect(Self.counter(network, "http_upstream_queue_length") == 0)
        upstream.answerNext()
        network.run(for: .seconds(1)) { first.closed }
        #expect(first.responses().map(\.status) == [200])
        #expect(Self.paths(upstream) == ["/api/a"])
        network.advance(.milliseconds(200))
        let finished = network.http.isFinished(network.server)
        #expect(finished)
    }

    /// When health checks take the pool's only server out, the requests that
    /// wait for it get their 502 at once, as new ones do, not after queue_timeout_ms.
    @Test func waitingRequestsGet502WhenThePoolGoesDown() {
        var network = network(timeout: .seconds(30),
                              healthCheck: UpstreamHealthCheck(path: "/health", interval: .seconds(1), rise: 1, fall: 1))
        let (upstream, _) = busyUpstream(&network)
        let waiting = network.open(sending: Array(Self.request("b").utf8))
        network.advance(.milliseconds(20))
        #expect(Self.counter(network, "http_upstream_queue_length") == 1)
        // The held check times out (held like every request): the server is down.
        network.run(for: .seconds(5)) { !waiting.responses().isEmpty }
        #expect(waiting.responses().map(\.status) == [502])
        #expect(Self.counter(network, "http_upstream_up") == 0)
        #expect(Self.counter(network, "http_upstream_queue_length") == 0)
        #expect(!Self.paths(upstream).contains("/api/b"))
    }

    /// A reload that takes a waiting request out of the queue just before a
    /// sweep does not answer it 408 though it came long before the header timeout.
    @Test func aRequestBackFromTheQueueIsNoHeaderTimeout() throws {
        var network = network(timeout: .seconds(30))
        network.http.options.headerTimeout = .seconds(1)
        let (upstream, _) = busyUpstream(&network)
        let waiting = network.open(sending: Array(Self.request("b").utf8))
        network.advance(.milliseconds(1500))
        #expect(Self.counter(network, "http_upstream_queue_length") == 1)
        network.http.options.pools[0].servers[0].maxConnections = 3
        try network.http.reload(&network.server)
        network.http.nextSweep = .zero
        network.run { upstream.held.count == 2 || !waiting.responses().isEmpty }
        #expect(waiting.responses().isEmpty)
        #expect(Self.paths(upstream) == ["/api/a", "/api/b"])
        upstream.answerNext()
        upstream.answerNext()
        network.run { !waiting.responses().isEmpty }
        #expect(waiting.responses().map(\.status) == [200])
    }

    /// After a graceful stop the exchange in flight ends and its upstream
    /// connection closes rather than waiting, parked, for a request that will
    /// never come: the core has nothing left and stops well before the idle timeout.
    @Test func theStopFinishesWhenTheLastExchangeEnds() {
        var network = network(timeout: .seconds(30))
        let (upstream, first) = busyUpstream(&network)
        network.http.stopAccepting(&network.server)
        upstream.answerNext()
        network.run(for: .seconds(1)) { first.closed }
        #expect(first.responses().map(\.status) == [200])
        #expect(first.closedCleanly)
        network.advance(.milliseconds(200))
        let finished = network.http.isFinished(network.server)
        #expect(finished, "nothing left open: no upstream connection parked after the stop")
        #expect(upstream.connections.allSatisfy { $0.closed })
    }

    /// A reload that replaces the pool (here a new queue size) keeps, for a
    /// server that stays, the requests in flight to it: the new pool does not
    /// think it idle and send it a request beyond its limit. A request that
    /// waited keeps the time it waited: its queue timeout counts from when it came.
    @Test func aReloadKeepsTheRequestsInFlightAndTheTimeWaited() throws {
        var network = network(timeout: .seconds(2))
        let (upstream, first) = busyUpstream(&network)
        let waiting = network.open(sending: Array(Self.request("b").utf8))
        let came = network.link.now
        network.advance(.milliseconds(1500))
        network.http.options.pools[0].queueSize = 8
        try network.http.reload(&network.server)
        network.advance(.milliseconds(100))
        #expect(Self.paths(upstream) == ["/api/a"], "the server is at its limit still")
        #expect(Self.counter(network, "http_upstream_outstanding") == 1)
        #expect(Self.counter(network, "http_upstream_queue_length") == 1)
        network.run(for: .seconds(2)) { !waiting.responses().isEmpty }
        #expect(waiting.responses().map(\.status) == [503])
        #expect(network.link.now.since(came) < .milliseconds(2100), "timed out 2 s after it came, not after the reload")
        // The exchange that started before the reload ends in the new pool's count.
        upstream.answerNext()
        network.run { !first.responses().isEmpty }
        network.advance(.milliseconds(20))
        #expect(first.responses().map(\.status) == [200])
        #expect(network.http.upstreams.servers[0].outstanding == 0)
        #expect(network.http.upstreams.servers[0].open == 1, "kept alive for the server that stayed")
    }
}
