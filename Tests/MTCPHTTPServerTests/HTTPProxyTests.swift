import Testing
import Foundation
@testable import MTCP
import MTCPHTTP
@testable import MTCPHTTPServer

/// The reverse proxy against a scripted upstream that logs the exact bytes it
/// receives: what goes upstream (framing re-emitted by the proxy, never taken
/// apart by `Connection`), and where one request ends for both sides.
@Suite struct HTTPProxyTests {
    /// What the proxy adds after the end-to-end fields of a request from the test client to `host`.
    static func added(host: String?) -> String {
        "X-Forwarded-For: 198.18.0.3\r\nX-Forwarded-Proto: http\r\n" + (host.map { "X-Forwarded-Host: \($0)\r\n" } ?? "")
            + "Via: 1.1 mtcp-httpd\r\nConnection: keep-alive\r\n\r\n"
    }
    static let added = added(host: "h")
    static let victim = "GET /api/victim HTTP/1.1\r\nHost: h\r\nCookie: secret=1\r\n\r\n"
    static let victimForwarded = "GET /api/victim HTTP/1.1\r\nHost: h\r\nCookie: secret=1\r\n" + added

    let root = DocumentRoot()

    func network() -> HTTPTestNetwork {
        HTTPTestNetwork(options: HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path)))
    }

    /// Client A sends `attack`, then client B the victim's request once A has its
    /// answer; returns what A received and every request the upstream found.
    func attackThenVictim(_ attack: String, upstream configure: (ScriptedUpstream) -> Void = { _ in })
        -> (attacker: HTTPTestClient, victim: HTTPTestClient, upstream: ScriptedUpstream) {
        var network = network()
        let upstream = network.startUpstream()
        configure(upstream)
        let attacker = network.open(sending: Array(attack.utf8))
        network.run { attacker.closed || !attacker.responses().isEmpty }
        network.advance(.milliseconds(50))
        let victim = network.exchange(Self.victim)
        network.advance(.milliseconds(50))
        return (attacker, victim, upstream)
    }

    // MARK: framing headers named by Connection (the confirmed smuggling)

    @Test func connectionNamingContentLengthKeepsTheBodyFramed() throws {
        let smuggled = "GET /api/admin HTTP/1.1\r\nHost: h\r\nX: "
        let (attacker, victim, upstream) = attackThenVictim(
            "GET /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 37\r\nConnection: Content-Length\r\n\r\n" + smuggled)
        #expect(attacker.responses().map(\.status) == [200])
        #expect(victim.responses().map(\.status) == [200])
        #expect(upstream.allRequests == [
            "GET /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 37\r\n" + Self.added + smuggled,
            Self.victimForwarded,
        ])
    }

    @Test func connectionNamingHostKeepsHost() throws {
        let (attacker, _, upstream) = attackThenVictim("GET /api/x HTTP/1.1\r\nHost: h\r\nConnection: Host\r\n\r\n")
        #expect(attacker.responses().map(\.status) == [200])
        #expect(upstream.allRequests == ["GET /api/x HTTP/1.1\r\nHost: h\r\n" + Self.added, Self.victimForwarded])
    }

    @Test func connectionNamingTransferEncodingKeepsTheChunkedFraming() throws {
        let body = "25\r\nGET /api/admin HTTP/1.1\r\nHost: h\r\nX: \r\n0\r\n\r\n"
        let (attacker, _, upstream) = attackThenVictim(
            "POST /api/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: Transfer-Encoding\r\n\r\n"
                + body)
        #expect(attacker.responses().map(\.status) == [200])
        #expect(upstream.allRequests == [
            "POST /api/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n" + Self.added + body,
            Self.victimForwarded,
        ])
    }

    /// Lists and odd spellings the parser accepts go upstream in one canonical form.
    @Test func framingIsReemittedCanonically() throws {
        let (_, _, upstream) = attackThenVictim(
            "POST /api/x HTTP/1.1\r\ncontent-length: 3, 3\r\nHost: h\r\nContent-Length: 3\r\nX-A: 1\r\n\r\nabc")
        #expect(upstream.allRequests == [
            "POST /api/x HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nContent-Length: 3\r\n" + Self.added + "abc",
            Self.victimForwarded,
        ])
        let (_, _, chunked) = attackThenVictim(
            "POST /api/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        #expect(chunked.allRequests == [
            "POST /api/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n" + Self.added + "3\r\nabc\r\n0\r\n\r\n",
            Self.victimForwarded,
        ])
    }
}

