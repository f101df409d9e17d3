import COpenSSL
import Testing
@testable import MTCP
import MTCPHTTP
@testable import MTCPHTTPServer
@testable import MTCPTLS

/// HTTPS on the virtual link: handshakes (TLS 1.2 and 1.3), requests and large
/// files through the TLS stream, resumption by ticket, ALPN, and clients that
/// send garbage or stall their handshake.
@Suite struct HTTPSServerTests {
    static let httpsPort: UInt16 = 443

    static func options(root: String, tickets: Bool = true) -> HTTPServerOptions {
        var options = HTTPTestNetwork.options(root: root)
        let files = TestCertificate.files
        var settings = TLSServerSettings(certificatePath: files.certificate, privateKeyPath: files.key,
                                         ticketKeys: TicketKeyRing())
        settings.sessionTickets = tickets
        options.https = HTTPSOptions(port: httpsPort, settings: settings, handshakeTimeout: .seconds(2))
        return options
    }

    /// Opens a TLS connection that sends `request` once the handshake is done,
    /// and runs until `responses` responses arrived or the connection ended.
    static func exchange(_ network: inout HTTPTestNetwork, _ tls: TLSTestPeer, _ request: String,
                         responses: Int = 1, limit: TimeSpan = .seconds(5)) -> HTTPTestClient {
        let connection = network.open(port: httpsPort)
        tls.send(request)
        network.run(for: limit) {
            tls.pump(connection)
            return connection.closed || tls.failure != nil
                || HTTPTestResponse.parseAll(tls.plaintext).responses.count >= responses
        }
        return connection
    }

