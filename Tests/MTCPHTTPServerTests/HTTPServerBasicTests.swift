import Testing
@testable import MTCP
import MTCPHTTP
@testable import MTCPHTTPServer

/// GET and HEAD of static files, keep-alive, HTTP/1.0, `Connection: close`,
/// directories, on the virtual link.
@Suite struct HTTPServerBasicTests {
    @Test func getOfASmallFileFromMemory() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.exchange("GET /small.txt HTTP/1.1\r\nHost: test\r\n\r\n")
        let responses = connection.responses()
        try #require(responses.count == 1, "got \(connection.received.count) bytes")
        let response = responses[0]
        #expect(response.version == "HTTP/1.1")
        #expect(response.status == 200)
        #expect(response.body == root.small)
        #expect(response.field("content-length") == String(root.small.count))
        #expect(response.field("content-type")?.hasPrefix("text/plain") == true)
        #expect(response.field("etag") != nil)
        #expect(response.field("last-modified")?.hasSuffix(" GMT") == true)
        #expect(response.field("date")?.hasSuffix(" GMT") == true)
        #expect(response.field("server") == "mtcp-httpd")
        #expect(!connection.closed, "an HTTP/1.1 connection stays open")
        let statistics = network.serverStatistics
        #expect(statistics.requests == 1)
        #expect(statistics.responses2xx == 1)
    }

    @Test(arguments: ["/page.html", "/medium.bin", "/big.bin"])
    func getIsByteExact(path: String) throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.exchange("GET \(path) HTTP/1.1\r\nHost: test\r\n\r\n", limit: .seconds(20))
        let responses = connection.responses()
        try #require(responses.count == 1, "got \(connection.received.count) bytes")
        let expected = path == "/page.html" ? root.page : path == "/medium.bin" ? root.medium : root.big
        #expect(responses[0].status == 200)
        #expect(responses[0].body.count == expected.count)
        #expect(responses[0].body == expected)
        #expect(responses[0].field("content-length") == String(expected.count))
        if path == "/page.html" { #expect(responses[0].field("content-type")?.hasPrefix("text/html") == true) }
        #expect(!connection.closed)
    }

    @Test(arguments: ["/small.txt", "/big.bin", "/dir/"])
    func headHasTheHeadOfGetAndNoBody(path: String) throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let get = network.exchange("GET \(path) HTTP/1.1\r\nHost: test\r\n\r\n", limit: .seconds(20))
        // HEAD then a GET on the same connection: had the HEAD carried a body,
        // the second response would not parse as the GET's.
        let connection = network.exchange("HEAD \(path) HTTP/1.1\r\nHost: test\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n",
                                          responses: 2, headRequests: [0], limit: .seconds(20))
        let getResponses = get.responses()
        let responses = connection.responses(headRequests: [0])
        try #require(getResponses.count == 1 && responses.count == 2)
        #expect(responses[0].status == 200)
        #expect(responses[0].body.isEmpty)
        #expect(responses[0].field("content-length") == getResponses[0].field("content-length"))
        #expect(responses[0].field("etag") == getResponses[0].field("etag"))
        #expect(responses[0].field("content-type") == getResponses[0].field("content-type"))
        #expect(responses[1].status == 200)
        #expect(responses[1].body == root.small)
        let (all, rest) = HTTPTestResponse.parseAll(connection.received, headRequests: [0])
        #expect(all.count == 2 && rest == 0, "nothing after the two responses")
    }

    @Test func keepAliveCarriesSeveralRequestsOnOneConnection() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.open()
        let paths = ["/small.txt", "/page.html", "/medium.bin", "/big.bin", "/dir/", "/small.txt"]
        for (index, path) in paths.enumerated() {
            connection.send("GET \(path) HTTP/1.1\r\nHost: test\r\n\r\n")
            let done = network.run(for: .seconds(10)) { connection.responses().count == index + 1 }
            try #require(done, "response \(index) to \(path) never came")
            #expect(!connection.closed)
        }
        let responses = connection.responses()
        #expect(responses.map(\.status) == [200, 200, 200, 200, 200, 200])
        #expect(responses.map(\.body) == [root.small, root.page, root.medium, root.big, root.index, root.small])
        #expect(responses.allSatisfy { $0.field("connection")?.lowercased() != "close" })
        let statistics = network.serverStatistics
        #expect(statistics.connectionsAccepted == 1)
        #expect(statistics.requests == UInt64(paths.count))
        #expect(network.client.tcpStatistics.activeOpens == 1)
    }

    @Test func http10ClosesAfterTheResponse() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.exchange("GET /small.txt HTTP/1.0\r\n\r\n")
        network.run { connection.closed }
        let responses = connection.responses()
        try #require(responses.count == 1)
        #expect(responses[0].status == 200)
        #expect(responses[0].body == root.small)
        #expect(responses[0].field("connection")?.lowercased() == "close")
        #expect(connection.closedCleanly, "FIN after the response, not a reset: \(String(describing: connection.error))")
    }

    @Test func http10KeepAliveIsHonoured() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.exchange("GET /small.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        network.advance(.milliseconds(200))
        let responses = connection.responses()
        try #require(responses.count == 1)
        #expect(responses[0].field("connection")?.lowercased() == "keep-alive")
        #expect(!connection.closed)
    }

    @Test(arguments: ["/small.txt", "/big.bin"])
    func connectionCloseClosesAfterTheResponse(path: String) throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        // A second request after the one that asks to close is never answered.
        let connection = network.exchange(
            "GET \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\nGET /page.html HTTP/1.1\r\nHost: test\r\n\r\n",
            limit: .seconds(20))
        network.run(for: .seconds(5)) { connection.closed }
        let responses = connection.responses()
        try #require(responses.count == 1)
        #expect(responses[0].status == 200)
        #expect(responses[0].body == (path == "/big.bin" ? root.big : root.small))
        #expect(responses[0].field("connection")?.lowercased() == "close")
        #expect(connection.closed, "the server closed the connection")
        #expect(HTTPTestResponse.parseAll(connection.received).rest == 0)
    }

    @Test func directoryIndexAndRedirect() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.exchange("GET /dir/ HTTP/1.1\r\nHost: t\r\n\r\nGET /dir HTTP/1.1\r\nHost: t\r\n\r\n"
                                          + "GET /nothing-here HTTP/1.1\r\nHost: t\r\n\r\n", responses: 3)
        let responses = connection.responses()
        try #require(responses.count == 3)
        #expect(responses[0].status == 200)
        #expect(responses[0].body == root.index)
        #expect(responses[0].field("content-type")?.hasPrefix("text/html") == true)
        #expect(responses[1].status == 301)
        #expect(responses[1].field("location") == "/dir/")
        #expect(responses[2].status == 404)
        #expect(!connection.closed, "a 404 keeps the connection")
    }

    @Test func manyConnectionsAtOnce() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connections = (0..<40).map { index in
            network.open(sending: Array("GET /\(index % 2 == 0 ? "small.txt" : "medium.bin") HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".utf8))
        }
        let done = network.run(for: .seconds(10)) { connections.allSatisfy(\.closed) }
        #expect(done)
        for (index, connection) in connections.enumerated() {
            let responses = connection.responses()
            #expect(responses.count == 1 && responses[0].body == (index % 2 == 0 ? root.small : root.medium),
                    "connection \(index)")
            #expect(connection.closedCleanly, "connection \(index)")
        }
        network.advance(.milliseconds(100))
        let remaining = network.server.socketCount
        #expect(remaining == 1, "only the listener is left")
    }
}