extension HTTPProxyTests {
    /// What the upstream receives for `request` (nil: nothing), and the client's statuses.
    func forwarded(_ request: String) -> (upstream: String?, statuses: [Int]) {
        var network = network()
        let upstream = network.startUpstream()
        let client = network.exchange(request)
        network.advance(.milliseconds(20))
        return (upstream.allRequests.first, client.responses().map(\.status))
    }

    // MARK: the forwarded target, Host and identity

    /// The upstream gets the path the route matched, in origin-form: never the
    /// client's bytes, whose dots or authority it could read differently.
    @Test func targetIsRebuiltFromTheNormalisedPath() throws {
        #expect(forwarded("GET http://evil.example/api/x?q=1 HTTP/1.1\r\nHost: h\r\n\r\n").upstream
                == "GET /api/x?q=1 HTTP/1.1\r\nHost: evil.example\r\n" + Self.added(host: "evil.example"))
        #expect(forwarded("GET /api/a/%2e%2e//b%41%20c HTTP/1.1\r\nHost: h\r\n\r\n").upstream
                == "GET /api/bA%20c HTTP/1.1\r\nHost: h\r\n" + Self.added)
        for disguised in ["/api/..;/admin", "/api/.;x/admin", "/api/%252e%252e/admin", "/api/.%252E/admin"] {
            let result = forwarded("GET \(disguised) HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(result.upstream == nil && result.statuses == [400], "\(disguised)")
        }
        let userinfo = forwarded("GET http://user@evil/api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(userinfo.upstream == nil && userinfo.statuses == [400])
    }

    /// Identity fields come from the proxy alone; a client cannot forge its address or scheme.
    @Test func clientIdentityFieldsAreReplaced() throws {
        #expect(forwarded("GET /api/x HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\nForwarded: for=10.0.0.1\r\n"
                          + "X-Real-IP: 10.0.0.1\r\nX-Forwarded-Host: admin\r\nX-Forwarded-Proto: https\r\nX-B: 2\r\n\r\n")
                .upstream == "GET /api/x HTTP/1.1\r\nHost: h\r\nX-B: 2\r\n" + Self.added)
    }

    /// `_` spellings reach CGI-style upstreams under the replaced fields' names, and
    /// URL overrides would route the upstream by a path the proxy never matched.
    @Test func forgeableSpellingsAndURLOverridesAreDropped() throws {
        #expect(forwarded("GET /api/x HTTP/1.1\r\nHost: h\r\nX_Forwarded_For: 10.0.0.1\r\nX_Real_IP: 10.0.0.1\r\n"
                          + "X-Original-URL: /admin\r\nX-Rewrite-URL: /admin\r\nTrue-Client-IP: 10.0.0.1\r\n"
                          + "X-Client-IP: 10.0.0.1\r\nCF-Connecting-IP: 10.0.0.1\r\nX-Forwarded-Port: 1\r\n"
                          + "X-Forwarded-Prefix: /a\r\nX-Forwarded-Server: s\r\nX-B: 2\r\n\r\n")
                .upstream == "GET /api/x HTTP/1.1\r\nHost: h\r\nX-B: 2\r\n" + Self.added)
    }

    /// HTTP/1.0 needs no Host; the upstream (HTTP/1.1) gets the upstream's own address.
    @Test func http10RequestWithoutHostGetsOne() throws {
        #expect(forwarded("GET /api/x HTTP/1.0\r\n\r\n").upstream
                == "GET /api/x HTTP/1.1\r\nHost: 198.18.0.3:8080\r\n"
                    + Self.added(host: nil).replacingFirst("Via: 1.1", "Via: 1.0"))
    }
}

extension HTTPProxyTests {
    // MARK: where a request ends when the upstream answers early