    /// `tls` sends `request` for /small.txt and must get it whole with 200.
    static func getSmallFile(_ tls: TLSTestPeer, _ request: String) throws -> HTTPTestNetwork {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: Self.options(root: root.path))
        _ = Self.exchange(&network, tls, request)
        let responses = HTTPTestResponse.parseAll(tls.plaintext).responses
        try #require(responses.count == 1, "failure: \(tls.failure ?? "none"), \(tls.plaintext.count) bytes")
        #expect(responses[0].status == 200)
        #expect(responses[0].body == root.small)
        return network
    }

    @Test(arguments: [TLS1_2_VERSION, TLS1_3_VERSION])
    func getOverTLS(version: Int32) throws {
        let tls = TLSTestPeer(maxVersion: version)
        let network = try Self.getSmallFile(tls, "GET /small.txt HTTP/1.1\r\nHost: test\r\n\r\n")
        #expect(tls.protocolVersion == (version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2"))
        #expect(Self.selectedProtocol(tls) == "http/1.1")
        #expect(network.serverStatistics.tlsHandshakes == 1)
        #expect(network.serverStatistics.tlsHandshakeFailures == 0)
    }

    @Test func largeFilesAndKeepAliveOverTLS() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: Self.options(root: root.path))
        let tls = TLSTestPeer()
        let request = "GET /big.bin HTTP/1.1\r\nHost: test\r\n\r\nGET /medium.bin HTTP/1.1\r\nHost: test\r\n\r\n"
            + "GET /page.html HTTP/1.1\r\nHost: test\r\n\r\n"
        let connection = Self.exchange(&network, tls, request, responses: 3, limit: .seconds(30))
        let responses = HTTPTestResponse.parseAll(tls.plaintext).responses
        try #require(responses.count == 3, "failure: \(tls.failure ?? "none"), \(tls.plaintext.count) bytes")
        #expect(responses[0].body == root.big)
        #expect(responses[1].body == root.medium)
        #expect(responses[2].body == root.page)
        #expect(!connection.closed)
        #expect(network.serverStatistics.tlsHandshakes == 1)
    }

    @Test func connectionCloseSendsCloseNotify() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: Self.options(root: root.path))
        let tls = TLSTestPeer()
        let connection = network.open(port: Self.httpsPort)
        tls.send("GET /small.txt HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        network.run {
            tls.pump(connection)
            return connection.sawEndOfStream
        }
        tls.pump(connection)
        #expect(HTTPTestResponse.parseAll(tls.plaintext).responses.first?.body == root.small)
        #expect(tls.sawCloseNotify, "the server's close_notify comes before its FIN")
        #expect(connection.closedCleanly)
    }

    @Test(arguments: [TLS1_2_VERSION, TLS1_3_VERSION])
    func ticketsResumeSessions(version: Int32) throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: Self.options(root: root.path))
        let first = TLSTestPeer(maxVersion: version)
        _ = Self.exchange(&network, first, "GET /small.txt HTTP/1.1\r\nHost: test\r\n\r\n")
        let session = try #require(first.session())
        defer { SSL_SESSION_free(session) }
        let second = TLSTestPeer(maxVersion: version, session: session)
        _ = Self.exchange(&network, second, "GET /page.html HTTP/1.1\r\nHost: test\r\n\r\n")
        #expect(HTTPTestResponse.parseAll(second.plaintext).responses.first?.body == root.page)
        #expect(second.isResumed)
        #expect(network.serverStatistics.tlsHandshakes == 2)
        #expect(network.serverStatistics.tlsResumed == 1)
    }

    /// After one rotation a ticket still resumes (and is reissued under the new
    /// key); after two it does not: a ticket key lives two intervals at most.
    @Test func ticketsOutliveOneKeyRotationButNotTwo() throws {
        let root = DocumentRoot()
        let options = Self.options(root: root.path)
        var network = HTTPTestNetwork(options: options)
        let first = TLSTestPeer()
        _ = Self.exchange(&network, first, "GET /small.txt HTTP/1.1\r\nHost: test\r\n\r\n")
        let session = try #require(first.session())
        defer { SSL_SESSION_free(session) }
        let keys = try #require(options.https?.settings.ticketKeys)
        keys.rotate()
        let second = TLSTestPeer(session: session)
        _ = Self.exchange(&network, second, "GET /small.txt HTTP/1.1\r\nHost: test\r\n\r\n")
        #expect(second.isResumed, "the previous key still opens the ticket")
        keys.rotate()
        let third = TLSTestPeer(session: session)
        _ = Self.exchange(&network, third, "GET /small.txt HTTP/1.1\r\nHost: test\r\n\r\n")
        #expect(!third.isResumed, "two rotations later the ticket's key is gone")
        #expect(HTTPTestResponse.parseAll(third.plaintext).responses.count == 1, "served after a full handshake")
    }

    @Test func keysRotateOnceAnIntervalHasPassed() {
        let ring = TicketKeyRing(interval: .seconds(10))
        ring.rotateIfDue(now: Instant.zero + .seconds(5))  // the first look starts the interval
        ring.rotateIfDue(now: Instant.zero + .seconds(14))
        #expect(ring.keys.pointee.has_previous == 0, "not rotated yet")
        ring.rotateIfDue(now: Instant.zero + .seconds(15))
        #expect(ring.keys.pointee.has_previous == 1, "rotated")
    }

    @Test func withoutTicketsNothingResumes() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: Self.options(root: root.path, tickets: false))
        let first = TLSTestPeer()
        _ = Self.exchange(&network, first, "GET /small.txt HTTP/1.1\r\nHost: test\r\n\r\n")
        let session = first.session()
        defer { if let session { SSL_SESSION_free(session) } }
        // Not even a TLS 1.3 stateful ticket, which could never resume with no session cache.
        #expect(session.map { SSL_SESSION_is_resumable($0) } != 1, "a ticket was sent")
        let second = TLSTestPeer(session: session)
        _ = Self.exchange(&network, second, "GET /small.txt HTTP/1.1\r\nHost: test\r\n\r\n")
        #expect(HTTPTestResponse.parseAll(second.plaintext).responses.count == 1)
        #expect(!second.isResumed)
        #expect(network.serverStatistics.tlsResumed == 0)
    }

    /// RFC 7301 §3.2: the server selects among what the client offered; an
    /// HTTP/1.0 client (curl --http1.0) offers only http/1.0, which we speak.
    @Test(arguments: [(["http/1.0"], "http/1.0"), (["h2", "http/1.0"], "http/1.0"),
                      (["http/1.0", "http/1.1"], "http/1.1")])
    func aClientOfferingHTTP10IsServed(offer: [String], expected: String) throws {
        let tls = TLSTestPeer(alpn: offer)
        _ = try Self.getSmallFile(tls, "GET /small.txt HTTP/1.0\r\n\r\n")
        #expect(Self.selectedProtocol(tls) == expected)
    }

    static func selectedProtocol(_ tls: TLSTestPeer) -> String? {
        var selected: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(tls.ssl, &selected, &length)
        return selected.map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(length)), as: UTF8.self) }
    }

    @Test func aClientOfferingOnlyH2IsRefused() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: Self.options(root: root.path))
        let tls = TLSTestPeer(alpn: ["h2"])
        _ = Self.exchange(&network, tls, "GET /small.txt HTTP/1.1\r\nHost: test\r\n\r\n")
        #expect(tls.failure != nil, "no_application_protocol alert expected")
        #expect(tls.plaintext.isEmpty)
        #expect(network.serverStatistics.tlsHandshakeFailures == 1)
    }

    @Test func plainHTTPToTheTLSPortIsAnswered400() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: Self.options(root: root.path))
        let connection = network.open(sending: Array("GET / HTTP/1.1\r\nHost: test\r\n\r\n".utf8), port: Self.httpsPort)
        network.run { connection.closed }
        #expect(connection.responses().first?.status == 400)
        #expect(connection.closedCleanly)
        #expect(network.serverStatistics.tlsHandshakeFailures == 1)
        #expect(network.serverStatistics.responses4xx == 1)
    }

    @Test(arguments: ["\u{16}\u{03}\u{01}\u{7F}\u{FF}garbage-garbage-garbage", String(repeating: "\u{01}", count: 300),
                      "\u{16}\u{03}\u{03}\u{00}\u{05}\u{02}\u{00}\u{00}\u{01}\u{00}"])
    func garbageInsteadOfAHelloIsCountedAndClosed(bytes: String) throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: Self.options(root: root.path))
        let connection = network.open(sending: Array(bytes.utf8), port: Self.httpsPort)
        network.run { connection.closed }
        #expect(connection.closed)
        #expect(network.serverStatistics.tlsHandshakeFailures == 1)
        #expect(network.serverStatistics.requests == 0)
        // The server goes on serving.
        let tls = TLSTestPeer()
        _ = Self.exchange(&network, tls, "GET /small.txt HTTP/1.1\r\nHost: test\r\n\r\n")
        #expect(HTTPTestResponse.parseAll(tls.plaintext).responses.first?.status == 200)
    }

    @Test func aStalledHandshakeIsClosedAfterTheTimeout() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: Self.options(root: root.path))
        // The first 20 bytes of a hello, then silence.
        let connection = network.open(sending: [0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xFC, 0x03, 0x03]
                                      + [UInt8](repeating: 7, count: 9), port: Self.httpsPort)
        network.advance(.seconds(1))
        #expect(!connection.closed, "well within the 2 s handshake timeout")
        network.run(for: .seconds(3)) { connection.closed }
        #expect(connection.closed)
        #expect(network.serverStatistics.tlsHandshakeTimeouts == 1)
        #expect(network.server.socketCount == 2, "only the two listeners are left")
    }

    @Test func plainHTTPStillServedBesideHTTPS() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: Self.options(root: root.path))
        let connection = network.exchange("GET /small.txt HTTP/1.1\r\nHost: test\r\n\r\n")
        #expect(connection.responses().first?.body == root.small)
        #expect(network.serverStatistics.tlsHandshakes == 0)
    }
}
