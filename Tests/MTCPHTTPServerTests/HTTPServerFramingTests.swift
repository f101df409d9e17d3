import Testing
@testable import MTCP
import MTCPHTTP
@testable import MTCPHTTPServer

/// Pipelining, requests split across segments, and every malformed request with
/// its status and the close that follows.
@Suite struct HTTPServerFramingTests {
    @Test func threePipelinedRequestsInOneWriteAreAnsweredInOrder() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        // A streamed file in the middle: the third response must wait for it.
        let connection = network.exchange("GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n"
                                          + "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n"
                                          + "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n", responses: 3,
                                          limit: .seconds(20))
        let responses = connection.responses()
        try #require(responses.count == 3, "got \(connection.received.count) bytes")
        #expect(responses.map(\.status) == [200, 200, 200])
        #expect(responses[0].body == root.page)
        #expect(responses[1].body == root.big)
        #expect(responses[2].body == root.small)
        #expect(HTTPTestResponse.parseAll(connection.received).rest == 0)
        #expect(!connection.closed)
        let requests = network.serverStatistics.requests
        #expect(requests == 3)
    }

    @Test func pipelinedHeadGetAndCloseInOneWrite() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.exchange("HEAD /medium.bin HTTP/1.1\r\nHost: t\r\n\r\n"
                                          + "GET /medium.bin HTTP/1.1\r\nHost: t\r\n\r\n"
                                          + "GET /dir/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                                          + "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n", responses: 4,
                                          headRequests: [0])
        network.run { connection.closed }
        let responses = connection.responses(headRequests: [0])
        try #require(responses.count == 3)
        #expect(responses[0].body.isEmpty)
        #expect(responses[1].body == root.medium)
        #expect(responses[2].body == root.index)
        #expect(connection.closed, "closed after the third: the fourth is never answered")
    }

    /// RFC 9110 §9.3.2: an error answered to HEAD is its head alone; the page after
    /// it would be read as the start of the next response on the kept-alive connection.
    @Test func headOfAMissingFileIsAnsweredWithoutThePage() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.exchange("HEAD /missing.html HTTP/1.1\r\nHost: t\r\n\r\n"
                                          + "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n", responses: 2,
                                          headRequests: [0])
        let responses = connection.responses(headRequests: [0])
        try #require(responses.count == 2, "got \(connection.received.count) bytes")
        #expect(responses.map(\.status) == [404, 200])
        #expect(responses[0].body.isEmpty)
        #expect(responses[1].body == root.small)
        #expect(HTTPTestResponse.parseAll(connection.received, headRequests: [0]).rest == 0)
        #expect(!connection.closed)
    }

    /// The pair is split at every byte: the first write ends at `split`, the rest
    /// follows in a later segment. Both answers come, in order, whatever the split.
    @Test func pipelinedPairSplitAtEveryByte() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let pair = Array("GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\nHEAD /page.html HTTP/1.1\r\nHost: t\r\n\r\n".utf8)
        let firstLength = Array("GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n".utf8).count
        for split in 1..<pair.count {
            let connection = network.open(sending: Array(pair[0..<split]))
            network.run(for: .milliseconds(50)) { connection.pending.isEmpty }
            network.advance(.milliseconds(3))
            // The server has not answered the first request before it was complete.
            let early = connection.responses(headRequests: [1]).count
            #expect(early == (split >= firstLength ? 1 : 0), "split \(split)")
            connection.pending += pair[split...]
            let done = network.run(for: .seconds(1)) { connection.responses(headRequests: [1]).count == 2 }
            #expect(done, "split \(split): \(connection.received.count) bytes")
            let responses = connection.responses(headRequests: [1])
            guard responses.count == 2 else { continue }
            #expect(responses[0].status == 200 && responses[0].body == root.small, "split \(split)")
            #expect(responses[1].status == 200 && responses[1].body.isEmpty
                    && responses[1].field("content-length") == String(root.page.count), "split \(split)")
            #expect(HTTPTestResponse.parseAll(connection.received, headRequests: [1]).rest == 0, "split \(split)")
            #expect(!connection.closed, "split \(split)")
            connection.close(&network.client, now: network.link.now)
        }
        let requests = network.serverStatistics.requests
        let malformed = network.serverStatistics.malformedRequests
        #expect(requests == UInt64(2 * (pair.count - 1)))
        #expect(malformed == 0)
    }

    @Test func requestInOneByteSegments() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let request = "GET /page.html?x=1 HTTP/1.1\r\nHost: test\r\nUser-Agent: one-byte\r\nAccept: */*\r\n\r\n"
        let connection = network.open(sending: Array(request.utf8))
        connection.writeChunk = 1
        let segmentsBefore = network.client.statistics.transmittedFrames
        network.run(for: .seconds(5)) { connection.responses().count == 1 }
        let responses = connection.responses()
        try #require(responses.count == 1)
        #expect(responses[0].status == 200)
        #expect(responses[0].body == root.page)
        let segments = network.client.statistics.transmittedFrames - segmentsBefore
        #expect(segments >= request.utf8.count, "each byte went in a segment of its own")
    }

    // MARK: Malformed requests

    struct Malformed: CustomStringConvertible, Sendable {
        var name: String
        var request: String
        var status: Int
        var description: String { name }
    }

    static let malformed: [Malformed] = [
        Malformed(name: "garbage request line", request: "HELLO\r\n\r\n", status: 400),
        Malformed(name: "no version", request: "GET /small.txt\r\nHost: t\r\n\r\n", status: 400),
        Malformed(name: "two spaces", request: "GET  /small.txt HTTP/1.1\r\nHost: t\r\n\r\n", status: 400),
        Malformed(name: "bad version", request: "GET /small.txt HTTX/1.1\r\nHost: t\r\n\r\n", status: 400),
        Malformed(name: "missing Host on 1.1", request: "GET /small.txt HTTP/1.1\r\n\r\n", status: 400),
        Malformed(name: "two Hosts", request: "GET /small.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400),
        Malformed(name: "space before colon", request: "GET /small.txt HTTP/1.1\r\nHost : t\r\n\r\n", status: 400),
        Malformed(name: "obsolete line folding", request: "GET /small.txt HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n",
                  status: 400),
        Malformed(name: "CL and TE (smuggling)",
                  request: "POST /small.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                  status: 400),
        Malformed(name: "TE and CL (smuggling)",
                  request: "GET /small.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
                  status: 400),
        Malformed(name: "conflicting Content-Length",
                  request: "POST /small.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                  status: 400),
        Malformed(name: "invalid Content-Length",
                  request: "GET /small.txt HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", status: 400),
        Malformed(name: "NUL in a field", request: "GET /small.txt HTTP/1.1\r\nHost: t\r\nX: a\0b\r\n\r\n", status: 400),
        Malformed(name: "POST without length", request: "POST /small.txt HTTP/1.1\r\nHost: t\r\n\r\n", status: 411),
        Malformed(name: "PUT without length", request: "PUT /small.txt HTTP/1.1\r\nHost: t\r\n\r\n", status: 411),
        Malformed(name: "body too large",
                  request: "POST /small.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n", status: 413),
        Malformed(name: "request line too long",
                  request: "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: t\r\n\r\n", status: 414),
        Malformed(name: "request line too long, unfinished",
                  request: "GET /" + String(repeating: "a", count: 9000), status: 414),
        Malformed(name: "too many fields",
                  request: "GET /small.txt HTTP/1.1\r\nHost: t\r\n"
                      + (0..<120).map { "X-\($0): v\r\n" }.joined() + "\r\n", status: 431),
        Malformed(name: "header section too large",
                  request: "GET /small.txt HTTP/1.1\r\nHost: t\r\nX: " + String(repeating: "v", count: 17000)
                      + "\r\n\r\n", status: 431),
        Malformed(name: "unknown method", request: "BREW /small.txt HTTP/1.1\r\nHost: t\r\n\r\n", status: 501),
        Malformed(name: "unknown transfer coding",
                  request: "POST /small.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", status: 501),
        Malformed(name: "HTTP/2.0", request: "GET /small.txt HTTP/2.0\r\nHost: t\r\n\r\n", status: 505),
        Malformed(name: "HTTP/3.1", request: "GET /small.txt HTTP/3.1\r\nHost: t\r\n\r\n", status: 505),
    ]

    /// A malformed request gets its status, then the connection closes with a FIN
    /// (RFC 9112 §9.6: the framing of what follows is unknown); a request after
    /// it on the same connection is never answered.
    @Test(arguments: malformed)
    func malformedRequestIsAnsweredThenClosed(_ malformed: Malformed) throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.exchange(malformed.request + "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n",
                                          responses: 2)
        network.run { connection.closed }
        let responses = connection.responses()
        try #require(responses.count == 1, "\(connection.received.count) bytes: \(responses)")
        #expect(responses[0].status == malformed.status)
        #expect(responses[0].field("connection")?.lowercased() == "close")
        #expect(responses[0].field("content-length") == String(responses[0].body.count))
        #expect(connection.closed, "the server closed the connection")
        #expect(connection.sawEndOfStream, "with a FIN after the response: \(String(describing: connection.error))")
        let statistics = network.serverStatistics
        #expect(statistics.requests + statistics.malformedRequests == 1)
    }

    /// 405 for the methods a static server does not do: `Allow` says which it
    /// does, the connection stays, and a body announced by Content-Length is
    /// skipped so the pipelined request after it is answered.
    @Test(arguments: ["POST", "PUT", "DELETE", "PATCH"])
    func methodNotAllowedKeepsTheConnectionAndSkipsTheBody(method: String) throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        // The body looks like a request: answering it would show the server lost the framing.
        let body = "GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n"
        let connection = network.exchange("\(method) /small.txt HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                                          + body + "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n", responses: 3)
        network.advance(.milliseconds(100))
        let responses = connection.responses()
        try #require(responses.count == 2, "\(responses)")
        #expect(responses[0].status == 405)
        #expect(responses[0].field("allow") == "GET, HEAD, OPTIONS")
        #expect(responses[0].field("connection")?.lowercased() != "close")
        #expect(responses[1].status == 200)
        #expect(responses[1].body == root.small)
        #expect(!connection.closed)
    }

    /// OPTIONS of a served path and of the server (`*`): 204 with Allow and no
    /// content; of a path that is not served: 404. The connection stays, and a
    /// body sent with OPTIONS is skipped like any other.
    @Test func optionsAnswersWithAllow() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.exchange("OPTIONS /small.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody"
                                          + "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n"
                                          + "OPTIONS /missing HTTP/1.1\r\nHost: t\r\n\r\n"
                                          + "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n", responses: 4)
        let responses = connection.responses()
        try #require(responses.count == 4, "\(responses)")
        for response in responses[0..<2] {
            #expect(response.status == 204)
            #expect(response.field("allow") == "GET, HEAD, OPTIONS")
            #expect(response.field("content-length") == nil)
            #expect(response.field("connection") == "keep-alive")
        }
        #expect(responses[2].status == 404)
        #expect(responses[3].status == 200 && responses[3].body == root.small)
        #expect(!connection.closed)
        #expect(network.serverStatistics.responses2xx == 3)
    }

    /// The same with the body arriving in pieces after the head.
    @Test func methodNotAllowedSkipsABodyThatArrivesLater() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let body = String(repeating: "GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n", count: 300)  // 11 KB
        let connection = network.open(sending: Array("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n".utf8))
        network.run { connection.responses().count == 1 }
        connection.writeChunk = 1000
        connection.pending += Array(body.utf8)
        connection.pending += Array("GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n".utf8)
        network.run(for: .seconds(5)) { connection.responses().count >= 2 }
        network.advance(.milliseconds(100))
        let responses = connection.responses()
        try #require(responses.count == 2, "\(responses)")
        #expect(responses[0].status == 405)
        #expect(responses[1].status == 200 && responses[1].body == root.small)
    }

    /// A chunked body cannot be skipped by a count: the server answers and closes.
    @Test func methodNotAllowedWithAChunkedBodyCloses() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.exchange("POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                                          + "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n", responses: 2)
        network.run { connection.closed }
        let responses = connection.responses()
        try #require(responses.count == 1, "\(responses)")
        #expect(responses[0].status == 405)
        #expect(connection.closed)
    }
}