    /// An early 401 leaves the request body unforwarded: it must not be read as
    /// the client's next request (here it is one, which would reach the upstream).
    @Test func bodyLeftByAnEarlyResponseIsNeverANewRequest() throws {
        var network = network()
        let upstream = network.startUpstream()
        upstream.answersBeforeBody = true
        upstream.response = Array("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n".utf8)
        let smuggled = "GET /api/smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
        let client = network.open(sending: Array("POST /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 39\r\n\r\n".utf8))
        network.run { !client.responses().isEmpty }
        client.send(smuggled)
        network.run { client.closed }
        let responses = client.responses()
        #expect(responses.map(\.status) == [401])
        #expect(responses.first?.field("connection") == "close")
        #expect(client.closedCleanly)
        #expect(!upstream.allRequests.contains { $0.hasPrefix("GET /api/smuggled") }, "\(upstream.allRequests)")
    }
}

extension HTTPProxyTests {
    /// A prefix matches whole segments: `/api` is not a prefix of `/api-internal`.
    @Test func routePrefixesMatchOnSegmentBoundaries() throws {
        var network = HTTPTestNetwork(options: HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path),
                                                                       prefix: "/api"))
        let upstream = network.startUpstream()
        let client = network.exchange("GET /api-internal/x HTTP/1.1\r\nHost: h\r\n\r\nGET /api HTTP/1.1\r\nHost: h\r\n\r\n"
                                      + "GET /api/y HTTP/1.1\r\nHost: h\r\n\r\n", responses: 3)
        #expect(client.responses().map(\.status) == [404, 200, 200])
        #expect(upstream.allRequests.map { $0.components(separatedBy: "\r\n")[0] } == ["GET /api HTTP/1.1", "GET /api/y HTTP/1.1"])
    }
}

extension HTTPProxyTests {
    // MARK: the relayed response

    /// What a client receives for `request` when the upstream answers `response`.
    func relayed(_ request: String, response: String, upstreamCloses: Bool = false) -> HTTPTestClient {
        var network = network()
        let upstream = network.startUpstream()
        upstream.response = Array(response.utf8)
        upstream.closesAfterResponse = upstreamCloses
        let client = network.exchange(request)
        network.run(for: .milliseconds(200)) { client.closed }
        return client
    }

    /// `received` as text without the one Date line the proxy adds to a
    /// response that had none (its value is the wall clock's); nil without one.
    static func withoutAddedDate(_ received: [UInt8]) -> String? {
        let text = String(decoding: received, as: UTF8.self)
        guard let start = text.firstRange(of: "\r\nDate: ") else { return nil }
        let utf8 = text.utf8
        let end = utf8.index(start.upperBound, offsetBy: HTTPDate.length + 2)  // the date, CR, LF
        return String(text[..<start.lowerBound]) + "\r\n" + String(text[end...])
    }

    /// RFC 9110 §6.2: the proxy sends its own version, and Via the upstream's; a body delimited by the
    /// upstream's close ends the client's connection too, never a kept-alive one
    /// without a length (issue 23, item 3).
    @Test func http10UpstreamIsRelayedAsHTTP11() throws {
        let closeDelimited = relayed("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n",
                                     response: "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello",
                                     upstreamCloses: true)
        #expect(Self.withoutAddedDate(closeDelimited.received)
                == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nVia: 1.0 mtcp-httpd\r\nConnection: close\r\n\r\nhello")
        #expect(closeDelimited.closedCleanly)
        let framed = relayed("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n",
                             response: "HTTP/1.0 404 Not Found\r\nContent-Length: 2\r\n\r\nno", upstreamCloses: true)
        #expect(Self.withoutAddedDate(framed.received)
                == "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nVia: 1.0 mtcp-httpd\r\nConnection: keep-alive\r\n\r\nno")
    }

    /// The upstream's Connection cannot take the response's own framing away.
    @Test func responseConnectionNeverStripsTheFraming() throws {
        let client = relayed("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n",
                             response: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: Content-Length, X-Y\r\n"
                                 + "X-Y: 1\r\nX-Z: 2\r\n\r\nok")
        #expect(Self.withoutAddedDate(client.received)
                == "HTTP/1.1 200 OK\r\nX-Z: 2\r\nContent-Length: 2\r\nVia: 1.1 mtcp-httpd\r\nConnection: keep-alive\r\n\r\nok")
    }

    /// An HTTP/1.0 client cannot read chunked framing: it gets the decoded body,
    /// delimited by the close (issue 27, item 5).
    @Test func chunkedResponseIsDecodedForAnHTTP10Client() throws {
        let client = relayed("GET /api/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                             response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n"
                                 + "6\r\n world\r\n0\r\nT: 1\r\n\r\n")
        #expect(Self.withoutAddedDate(client.received)
                == "HTTP/1.1 200 OK\r\nVia: 1.1 mtcp-httpd\r\nConnection: close\r\n\r\nhello world")
        #expect(client.closedCleanly)
    }
}

