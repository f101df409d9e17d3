import Testing
@testable import MTCP
@testable import MTCPHTTP
@testable import MTCPHTTPServer

/// Findings of the proxy's review (issue 24), each pinned by a test.
@Suite struct HTTPProxyReviewTests {
    let root = DocumentRoot()

    func network(configure: (inout HTTPServerOptions) -> Void = { _ in }) -> HTTPTestNetwork {
        var options = HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path))
        configure(&options)
        return HTTPTestNetwork(options: options)
    }

    /// A large response on a kept-alive upstream connection leaves it parked
    /// for the next request, which reuses it.
    @Test func upstreamConnectionIsParkedAfterALargeResponse() throws {
        var network = network()
        let upstream = network.startUpstream()
        let body = [UInt8](repeating: UInt8(ascii: "b"), count: 200_000)
        upstream.response = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
        let first = network.exchange("GET /api/big HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(first.responses().first?.body.count == body.count)
        network.advance(.milliseconds(20))
        let parked = network.http.connections.filter { $0.isOpen && $0.isUpstream && $0.isIdle }.count
        #expect(parked == 1)
        let second = network.exchange("GET /api/big HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(second.responses().first?.body.count == body.count)
        #expect(upstream.connections.count == 1)
    }
}

extension HTTPProxyReviewTests {
    /// A pool's name in /metrics labels is escaped as the text format wants
    /// (backslash, quote, line feed), and a CR, alone or before a LF (one
    /// Character in Swift), never reaches the exposition.
    @Test func poolNameIsEscapedInMetricLabels() {
        var options = HTTPServerOptions(cache: StaticFileCacheConfiguration(documentRoot: "/nonexistent"))
        options.pools = [ProxyPool(name: "a\"b\\c\r\nd\re\nf", servers: [ProxyServer(address: IPv4Address(198, 18, 0, 2), port: 8080)])]
        let labels = UpstreamPools(options).counters.map(\.labels)
        #expect(labels.first == "pool=\"a\\\"b\\\\c\u{FFFD}\\nd\u{FFFD}e\\nf\",server=\"198.18.0.2:8080\"")
        #expect(!labels.contains { $0.utf8.contains(13) || $0.utf8.contains(10) })
    }
}

extension HTTPProxyReviewTests {
    /// What the upstream receives for `request` and what the client receives back.
    func proxied(_ request: String, response: String? = nil,
                 configure: (inout HTTPServerOptions) -> Void = { _ in }) -> (upstream: [String], client: HTTPTestClient) {
        var network = network(configure: configure)
        let upstream = network.startUpstream()
        if let response { upstream.response = Array(response.utf8) }
        let client = network.exchange(request)
        network.advance(.milliseconds(20))
        return (upstream.allRequests, client)
    }

    /// Every field a Connection list names is hop-by-hop, however long the
    /// list: none reaches the upstream, nor the client in a response.
    @Test func everyFieldNamedByConnectionIsRemoved() {
        let names = (1...12).map { "X-Hop\($0)" }
        let hops = names.map { "\($0): 1\r\n" }.joined()
        let (upstream, client) = proxied(
            "GET /api/x HTTP/1.1\r\nHost: h\r\nConnection: " + names.joined(separator: ", ") + "\r\n" + hops + "X-End: 1\r\n\r\n",
            response: "HTTP/1.1 200 OK\r\nConnection: " + names.joined(separator: ",") + "\r\n" + hops
                + "Date: Sat, 05 Dec 2026 08:00:00 GMT\r\nContent-Length: 2\r\n\r\nok")
        #expect(upstream.count == 1)
        #expect(upstream.first.map { !$0.contains("X-Hop") && $0.contains("X-End: 1\r\n") } == true, "\(upstream)")
        let response = String(decoding: client.received, as: UTF8.self)
        #expect(client.responses().map(\.status) == [200])
        #expect(!response.contains("X-Hop"), "\(response)")
    }
}

extension HTTPProxyReviewTests {
    /// RFC 9110 §6.6.1: a response forwarded without Date gets one (the
    /// proxy's clock); one the upstream sent is kept, not doubled.
    @Test func responseWithoutDateGetsOne() throws {
        let (_, dateless) = proxied("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n",
                                    response: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        let date = try #require(dateless.responses().first?.field("date"))
        #expect(date.utf8.count == HTTPDate.length && date.hasSuffix(" GMT"), "\(date)")
        let upstreamDate = "Sat, 05 Dec 2026 08:00:00 GMT"
        let (_, dated) = proxied("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n",
                                 response: "HTTP/1.1 200 OK\r\nDate: \(upstreamDate)\r\nContent-Length: 2\r\n\r\nok")
        #expect(dated.responses().first?.fields.filter { $0.name == "date" }.map(\.value) == [upstreamDate])
    }

    /// RFC 9110 §7.6.3: Via names the protocol version received, each way: an
    /// HTTP/1.0 client's request goes up with `Via: 1.0`, an HTTP/1.0
    /// upstream's response comes back with it.
    @Test func viaCarriesTheReceivedVersion() {
        let old = proxied("GET /api/x HTTP/1.0\r\nHost: h\r\n\r\n",
                          response: "HTTP/1.0 200 OK\r\nDate: Sat, 05 Dec 2026 08:00:00 GMT\r\nContent-Length: 2\r\n\r\nok")
        #expect(old.upstream.first?.contains("\r\nVia: 1.0 mtcp-httpd\r\n") == true, "\(old.upstream)")
        #expect(old.client.responses().first?.field("via") == "1.0 mtcp-httpd")
        let current = proxied("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n",
                              response: "HTTP/1.1 200 OK\r\nDate: Sat, 05 Dec 2026 08:00:00 GMT\r\nContent-Length: 2\r\n\r\nok")
        #expect(current.upstream.first?.contains("\r\nVia: 1.1 mtcp-httpd\r\n") == true, "\(current.upstream)")
        #expect(current.client.responses().first?.field("via") == "1.1 mtcp-httpd")
    }

    /// An empty Host (a target without authority) is no `host=` in Forwarded,
    /// whose values must be a token or a quoted string (RFC 7239 §4), nor an
    /// empty X-Forwarded-Host.
    @Test func emptyHostIsLeftOutOfForwarded() {
        let (upstream, client) = proxied("GET /api/x HTTP/1.1\r\nHost:\r\n\r\n") { options in
            options.routes[0].headers = HTTPProxyHeaderPolicy(forwarded: true)
        }
        #expect(client.responses().map(\.status) == [200])
        #expect(upstream.first?.contains("\r\nForwarded: for=198.18.0.3;proto=http\r\n") == true, "\(upstream)")
        #expect(upstream.first?.contains("X-Forwarded-Host") == false, "\(upstream)")
    }

    /// RFC 9110 §7.6.2: an OPTIONS or TRACE with Max-Forwards 0 is answered by
    /// the proxy (as the static server answers them: 204, 405); with more, it
    /// goes up with one less. Other methods' Max-Forwards passes unchanged.
    @Test func maxForwardsIsHonouredForOptionsAndTrace() {
        let zero = proxied("OPTIONS /api/x HTTP/1.1\r\nHost: h\r\nMax-Forwards: 0\r\n\r\n")
        #expect(zero.upstream.isEmpty && zero.client.responses().map(\.status) == [204])
        let trace = proxied("TRACE /api/x HTTP/1.1\r\nHost: h\r\nMax-Forwards: 0\r\n\r\n")
        #expect(trace.upstream.isEmpty && trace.client.responses().map(\.status) == [405])
        let three = proxied("OPTIONS /api/x HTTP/1.1\r\nHost: h\r\nMax-Forwards: 3\r\nX-A: 1\r\n\r\n")
        #expect(three.upstream.first?.hasPrefix("OPTIONS /api/x HTTP/1.1\r\nHost: h\r\nMax-Forwards: 2\r\nX-A: 1\r\n") == true,
                "\(three.upstream)")
        let get = proxied("GET /api/x HTTP/1.1\r\nHost: h\r\nMax-Forwards: 0\r\n\r\n")
        #expect(get.upstream.first?.hasPrefix("GET /api/x HTTP/1.1\r\nHost: h\r\nMax-Forwards: 0\r\n") == true,
                "\(get.upstream)")
    }
}

