import Testing
@testable import MTCP
import MTCPHTTP
@testable import MTCPHTTPServer

/// Timeouts (on explicit time: the server's once-a-second sweep reads the
/// context's `now`), flow control toward slow readers, and clients that stop.
/// The options of these tests: header timeout 3 s, idle timeout 8 s.
@Suite struct HTTPServerTimingTests {
    static let tick = TimeSpan.milliseconds(10)

    @Test func partialHeadGets408ThenClose() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.open(sending: Array("GET /small.txt HTTP/1.1\r\nHost: t\r\n".utf8))
        network.advance(.milliseconds(2500), tick: Self.tick)
        #expect(connection.received.isEmpty, "nothing before the header timeout")
        #expect(!connection.closed)
        network.run(for: .seconds(3), tick: Self.tick) { connection.closed }
        let responses = connection.responses()
        try #require(responses.count == 1, "\(connection.received.count) bytes")
        #expect(responses[0].status == 408)
        #expect(responses[0].field("connection")?.lowercased() == "close")
        #expect(connection.closedCleanly, "a FIN after the 408: \(String(describing: connection.error))")
        #expect(network.link.now < Instant.zero + .seconds(5), "408 within a sweep of the timeout: \(network.link.now)")
        let statistics = network.serverStatistics
        #expect(statistics.headerTimeouts == 1)
        #expect(statistics.responses4xx == 1)
    }

    /// Sending a byte now and then does not extend the header timeout: it runs
    /// from the request's first byte (slowloris).
    @Test func tricklingHeadStillTimesOut() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.open(sending: Array("GET /small.txt HTTP/1.1\r\n".utf8))
        for _ in 0..<12 where !connection.closed {
            connection.send("X")
            network.advance(.milliseconds(500), tick: Self.tick)
        }
        let responses = connection.responses()
        try #require(responses.count == 1)
        #expect(responses[0].status == 408)
        #expect(connection.closed)
    }

    /// The second request of a pipelined pair arrives incomplete: the first is
    /// answered at once, the second times out.
    @Test func incompleteSecondRequestTimesOut() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.open(sending: Array("GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /page.html HTTP/1.1\r\n".utf8))
        network.advance(.milliseconds(100), tick: Self.tick)
        #expect(connection.responses().map(\.status) == [200])
        network.run(for: .seconds(6), tick: Self.tick) { connection.closed }
        #expect(connection.responses().map(\.status) == [200, 408])
        #expect(connection.closed)
    }

    @Test func idleKeptAliveConnectionIsClosedAfterTheIdleTimeout() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.exchange("GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        try #require(connection.responses().count == 1)
        let answered = connection.received.count
        // Past the header timeout: an idle connection between requests gets no 408.
        network.advance(.seconds(7), tick: Self.tick)
        #expect(!connection.closed, "open before the idle timeout")
        #expect(connection.received.count == answered, "nothing sent while idle")
        network.run(for: .seconds(3), tick: Self.tick) { connection.closed }
        #expect(connection.closedCleanly, "closed with a FIN: \(String(describing: connection.error))")
        #expect(connection.received.count == answered, "no response on an idle close")
        let statistics = network.serverStatistics
        #expect(statistics.idleTimeouts == 1)
        #expect(statistics.headerTimeouts == 0)
    }

    /// Each request starts the idle period again.
    @Test func requestsKeepTheConnectionAlive() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.open()
        for index in 0..<4 {
            connection.send("GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            network.advance(.seconds(6), tick: Self.tick)
            #expect(connection.responses().count == index + 1)
            #expect(!connection.closed, "after \(index + 1) requests, 6 s apart")
        }
    }

    /// A request with a body the server skips (405) leaves the connection idle,
    /// not in the middle of a request: it must not time out as a slow head (408)
    /// before the idle timeout.
    @Test func skippedBodyLeavesTheConnectionIdle() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.exchange("POST /small.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        try #require(connection.responses().map(\.status) == [405])
        network.advance(.seconds(6), tick: Self.tick)
        #expect(connection.responses().map(\.status) == [405], "no 408 for a connection between requests")
        #expect(!connection.closed)
        let headerTimeouts = network.serverStatistics.headerTimeouts
        #expect(headerTimeouts == 0)
        connection.send("GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        network.advance(.milliseconds(100), tick: Self.tick)
        #expect(connection.responses().map(\.status) == [405, 200])
    }

    // MARK: Flow control

    /// A client with a small receive window that reads a little at a time gets
    /// every byte of a streamed file and of a cached one; the server waits for room.
    @Test(arguments: ["/big.bin", "/medium.bin"])
    func slowReaderWithASmallWindowGetsEveryByte(path: String) throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path),
                                      server: HTTPTestNetwork.tcp(sendBufferSize: 4096),
                                      client: HTTPTestNetwork.tcp(receiveBufferSize: 2048))
        let connection = network.open(sending: Array("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n".utf8),
                                      readLimit: 500)
        network.run(for: .seconds(60)) { connection.responses().count == 2 }
        let responses = connection.responses()
        try #require(responses.count == 2, "\(connection.received.count) bytes")
        let expected = path == "/big.bin" ? root.big : root.medium
        #expect(responses[0].body.count == expected.count)
        #expect(responses[0].body == expected)
        #expect(responses[1].body == root.small)
        #expect(!connection.closed)
        #expect(network.client.tcpStatistics.retransmittedSegments == 0)
    }

    /// A client that half-closes after its request still gets the whole response,
    /// then the server closes.
    @Test func halfClosedClientGetsTheWholeResponse() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.open(sending: Array("GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
        connection.shutdownAfterSending = true
        network.run(for: .seconds(20)) { connection.closed }
        let responses = connection.responses()
        try #require(responses.count == 1)
        #expect(responses[0].body == root.big)
        #expect(connection.closedCleanly)
    }

    /// A client that stops reading in the middle of a large file does not hold up
    /// the others; once idle for the idle timeout, it is reset.
    @Test func stalledReaderDoesNotBlockOthers() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let stalled = network.open(sending: Array("GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n".utf8), readLimit: 0)
        network.advance(.milliseconds(500), tick: Self.tick)
        let stalledID = try #require(stalled.id)
        let buffered = network.client.readableBytes(stalledID)
        #expect(buffered > 0 && buffered < root.big.count, "the stalled client's window is full: \(buffered)")
        for round in 0..<3 {
            let other = network.exchange("GET /medium.bin HTTP/1.1\r\nHost: t\r\n\r\n", limit: .seconds(1))
            #expect(other.responses().first?.body == root.medium, "round \(round)")
            network.advance(.seconds(1), tick: Self.tick)
        }
        // No progress for the idle timeout: the server gives up with a reset.
        network.advance(.seconds(8), tick: Self.tick)
        stalled.readLimit = .max
        network.run(for: .seconds(1), tick: Self.tick) { stalled.closed }
        #expect(stalled.closed)
        #expect(stalled.error == .connectionReset, "\(String(describing: stalled.error))")
        #expect(stalled.received.count < root.big.count)
        let idleTimeouts = network.serverStatistics.idleTimeouts
        #expect(idleTimeouts >= 1)
        // And the server still serves.
        let after = network.exchange("GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(after.responses().first?.body == root.small)
    }

    // MARK: Stopping

    /// A stop closes kept-alive connections between requests at once and lets a
    /// response in progress finish (with Connection: close semantics); new
    /// connections are refused.
    @Test func stopAcceptingFinishesResponsesInProgress() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let idle = network.exchange("GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        let busy = network.open(sending: Array("GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
        network.advance(.milliseconds(5))
        try #require(!busy.received.isEmpty && busy.responses().isEmpty, "the big response is in progress")
        network.http.stopAccepting(&network.server)
        network.run(for: .seconds(20)) { idle.closed && busy.closed }
        #expect(idle.closedCleanly)
        #expect(busy.closedCleanly)
        #expect(busy.responses().first?.body == root.big)
        let late = network.exchange("GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        network.run { late.closed }
        #expect(late.error == .connectionRefused)
        let finished = network.http.isFinished(network.server)
        #expect(finished)
    }
}