extension HTTPProxyTests {
    // MARK: request bodies that come slowly, or not at all

    /// A client that sends a head and withholds its body gives its upstream
    /// connection back after `headerTimeout` (408), instead of holding it until
    /// the upstream's deadline (issue 27, item 2).
    @Test func withheldBodyReleasesTheUpstreamConnection() throws {
        var options = HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path))
        options.upstreamTimeouts.read = .seconds(30)
        var network = HTTPTestNetwork(options: options)
        let upstream = network.startUpstream()
        let client = network.open(sending: Array("POST /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\nabc".utf8))
        network.run(for: .seconds(10)) { client.closed }
        #expect(client.responses().map(\.status) == [408])
        #expect(client.closed)
        #expect(upstream.connections.count == 1 && upstream.allRequests.isEmpty)
    }

    /// An upload slower than the upstream's read timeout but never silent for
    /// long is not cut with a 504: the upstream answers after the body.
    @Test func slowLiveUploadIsNotAGatewayTimeout() throws {
        var options = HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path))
        options.upstreamTimeouts.read = .seconds(2)
        var network = HTTPTestNetwork(options: options)
        let upstream = network.startUpstream()
        let client = network.open(sending: Array("POST /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\n".utf8))
        for _ in 0..<8 {
            network.advance(.seconds(1))
            client.send("x")
        }
        network.run { !client.responses().isEmpty }
        #expect(client.responses().map(\.status) == [200])
        #expect(upstream.allRequests.first?.hasSuffix("\r\n\r\nxxxxxxxx") == true)
    }

    /// `Expect: 100-continue`: the proxy invites the body itself, and the
    /// upstream gets no Expect (issue 27, item 3).
    @Test func expectContinueIsAnsweredByTheProxy() throws {
        var network = network()
        let upstream = network.startUpstream()
        let client = network.open(sending: Array(
            "POST /api/x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n".utf8))
        network.run(for: .milliseconds(500)) { !client.responses().isEmpty }
        #expect(String(decoding: client.received, as: UTF8.self) == "HTTP/1.1 100 Continue\r\n\r\n")
        client.send("hello")
        network.run { client.responses().count == 2 }
        #expect(client.responses().map(\.status) == [100, 200])
        #expect(upstream.allRequests == ["POST /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n" + Self.added + "hello"])
    }
}

extension HTTPProxyTests {
    /// An expectation the proxy cannot meet is 417 before anything goes
    /// upstream, the body unread (so the connection closes); an HTTP/1.0
    /// request's Expect is ignored (RFC 9110 §10.1.1).
    @Test func unknownExpectationIs417() throws {
        var network = network()
        let upstream = network.startUpstream()
        let client = network.exchange("POST /api/x HTTP/1.1\r\nHost: h\r\nExpect: x-fast\r\nContent-Length: 5\r\n\r\n")
        network.run(for: .milliseconds(200)) { client.closed }
        #expect(client.responses().map(\.status) == [417])
        #expect(client.responses().first?.field("connection") == "close")
        #expect(upstream.allRequests.isEmpty)
        let old = network.exchange("GET /api/x HTTP/1.0\r\nHost: h\r\nExpect: x-fast\r\n\r\n")
        #expect(old.responses().map(\.status) == [200])
    }
}

extension HTTPProxyTests {
    /// Chunk lines go upstream in canonical form: a lax upstream cannot read a
    /// zero-padded size, an extension or a trailer differently from our decoder.
    @Test func chunkedBodyIsReframedCanonically() throws {
        let (_, _, upstream) = attackThenVictim(
            "POST /api/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "0005;a=\"b\"\r\nhello\r\n1 ; c\r\n!\r\n0\r\nContent-Length: 3\r\n\r\n")
        #expect(upstream.allRequests == [
            "POST /api/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n" + Self.added + "5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n",
            Self.victimForwarded,
        ])
    }
}