extension HTTPProxyReviewTests {
    /// `consistent_hash` on the client address keys a trusted proxy's request
    /// by the client it forwards for (its X-Forwarded-For), not by the proxy:
    /// otherwise every client behind it lands on one server.
    @Test func consistentHashUsesTheTrustedClientAddress() throws {
        let ports: [UInt16] = [ScriptedUpstream.port, 8082]
        let seeds = ports.map { RendezvousHash.seed(of: IPAddress(HTTPTestNetwork.clientIP), port: $0) }
        func server(for address: IPAddress) -> Int {
            let key = RendezvousHash.key(of: address)
            return seeds.indices.max { RendezvousHash.score(key: key, seed: seeds[$0], weight: 1)
                < RendezvousHash.score(key: key, seed: seeds[$1], weight: 1) }!
        }
        let proxyServer = server(for: IPAddress(HTTPTestNetwork.clientIP))
        let forwarded = try #require((1...50).map { IPAddress(IPv4Address(10, 0, 0, UInt8($0))) }
            .first { server(for: $0) != proxyServer })
        var network = network { options in
            options.pools = [ProxyPool(servers: ports.map { ProxyServer(address: HTTPTestNetwork.clientIP, port: $0) },
                                       balance: .consistentHash)]
            options.trustedProxies = [IPAddress(HTTPTestNetwork.clientIP)]
        }
        let upstreams = ports.map { network.startUpstream(port: $0) }
        // A forged element on the left is not the client: the proxy's own (rightmost) is.
        let client = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.7, \(forwarded)\r\n\r\n")
        #expect(client.responses().map(\.status) == [200])
        #expect(upstreams.map(\.allRequests.count) == ports.indices.map { $0 == server(for: forwarded) ? 1 : 0 })
    }

    /// A check in flight when the core stops is abandoned, not failed: the
    /// server's state (and the event log) must not say it went down.
    @Test func healthCheckInFlightAtStopIsNoFailure() {
        var network = network { options in
            options.pools[0].healthCheck = UpstreamHealthCheck(path: "/health", interval: .seconds(10), rise: 1, fall: 1)
            options.upstreamTimeouts.read = .seconds(60)
        }
        let upstream = network.startUpstream()
        upstream.response = []  // takes the check, never answers
        network.advance(.milliseconds(1500))
        #expect(upstream.allRequests.count == 1)
        network.http.stopAccepting(&network.server)
        network.advance(.milliseconds(1500))
        #expect(network.http.upstreams.servers[0].healthy)
        #expect(network.http.upstreams.servers[0].checkFailures == 0)
        #expect(!network.http.connections.contains { $0.isOpen && $0.isHealthCheck })
    }

    /// A request whose forwarded head would not fit (431) gives the kept-alive
    /// upstream connection it was given back: the next request reuses it.
    @Test func headTooLargeToForwardKeepsTheUpstreamConnection() {
        var network = network()
        let upstream = network.startUpstream()
        let first = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(first.responses().map(\.status) == [200])
        // Its Host goes up twice (Host, X-Forwarded-Host): past the forward buffer.
        let huge = network.exchange("GET /api/x HTTP/1.1\r\nHost: \(String(repeating: "a", count: 15_000))\r\n\r\n")
        #expect(huge.responses().map(\.status) == [431], "\(huge.closed) \(upstream.connections.map(\.received.count)) \(huge.pending.count)")
        let third = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(third.responses().map(\.status) == [200])
        #expect(upstream.connections.count == 1 && upstream.allRequests.count == 2)
    }

    /// RFC 9112 §6.1: no chunked request goes to a server whose last response
    /// said HTTP/1.0 (it cannot read the framing); the client gets 411 (send a
    /// Content-Length) and its connection closes, the body unread.
    @Test func chunkedBodyIsNotSentToAnHTTP10Upstream() {
        var network = network()
        let upstream = network.startUpstream()
        upstream.response = Array("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok".utf8)
        let first = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(first.responses().map(\.status) == [200])
        let chunked = network.exchange("POST /api/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        network.run(for: .milliseconds(200)) { chunked.closed }
        #expect(chunked.responses().map(\.status) == [411])
        #expect(chunked.closed)
        #expect(!upstream.allRequests.contains { $0.contains("chunked") }, "\(upstream.allRequests)")
        let sized = network.exchange("POST /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
        #expect(sized.responses().map(\.status) == [200])
    }
}

extension HTTPProxyReviewTests {
    static let dated = "Date: Sat, 05 Dec 2026 08:00:00 GMT\r\n"
    static let earlyHints = "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
    static let final = "HTTP/1.1 200 OK\r\n" + dated + "Content-Length: 2\r\n\r\nok"

    /// The upstream's head, when it arrives whole, is parsed in one pass (the
    /// parser's whole-head path), not one call per byte.
    @Test func responseHeadIsParsedInOnePass() {
        var network = network()
        _ = network.startUpstream()
        let client = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(client.responses().map(\.status) == [200])
        let upstream = network.http.connections.first { $0.isOpen && $0.isUpstream }
        #expect(upstream?.response.readHeadWhole == true)
    }

    /// RFC 9110 §15.2: interim responses are forwarded to an HTTP/1.1 client
    /// (hop-by-hop fields removed, Via added), then the final response; an
    /// HTTP/1.0 client, which cannot read them, gets the final one alone.
    @Test func interimResponsesReachHTTP11ClientsOnly() {
        var network = network()
        let upstream = network.startUpstream()
        upstream.response = Array((Self.earlyHints.replacingFirst("\r\n\r\n", "\r\nConnection: X-Hop\r\nX-Hop: 1\r\n\r\n")
                                   + "HTTP/1.1 100 Continue\r\n\r\n" + Self.final).utf8)
        let client = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n", responses: 3)
        #expect(String(decoding: client.received, as: UTF8.self)
                == "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\nVia: 1.1 mtcp-httpd\r\n\r\n"
                + "HTTP/1.1 100 Continue\r\nVia: 1.1 mtcp-httpd\r\n\r\n"
                + "HTTP/1.1 200 OK\r\n" + Self.dated + "Content-Length: 2\r\nVia: 1.1 mtcp-httpd\r\nConnection: keep-alive\r\n\r\nok")
        let old = network.exchange("GET /api/x HTTP/1.0\r\nHost: h\r\n\r\n")
        network.run(for: .milliseconds(100)) { old.closed }
        #expect(old.responses().map(\.status) == [200])
    }

    /// Early Hints are worth something only before the final response: the
    /// 103 goes to the client as soon as it comes, while the upstream thinks.
    @Test func earlyHintsAreRelayedBeforeTheFinalResponseComes() {
        var network = network()
        let upstream = network.startUpstream()
        upstream.response = Array(Self.earlyHints.utf8)
        let client = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(client.responses().map(\.status) == [103])
        upstream.connections[0].pending += Array(Self.final.utf8)
        network.run { client.responses().count == 2 }
        #expect(client.responses().map(\.status) == [103, 200])
        #expect(client.responses().last?.bodyText == "ok")
    }
}

extension HTTPProxyReviewTests {
    /// An upstream exchange that fails while its client is being served (here
    /// the client's chunked body turns out malformed) answers the client
    /// without serving it again from inside its own serve: the 400 arrives
    /// and the connection closes cleanly, and no serve is re-entered.
    @Test func failedExchangeDoesNotReenterTheClientsServe() {
        var network = network()
        let upstream = network.startUpstream()
        let client = network.open(sending: Array("POST /api/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
        network.run { upstream.connections.first?.received.isEmpty == false }
        client.send("zz\r\n")
        network.run { client.closed }
        #expect(client.responses().map(\.status) == [400])
        #expect(client.closedCleanly)
        #expect(network.http.reenteredServes == 0)
    }
}
