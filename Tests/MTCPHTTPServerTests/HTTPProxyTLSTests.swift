import COpenSSL
import Testing
@testable import MTCP
import MTCPHTTP
@testable import MTCPHTTPServer
@testable import MTCPTLS

/// The proxy to an HTTPS pool on the virtual link: the scripted upstream
/// speaks TLS with a certificate of a test authority (naming `upstream.test`
/// and its address); the proxy verifies it, reuses and resumes its connections.
@Suite struct HTTPProxyTLSTests {
    let root = DocumentRoot()

    /// The proxy's options with `/api/` going to an HTTPS pool that trusts
    /// `authority` and checks `serverName` (nil: the upstream's address).
    func options(serverName: String? = TestCertificateAuthority.name,
                 authority: String = TestCertificateAuthority.files.authority) -> HTTPServerOptions {
        var options = HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path))
        var settings = TLSClientSettings()
        settings.caFilePath = authority
        options.pools[0].tls = UpstreamTLSOptions(settings: settings, serverName: serverName)
        return options
    }

    /// An upstream that answers in TLS with the test authority's certificate.
    static func startHTTPSUpstream(_ network: inout HTTPTestNetwork) throws -> ScriptedUpstream {
        let files = TestCertificateAuthority.files
        let upstream = network.startUpstream()
        try upstream.serveTLS(certificate: files.certificate, key: files.key)
        return upstream
    }

    static func counter(_ network: borrowing HTTPTestNetwork, _ name: String) -> UInt64? {
        network.http.counters().first { $0.name == name }?.value
    }

    @Test func getAndPostGoThroughByteExactOnOneKeptAliveConnection() throws {
        var network = HTTPTestNetwork(options: options())
        let upstream = try Self.startHTTPSUpstream(&network)
        let body = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }
        upstream.response = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
        let get = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n", limit: .seconds(10))
        let got = get.responses()
        try #require(got.count == 1)
        #expect(got[0].status == 200)
        #expect(got[0].body == body)

        let upload = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let post = network.exchange(Array("POST /api/up HTTP/1.1\r\nHost: h\r\nContent-Length: \(upload.count)\r\n\r\n".utf8)
                                        + upload, limit: .seconds(10))
        #expect(post.responses().map(\.status) == [200])
        let chunked = network.exchange("POST /api/c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                                           + "5\r\nhello\r\n0\r\n\r\n")
        #expect(chunked.responses().map(\.status) == [200])

        #expect(upstream.connections.count == 1, "the parked TLS connection is reused")
        let requests = try #require(upstream.connections.first).requests
        try #require(requests.count == 3)
        #expect(String(decoding: requests[0], as: UTF8.self)
            == "GET /api/x HTTP/1.1\r\nHost: h\r\n" + HTTPProxyTests.added)
        let postHead = "POST /api/up HTTP/1.1\r\nHost: h\r\nContent-Length: \(upload.count)\r\n" + HTTPProxyTests.added
        #expect(requests[1] == Array(postHead.utf8) + upload)
        #expect(String(decoding: requests[2], as: UTF8.self) == "POST /api/c HTTP/1.1\r\nHost: h\r\n"
            + "Transfer-Encoding: chunked\r\n" + HTTPProxyTests.added + "5\r\nhello\r\n0\r\n\r\n")
        #expect(network.serverStatistics.upstreamTLSHandshakes == 1)
        #expect(network.serverStatistics.upstreamTLSFailures == 0)

        // Idle past `UpstreamPools.idleTimeout`, the parked connection closes with a close_notify.
        network.advance(.seconds(6))
        #expect(upstream.connections[0].tls?.sawCloseNotify == true)
        #expect(upstream.connections[0].closed)
    }

    /// A large chunked upload: the proxy's chunks (each with its framing one
    /// record) fill the upstream's send buffer again and again.
    @Test(arguments: [1_000, 40_000])
    func aLargeChunkedUploadGoesThroughByteExact(chunkSize: Int) throws {
        var network = HTTPTestNetwork(options: options())
        let upstream = try Self.startHTTPSUpstream(&network)
        let upload = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        var body: [UInt8] = []
        for start in stride(from: 0, to: upload.count, by: chunkSize) {
            let chunk = upload[start..<min(start + chunkSize, upload.count)]
            body += Array(String(chunk.count, radix: 16).utf8) + [13, 10] + chunk + [13, 10]
        }
        body += Array("0\r\n\r\n".utf8)
        let post = network.exchange(Array("POST /api/up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
                                        + body, limit: .seconds(30))
        #expect(post.responses().map(\.status) == [200])
        #expect(network.serverStatistics.upstreamTLSFailures == 0)
        let request = try #require(upstream.connections.first?.requests.first)
        var decoder = HTTPChunkedDecoder()
        let head = request.firstRange(of: Array("\r\n\r\n".utf8))!.upperBound
        var decoded: [UInt8] = []
        var position = head
        while !decoder.isComplete {
            let output = try request[position...].withUnsafeBytes { try decoder.decode($0) }
            decoded += request[position...].withUnsafeBytes { Array(output.data.bytes(in: $0)) }
            position += output.consumed
        }
        #expect(decoded == upload)
    }

    @Test func withoutServerNameTheAddressIsChecked() throws {
        var network = HTTPTestNetwork(options: options(serverName: nil))
        _ = try Self.startHTTPSUpstream(&network)
        let client = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(client.responses().map(\.status) == [200])
        #expect(network.serverStatistics.upstreamTLSFailures == 0)
    }

    /// A certificate that names another server, or chains to an authority not
    /// trusted, fails the connect: 502 (no other server to retry on), counted
    /// per core, per server, and as the server's connect failure.
    @Test(arguments: [(TestCertificateAuthority.name.replacingFirst("upstream", "other"), TestCertificateAuthority.files.authority),
                      (TestCertificateAuthority.name, TestCertificate.files.certificate)])
    func aRefusedCertificateGets502AndIsCounted(serverName: String, authority: String) throws {
        var network = HTTPTestNetwork(options: options(serverName: serverName, authority: authority))
        let upstream = try Self.startHTTPSUpstream(&network)
        let client = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(client.responses().map(\.status) == [502])
        #expect(upstream.allRequests.isEmpty)
        #expect(network.serverStatistics.upstreamTLSFailures == 1)
        #expect(network.serverStatistics.upstreamTLSHandshakes == 0)
        #expect(Self.counter(network, "http_upstream_server_tls_failures") == 1)
        #expect(Self.counter(network, "http_upstream_connect_failures") == 1)
    }

    /// A retryable request goes on to the next server when the first one's certificate is refused.
    @Test func aGetIsRetriedOnAServerWhoseCertificatePasses() throws {
        var options = options()
        options.pools[0].servers = [ProxyServer(address: HTTPTestNetwork.clientIP, port: 8081),
                                    ProxyServer(address: HTTPTestNetwork.clientIP, port: ScriptedUpstream.port)]
        var network = HTTPTestNetwork(options: options)
        // The first server's certificate is self-signed: not of the trusted authority.
        let untrusted = network.startUpstream(port: 8081)
        try untrusted.serveTLS(certificate: TestCertificate.files.certificate, key: TestCertificate.files.key)
        let upstream = try Self.startHTTPSUpstream(&network)
        let client = network.exchange("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(client.responses().map(\.status) == [200])
        #expect(untrusted.allRequests.isEmpty)
        #expect(upstream.allRequests.count == 1)
        #expect(network.serverStatistics.proxyRetries == 1)
        #expect(network.serverStatistics.upstreamTLSFailures == 1)
    }

    /// Health checks of an HTTPS pool run over TLS too: one to a server whose
    /// certificate is refused fails, and takes the server out.
    @Test func healthChecksRunOverTLS() throws {
        var options = options()
        options.pools[0].servers = [ProxyServer(address: HTTPTestNetwork.clientIP, port: ScriptedUpstream.port),
                                    ProxyServer(address: HTTPTestNetwork.clientIP, port: 8081)]
        options.pools[0].healthCheck = UpstreamHealthCheck(path: "/health", interval: .seconds(1), rise: 2, fall: 2)
        var network = HTTPTestNetwork(options: options)
        let upstream = try Self.startHTTPSUpstream(&network)
        let untrusted = network.startUpstream(port: 8081)
        try untrusted.serveTLS(certificate: TestCertificate.files.certificate, key: TestCertificate.files.key)
        network.advance(.milliseconds(3500))
        #expect(upstream.allRequests.contains { $0.hasPrefix("GET /health HTTP/1.1\r\n") })
        #expect(untrusted.allRequests.isEmpty)
        let up = network.http.counters().filter { $0.name == "http_upstream_up" }.map(\.value)
        #expect(up == [1, 0])
        #expect(network.serverStatistics.upstreamTLSFailures >= 2)
    }

    @Test(arguments: [TestCertificateAuthority.name, nil])
    func theSecondConnectionResumesTheFirstOnesSession(serverName: String?) throws {
        var network = HTTPTestNetwork(options: options(serverName: serverName))
        let upstream = try Self.startHTTPSUpstream(&network)
        upstream.closesAfterResponse = true
        for path in ["/api/a", "/api/b"] {
            let client = network.exchange("GET \(path) HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(client.responses().map(\.status) == [200])
            network.advance(.milliseconds(50))
        }
        try #require(upstream.connections.count == 2)
        #expect(upstream.connections[0].tls?.isResumed == false)
        #expect(upstream.connections[1].tls?.isResumed == true)
        #expect(network.serverStatistics.upstreamTLSHandshakes == 2)
        #expect(network.serverStatistics.upstreamTLSResumed == 1)
    }

    @Test func anUpgradeIsTunnelledOverTLS() throws {
        var network = HTTPTestNetwork(options: options())
        let upstream = try Self.startHTTPSUpstream(&network)
        upstream.response = Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\nhi ".utf8)
        upstream.echoesAfterFirstRequest = true
        let client = network.open(sending: Array(
            "GET /api/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly ".utf8))
        network.run { String(decoding: client.received, as: UTF8.self).hasSuffix("early ") }
        #expect(String(decoding: client.received, as: UTF8.self).hasPrefix("HTTP/1.1 101 "))
        client.send(String(repeating: "x", count: 60_000))
        client.shutdownAfterSending = true
        network.run(for: .seconds(5)) { client.closed }
        let switched = String(decoding: client.received, as: UTF8.self)
        #expect(switched.hasSuffix("hi early " + String(repeating: "x", count: 60_000)), "\(client.received.count)")
        #expect(client.closedCleanly)
        #expect(network.serverStatistics.proxyTunnels == 1)
    }
}