extension HTTPProxyTests {
    /// A response body the upstream cuts short (its close before the length or
    /// the last chunk) resets the client's connection: over TLS no close_notify,
    /// which would tell the client the body was complete. A body delimited by the
    /// close ends with one.
    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", false),
        ("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc", true),
    ])
    func cutResponseBodyIsNeverACleanEnd(response: String, complete: Bool) throws {
        var network = HTTPTestNetwork(options: HTTPTestNetwork.proxied(HTTPSServerTests.options(root: root.path)))
        let upstream = network.startUpstream()
        upstream.response = Array(response.utf8)
        upstream.closesAfterResponse = true
        let tls = TLSTestPeer()
        let connection = HTTPSServerTests.exchange(&network, tls, "GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n", responses: 2)
        #expect(connection.closed)
        if complete { #expect(String(decoding: tls.plaintext, as: UTF8.self).hasSuffix("\r\n\r\nabc")) }
        #expect(tls.sawCloseNotify == complete)
        #expect((connection.error == nil) == complete)
    }
}

extension HTTPProxyTests {
    /// A configured front proxy's X-Forwarded-For list is extended, every line of it.
    @Test func trustedProxyForwardedForIsExtended() throws {
        var options = HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path))
        options.trustedProxies = [IPAddress(HTTPTestNetwork.clientIP)]
        var network = HTTPTestNetwork(options: options)
        let upstream = network.startUpstream()
        _ = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n"
                             + "X-Forwarded-For: 10.0.0.3\r\nForwarded: for=10.0.0.1\r\n\r\n")
        #expect(upstream.allRequests == ["GET /api/x HTTP/1.1\r\nHost: h\r\n"
                                         + Self.added.replacingFirst("198.18.0.3", "10.0.0.1, 10.0.0.2, 10.0.0.3, 198.18.0.3")])
    }
}

extension HTTPProxyTests {
    /// `trusted_proxies` of either family reach the proxy's check as the stack's
    /// addresses: a listed IPv6 front proxy is trusted, its neighbours and the
    /// IPv4-mapped form of a listed IPv4 address's neighbours are not.
    @Test func trustedProxiesOfEitherFamilyAreRecognised() throws {
        let configuration = try HTTPServerConfiguration.decode(
            Data(#"{"trusted_proxies": ["198.18.0.9", "2001:db8::7"]}"#.utf8), file: "trusted.json")
        let options = HTTPServerOptions(configuration)
        #expect(options.trusts(IPAddress("2001:db8::7")!))
        #expect(options.trusts(IPAddress("198.18.0.9")!))
        #expect(!options.trusts(IPAddress("2001:db8::8")!))
        #expect(!options.trusts(IPAddress("198.18.0.10")!))
        #expect(!options.trusts(IPAddress("::c612:9")!), "IPv4-compatible is not IPv4")
    }
}

extension String {
    func replacingFirst(_ target: String, _ replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        return String(self[..<range.lowerBound]) + replacement + String(self[range.upperBound...])
    }
}

extension HTTPProxyTests {
    /// A route's policy: its Host upstream (the client's in X-Forwarded-Host),
    /// `Forwarded`, request fields removed and added (an added one replacing the
    /// client's), response fields removed and added.
    @Test func routeHeaderPolicyEditsBothHeads() throws {
        var options = HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path))
        options.routes[0].headers = HTTPProxyHeaderPolicy(
            host: "backend.internal", forwarded: true,
            request: HTTPHeaderEdits(add: [("X-Env", "prod")], remove: ["Cookie"]),
            response: HTTPHeaderEdits(add: [("X-Frame-Options", "DENY")], remove: ["Server"]))
        var network = HTTPTestNetwork(options: options)
        let upstream = network.startUpstream()
        upstream.response = Array("HTTP/1.1 200 OK\r\nServer: leaky/1.0\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok".utf8)
        let client = network.exchange("GET /api/x HTTP/1.1\r\nHost: www.example:8080\r\nCookie: a=1\r\nX-Env: dev\r\n"
                                      + "Accept: */*\r\n\r\n")
        #expect(upstream.allRequests == [
            "GET /api/x HTTP/1.1\r\nHost: backend.internal\r\nAccept: */*\r\nX-Forwarded-For: 198.18.0.3\r\n"
                + "X-Forwarded-Proto: http\r\nX-Forwarded-Host: www.example:8080\r\n"
                + "Forwarded: for=198.18.0.3;host=\"www.example:8080\";proto=http\r\nX-Env: prod\r\n"
                + "Via: 1.1 mtcp-httpd\r\nConnection: keep-alive\r\n\r\n",
        ])
        #expect(Self.withoutAddedDate(client.received) == "HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\n"
                + "X-Frame-Options: DENY\r\nVia: 1.1 mtcp-httpd\r\nConnection: keep-alive\r\n\r\nok")
    }

    /// A trusted front proxy's `Forwarded` elements come first, as its X-Forwarded-For list does.
    @Test func trustedProxyForwardedIsExtended() throws {
        var options = HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path))
        options.routes[0].headers = HTTPProxyHeaderPolicy(forwarded: true)
        options.trustedProxies = [IPAddress(HTTPTestNetwork.clientIP)]
        var network = HTTPTestNetwork(options: options)
        let upstream = network.startUpstream()
        _ = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\nForwarded: for=10.0.0.1;proto=https\r\n\r\n")
        #expect(upstream.allRequests.first?.contains(
            "\r\nForwarded: for=10.0.0.1;proto=https, for=198.18.0.3;host=h;proto=http\r\n") == true,
            "\(upstream.allRequests)")
    }
}

