import Testing
import MTCP
@testable import MTCPHTTPServer

/// The health path and the drain before a stop (`drain_s`): `/healthz` answers
/// 200, then 503 once the server drains, while connections are still accepted
/// and served (each response closing its connection) until `stopAccepting`.
@Suite struct HTTPServerDrainTests {
    static let health = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
    static let small = "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n"

    @Test func theHealthPathAnswers200ThenDrainingAnswers503() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let serving = try #require(network.exchange(Self.health).responses().first)
        #expect(serving.status == 200)
        #expect(serving.field("connection") != "close")
        let head = try #require(network.exchange("HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
                                                 headRequests: [0]).responses(headRequests: [0]).first)
        #expect(head.status == 200 && head.body.isEmpty)

        network.http.startDraining(&network.server)
        let connection = network.exchange(Self.health)
        network.run { connection.closed }
        let draining = try #require(connection.responses().first)
        #expect(draining.status == 503)
        #expect(draining.field("connection") == "close")
        #expect(connection.closedCleanly)
        // Counted apart: a drain's 503 is not a server error, nor the 200s successes of the site.
        let statistics = network.serverStatistics
        #expect(statistics.healthOK == 2 && statistics.healthDraining == 1)
        #expect(statistics.responses2xx == 0 && statistics.responses5xx == 0)
        #expect(statistics.requests == 3)
    }

    @Test func otherMethodsOfTheHealthPathAreAnsweredAsForAnyPath() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let post = try #require(network.exchange("POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
            .responses().first)
        #expect(post.status == 405)
        let options = try #require(network.exchange("OPTIONS /healthz HTTP/1.1\r\nHost: t\r\n\r\n").responses().first)
        #expect(options.status == 204)
        #expect(network.serverStatistics.healthOK == 0)
    }

    /// A route for every path (`/`) does not take the health path: the proxy
    /// instance answers for itself.
    @Test func theHealthPathIsNotProxied() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path),
                                                                       prefix: "/"))
        let upstream = network.startUpstream()
        let response = try #require(network.exchange(Self.health).responses().first)
        #expect(response.status == 200)
        #expect(upstream.allRequests.isEmpty)
    }

    /// Draining, the server goes on accepting and serving; each response closes
    /// its connection. Only `stopAccepting` refuses new connections.
    @Test func drainingKeepsAcceptingUntilStopAccepting() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        network.http.startDraining(&network.server)
        network.advance(.seconds(3))  // a drain of a few seconds, as drain_s gives
        let fresh = network.exchange(Self.small)
        network.run { fresh.closed }
        let response = try #require(fresh.responses().first)
        #expect(response.status == 200 && response.body == root.small)
        #expect(response.field("connection") == "close")
        #expect(fresh.closedCleanly)
        #expect(network.serverStatistics.responses2xx == 1)

        network.http.stopAccepting(&network.server)
        let late = network.exchange(Self.small)
        network.run { late.closed }
        #expect(late.error == .connectionRefused)
    }

    /// When the drain starts, a kept-alive connection between requests is
    /// closed at once (its next request would follow the route elsewhere); a
    /// connection that has not sent its first request yet is left to send it.
    @Test func drainingClosesKeptAliveConnectionsBetweenRequests() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let keptAlive = network.exchange(Self.small)
        try #require(keptAlive.responses().first?.field("connection") != "close" && !keptAlive.closed)
        let fresh = network.open()
        network.advance(.milliseconds(10))  // its handshake is done, its request not yet sent

        network.http.startDraining(&network.server)
        network.run { keptAlive.closed }
        #expect(keptAlive.closedCleanly)
        #expect(!fresh.closed)
        fresh.send(Self.small)
        network.run { fresh.closed }
        #expect(fresh.responses().first?.status == 200)
        #expect(fresh.responses().first?.field("connection") == "close")
    }
}
