import Testing
@testable import MTCP
import MTCPHTTP
@testable import MTCPHTTPServer
import MTCPTLS

/// What an HTTPS upstream says besides its responses, and what the proxy may
/// conclude from it (issue 24): an end of stream without close_notify, bytes
/// past a response that only OpenSSL holds, records for TLS alone (tickets,
/// KeyUpdate), and connections that outlive a reload changing the pool's `tls`.
extension HTTPProxyTLSTests {
    static let closeDelimited = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"

    /// A close-delimited body ended by the server's close_notify is complete:
    /// the client gets it and a clean close.
    @Test func aCloseDelimitedBodyEndedByCloseNotifyIsRelayed() throws {
        var network = HTTPTestNetwork(options: options())
        let upstream = try Self.startHTTPSUpstream(&network)
        upstream.response = Array((Self.closeDelimited + "all of it").utf8)
        upstream.closesAfterResponse = true
        let client = network.open(sending: Array("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        network.run { client.closed }
        #expect(client.closedCleanly)
        #expect(String(decoding: client.received, as: UTF8.self).hasSuffix("\r\n\r\nall of it"))
        #expect(network.serverStatistics.upstreamTLSTruncations == 0)
    }

    /// The same body ended by a bare FIN (forged on the path, or a server that
    /// crashed) may be cut short: the client is reset, never shown a complete
    /// response, and the truncation is counted.
    @Test func aCloseDelimitedBodyEndedWithoutCloseNotifyResetsTheClient() throws {
        var network = HTTPTestNetwork(options: options())
        let upstream = try Self.startHTTPSUpstream(&network)
        upstream.response = Array((Self.closeDelimited + "part of it").utf8)
        upstream.closesAfterResponse = true
        upstream.omitsCloseNotify = true
        let client = network.open(sending: Array("GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        network.run { client.closed }
        #expect(client.error == .connectionReset, "reset, not a clean end after the body")
        #expect(!client.sawEndOfStream)
        #expect(network.serverStatistics.upstreamTLSTruncations == 1)
        #expect(Self.counter(network, "http_upstream_tls_truncations") == 1)
    }

    /// A tunnel's upstream direction ended without close_notify is not passed
    /// on as a clean end: the client is reset.
    @Test func aTunnelEndedWithoutCloseNotifyResetsTheClient() throws {
        var network = HTTPTestNetwork(options: options())
        let upstream = try Self.startHTTPSUpstream(&network)
        upstream.response = Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\nhi ".utf8)
        upstream.echoesAfterFirstRequest = true
        upstream.omitsCloseNotify = true
        let client = network.open(sending: Array(
            "GET /api/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly ".utf8))
        network.run { String(decoding: client.received, as: UTF8.self).hasSuffix("early ") }
        client.shutdownAfterSending = true
        network.run(for: .seconds(5)) { client.closed }
        #expect(client.error == .connectionReset)
        #expect(network.serverStatistics.upstreamTLSTruncations == 1)
    }

    /// Bytes a server sends past its response in a record of their own are
    /// read into OpenSSL with the response (the socket holds nothing more):
    /// the connection is not parked, and the next request never gets them
    /// for its answer.
    @Test func bytesPastAResponseInsideTLSKeepTheConnectionFromReuse() throws {
        var network = HTTPTestNetwork(options: options())
        let upstream = try Self.startHTTPSUpstream(&network)
        upstream.recordAfterResponse = Array("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged".utf8)
        let first = network.exchange("GET /api/a HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(first.responses().map(\.bodyText) == ["ok"])
        let second = network.exchange("GET /api/b HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(second.responses().map(\.bodyText) == ["ok"], "not the bytes past the first response")
        #expect(upstream.connections.count == 2)
        #expect(upstream.connections.first?.closed == true)
    }

    /// The first bytes of a record past a response (a server starting to say
    /// something, a 408 before its close): the rest would arrive after the
    /// next request went out and be parsed as its answer. Parked, it is not
    /// reused.
    @Test func aRecordUnderWayKeepsAParkedConnectionFromReuse() throws {
        var network = HTTPTestNetwork(options: options())
        let upstream = try Self.startHTTPSUpstream(&network)
        upstream.recordAfterResponse = Array("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n".utf8)
        upstream.cutsRecordAfterResponse = true
        #expect(network.exchange("GET /api/a HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.bodyText) == ["ok"])
        upstream.recordAfterResponse = nil
        #expect(network.exchange("GET /api/b HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.bodyText) == ["ok"])
        #expect(upstream.connections.count == 2)
    }

    /// Records for TLS alone that reach a parked connection (a late session
    /// ticket, a KeyUpdate) leave it parked and reusable; its server's
    /// close_notify closes it cleanly, answered with ours.
    @Test func aParkedConnectionTakesTicketsAndKeyUpdatesAndClosesCleanly() throws {
        var network = HTTPTestNetwork(options: options())
        let upstream = try Self.startHTTPSUpstream(&network)
        #expect(network.exchange("GET /api/a HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.status) == [200])
        let tls = try #require(upstream.connections.first?.tls)
        tls.issueTicket()
        network.advance(.milliseconds(50))
        tls.updateKeys()
        network.advance(.milliseconds(50))
        #expect(network.exchange("GET /api/b HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.bodyText) == ["ok"])
        #expect(upstream.connections.count == 1, "the parked connection was reused")

        tls.closeNotify()
        network.advance(.milliseconds(50))
        #expect(tls.sawCloseNotify, "closed with close_notify, not reset")
        #expect(upstream.connections[0].closed)
        #expect(network.serverStatistics.upstreamTLSFailures == 0)
    }

    /// KeyUpdates (asking the proxy to update its keys too) during a large
    /// upload: OpenSSL's answer that found no room waits inside the stream
    /// and goes out ahead of the next body bytes, in room `sendRoom` once
    /// promised to them too; the write came out short, taken for a failed
    /// upstream (502). The body now goes through whole.
    @Test func aKeyUpdateDuringALargeUploadLosesNothing() throws {
        var network = HTTPTestNetwork(options: options())
        let upstream = try Self.startHTTPSUpstream(&network)
        let upload = DocumentRoot.bytes(1_000_000, seed: 11)
        let head = "POST /api/up HTTP/1.1\r\nHost: h\r\nContent-Length: \(upload.count)\r\n\r\n"
        let client = network.open(sending: Array(head.utf8) + upload)
        // The upstream reads one round in three: slower than the client, so
        // the proxy's writes to it fill what room there is. A KeyUpdate every
        // round (those that come together are answered once).
        var round = 0
        while client.responses().isEmpty && !client.closed && round < 20_000 {
            upstream.reads = round % 3 == 0
            if let tls = upstream.connections.first?.tls, tls.isEstablished { tls.updateKeys() }
            network.round()
            round += 1
        }
        upstream.reads = true
        network.run(for: .seconds(30)) { client.responses().count == 1 || client.closed }
        #expect(client.responses().map(\.status) == [200])
        #expect(network.serverStatistics.upstreamTLSFailures == 0)
        let request = try #require(upstream.connections.first?.requests.first)
        #expect(request == Array((head.replacingFirst("\r\n\r\n", "\r\n" + HTTPProxyTests.added)).utf8) + upload)
    }

    // MARK: reloads that change `tls`

    /// Reloads `network`'s server, its options changed by `change`, while
    /// `upstream` holds a GET, which it then answers. Returns the statuses
    /// the client got.
    static func reload(_ network: inout HTTPTestNetwork, during upstream: ScriptedUpstream,
                       _ change: (inout HTTPServerOptions) -> Void = { _ in }) throws -> [Int] {
        upstream.holdsAnswers = true
        let client = network.open(sending: Array("GET /api/a HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        network.run { upstream.held.count == 1 }
        change(&network.http.options)
        try network.http.reload(&network.server)
        upstream.answerNext()
        upstream.holdsAnswers = false
        network.run { client.responses().count == 1 }
        return client.responses().map(\.status)
    }

    /// A plain connection in flight while a reload makes its pool HTTPS
    /// finishes its request, then closes: it is not parked for the HTTPS pool
    /// (whose next request must not go in the clear).
    @Test func aPlainConnectionIsNotParkedIntoAPoolNowHTTPS() throws {
        var network = HTTPTestNetwork(options: HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path)))
        let upstream = network.startUpstream()
        let https = options().pools[0].tls
        #expect(try Self.reload(&network, during: upstream) { $0.pools[0].tls = https } == [200])
        network.advance(.milliseconds(50))
        #expect(upstream.connections[0].closed, "not parked for the HTTPS pool")
        // The next request waits for a TLS handshake the plain server never
        // answers (504 after the connect timeout): it is not sent in the clear.
        #expect(network.exchange("GET /api/b HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.status) == [504])
        #expect(upstream.allRequests.count == 1)
    }

    /// An HTTPS connection in flight through a reload that changes the pool's
    /// `tls` (here the name the certificate must carry) is not parked, and its
    /// session is not kept for the new settings: the next connection makes a
    /// full handshake, verified under them.
    @Test func aConnectionVerifiedUnderOldSettingsIsNeitherParkedNorResumed() throws {
        var network = HTTPTestNetwork(options: options())
        let upstream = try Self.startHTTPSUpstream(&network)
        let byAddress = options(serverName: nil).pools[0].tls
        #expect(try Self.reload(&network, during: upstream) { $0.pools[0].tls = byAddress } == [200])
        network.advance(.milliseconds(50))
        #expect(upstream.connections[0].closed, "not parked for the new settings")
        #expect(network.exchange("GET /api/b HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.status) == [200])
        try #require(upstream.connections.count == 2)
        #expect(upstream.connections[1].tls?.isResumed == false)
    }

    /// The same for a reload with the same settings: the pool's context is
    /// made anew (its CA file may have changed at the same path: a rotated
    /// authority), and a connection or a session goes only with the context
    /// it was made under.
    @Test func aConnectionOrSessionIsNotKeptAcrossAReloadOfTheSameSettings() throws {
        var network = HTTPTestNetwork(options: options())
        let upstream = try Self.startHTTPSUpstream(&network)
        #expect(try Self.reload(&network, during: upstream) == [200])
        network.advance(.milliseconds(50))
        #expect(upstream.connections[0].closed, "not parked under the new context")
        #expect(network.exchange("GET /api/b HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.status) == [200])
        try #require(upstream.connections.count == 2)
        #expect(upstream.connections[1].tls?.isResumed == false)
        #expect(network.serverStatistics.upstreamTLSResumed == 0)
    }

    /// A connection parked before a reload of the same settings is not reused
    /// after it: it was verified under the CA file of then.
    @Test func aConnectionParkedBeforeAReloadIsNotReusedAfterIt() throws {
        var network = HTTPTestNetwork(options: options())
        let upstream = try Self.startHTTPSUpstream(&network)
        #expect(network.exchange("GET /api/a HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.status) == [200])
        try network.http.reload(&network.server)
        #expect(network.exchange("GET /api/b HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.status) == [200])
        #expect(upstream.connections.count == 2)
    }
}