extension HTTPProxyTests {
    /// An Upgrade request goes up with `Upgrade` and `Connection: upgrade`; after
    /// the upstream's 101 the bytes go both ways verbatim (those the client sent
    /// behind its head, and those behind the 101, included), and each side's end
    /// of stream is passed on until both connections close cleanly.
    @Test func upgradeIsTunnelledBothWaysUntilBothSidesClose() throws {
        var network = network()
        let upstream = network.startUpstream()
        upstream.response = Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: upgrade\r\nX-A: 1\r\n\r\nhi ".utf8)
        upstream.echoesAfterFirstRequest = true
        let client = network.open(sending: Array(
            "GET /api/ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: echo\r\n\r\nearly ".utf8))
        network.run { String(decoding: client.received, as: UTF8.self).hasSuffix("early ") }
        let switched = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nX-A: 1\r\nVia: 1.1 mtcp-httpd\r\n"
            + "Connection: upgrade\r\n\r\nhi early "
        #expect(String(decoding: client.received, as: UTF8.self) == switched)
        #expect(upstream.allRequests == ["GET /api/ws HTTP/1.1\r\nHost: h\r\n" + Self.added.replacingFirst(
            "Connection: keep-alive", "Upgrade: echo\r\nConnection: upgrade")])
        client.send(String(repeating: "x", count: 100_000))
        client.shutdownAfterSending = true
        network.run(for: .seconds(5)) { client.closed }
        #expect(client.received.count == switched.utf8.count + 100_000, "\(client.received.count)")
        #expect(client.closedCleanly)
        #expect(upstream.connections.allSatisfy { $0.closed })
        #expect(network.serverStatistics.proxyTunnels == 1)
    }

    /// h2c is never tunnelled (HTTP/2 frames would pass the proxy's routes and
    /// policy): the request goes up without Upgrade, and a 101 to it is a broken answer.
    @Test func anUpgradeToH2CGoesUpAsAPlainRequest() throws {
        var network = network()
        let upstream = network.startUpstream()
        upstream.response = Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n".utf8)
        let client = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                                      + "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
        #expect(client.responses().map(\.status) == [502])
        #expect(upstream.allRequests == ["GET /api/x HTTP/1.1\r\nHost: h\r\n" + Self.added])
        #expect(network.serverStatistics.proxyTunnels == 0)
    }

    /// Without `Connection: upgrade` (or with a body) the Upgrade is not asked
    /// for, and a 101 from the upstream is a broken answer (502).
    @Test func upgradeNotAskedForIsNeverTunnelled() throws {
        var network = network()
        let upstream = network.startUpstream()
        upstream.response = Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\r\n".utf8)
        let client = network.exchange("GET /api/ws HTTP/1.1\r\nHost: h\r\nUpgrade: echo\r\n\r\n")
        #expect(client.responses().map(\.status) == [502])
        #expect(upstream.allRequests == ["GET /api/ws HTTP/1.1\r\nHost: h\r\n" + Self.added])
        #expect(network.serverStatistics.proxyTunnels == 0)
    }
}
