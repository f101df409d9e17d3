import Glibc
import Testing
@testable import MTCP
import MTCPHTTP
@testable import MTCPHTTPServer

/// Edges of the request buffer and the limits, clients that go away, files
/// that change on disk.
@Suite struct HTTPServerRobustnessTests {
    /// Far more pipelined requests than the request buffer holds, written as
    /// fast as the client's send buffer takes them: all answered, in order.
    @Test func twoThousandPipelinedRequests() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let paths = (0..<2000).map { ["/small.txt", "/dir/", "/page.html", "/nothing"][$0 % 4] }
        let requests = paths.map { "GET \($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined()
        let connection = network.exchange(requests, responses: paths.count, limit: .seconds(30))
        let (responses, rest) = HTTPTestResponse.parseAll(connection.received)
        try #require(responses.count == paths.count, "\(responses.count) responses")
        #expect(rest == 0)
        for (index, (response, path)) in zip(responses, paths).enumerated() {
            let expected: (Int, [UInt8]) = switch path {
            case "/small.txt": (200, root.small)
            case "/dir/": (200, root.index)
            case "/page.html": (200, root.page)
            default: (404, response.body)
            }
            if response.status != expected.0 || response.body != expected.1 {
                Issue.record("response \(index) to \(path): \(response)")
                break
            }
        }
        #expect(!connection.closed)
    }

    /// Heads at (not beyond) every limit are served.
    @Test func headsAtTheLimitsAreServed() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let limits = HTTPLimits()
        // A request line of exactly maxRequestLineLength bytes (a query pads it).
        let prefix = "GET /small.txt?"
        let suffix = " HTTP/1.1"
        let line = prefix + String(repeating: "q", count: limits.maxRequestLineLength - prefix.utf8.count - suffix.utf8.count)
            + suffix
        #expect(line.utf8.count == limits.maxRequestLineLength)
        // maxHeaderCount fields, the last one padded so that the section is maxHeaderBytes.
        var fields = "Host: t\r\n" + (1..<limits.maxHeaderCount - 1).map { "X-\($0): v\r\n" }.joined()
        let last = "X-Last: "
        let padding = limits.maxHeaderBytes - fields.utf8.count - last.utf8.count - 2 /* CRLF */ - 2 /* empty line */
        fields += last + String(repeating: "p", count: padding) + "\r\n"
        #expect((fields + "\r\n").utf8.count == limits.maxHeaderBytes)
        let connection = network.exchange(line + "\r\n" + fields + "\r\n", limit: .seconds(10))
        let responses = connection.responses()
        try #require(responses.count == 1, "\(connection.received.count) bytes")
        #expect(responses[0].status == 200)
        #expect(responses[0].body == root.small)
        // One byte more of header section: 431.
        let over = network.exchange(line + "\r\n" + fields + "X\r\n\r\n", limit: .seconds(10))
        #expect(over.responses().first?.status == 431, "\(over.received.count) bytes, \(String(describing: over.error)), closed \(over.closed)")
    }

    /// A body larger than allowed is refused (413) while the client is still
    /// sending it: the client must see the 413, not only a reset.
    @Test func contentTooLargeReachesAClientStillSending() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let body = [UInt8](repeating: UInt8(ascii: "b"), count: 200_000)
        let connection = network.open(sending: Array("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n".utf8)
                                      + body)
        network.run(for: .seconds(5)) { connection.closed }
        #expect(connection.closed)
        #expect(connection.responses().first?.status == 413, "\(connection.received.count) bytes, \(String(describing: connection.error))")
    }

    /// A head larger than the request buffer: the rest of it is still unread
    /// when the server answers 431 and closes. The 431 must arrive (closing with
    /// unread bytes would make the stack reset the connection, dropping it).
    @Test func headBeyondTheBufferGets431() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.exchange("GET /small.txt HTTP/1.1\r\nHost: t\r\n"
                                          + (0..<40).map { "X-\($0): " + String(repeating: "v", count: 1000) + "\r\n" }.joined()
                                          + "\r\n", limit: .seconds(10))
        network.run { connection.closed }
        #expect(connection.responses().first?.status == 431, "\(connection.received.count) bytes, \(String(describing: connection.error))")
        #expect(connection.closedCleanly, "\(String(describing: connection.error))")
    }

    /// After an error the server half-closes and drops what the client still
    /// sends; a client that goes on sending and never closes is closed after
    /// `lingerTimeout`.
    @Test func lingeringCloseEndsAfterTheLingerTimeout() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.open(sending: Array("HELLO\r\n\r\n".utf8), readLimit: 0)
        for _ in 0..<10 {
            connection.send(String(repeating: "z", count: 3000))
            network.advance(.milliseconds(100), tick: .milliseconds(10))
        }
        let lingering = network.server.socketCount
        #expect(lingering == 2, "the listener and the lingering connection")
        network.advance(.seconds(3), tick: .milliseconds(10))
        let left = network.server.socketCount
        #expect(left == 1, "closed after the linger timeout")
        connection.readLimit = .max
        network.run { connection.closed }
        #expect(connection.responses().first?.status == 400)
    }

    /// Clients that reset in the middle of a streamed file: every file descriptor
    /// the server opened is closed again.
    @Test func abortedDownloadsCloseTheirFiles() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let during = network.open(sending: Array("GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n".utf8), readLimit: 0)
        network.advance(.milliseconds(20))
        let inProgress = Self.openDescriptors(under: root.base)
        #expect(inProgress == 1, "the check sees the file of a download in progress")
        during.readLimit = .max
        network.run(for: .seconds(5)) { during.responses().count == 1 }
        during.close(&network.client, now: network.link.now)
        for _ in 0..<30 {
            let connection = network.open(sending: Array("GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
            network.run { connection.received.count > 10_000 }
            if let id = connection.id { network.client.abort(id, now: network.link.now) }
            connection.closed = true
            network.advance(.milliseconds(20))
        }
        // Closed by the client with a FIN while the server streams: the same.
        for _ in 0..<10 {
            let connection = network.open(sending: Array("GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n".utf8), readLimit: 0)
            network.advance(.milliseconds(20))
            if let id = connection.id { try? network.client.shutdownWrite(id) }
            network.advance(.milliseconds(20))
            connection.readLimit = .max
            network.run(for: .seconds(2)) { connection.closed }
        }
        network.advance(.milliseconds(200))
        let left = Self.openDescriptors(under: root.base)
        #expect(left == 0, "\(left) descriptors left open on the document root")
        let sockets = network.server.socketCount
        #expect(sockets == 1, "only the listener is left")
    }

    /// A file that changed on disk since the cache was built is not streamed
    /// under a head that no longer describes it: 500, then a close (a 500 always
    /// closes); the server goes on serving the other files.
    @Test func changedFileIsRefusedWith500() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let descriptor = open(root.path + "/big.bin", O_WRONLY | O_APPEND)
        try #require(descriptor >= 0)
        _ = Glibc.write(descriptor, "more", 4)
        close(descriptor)
        let connection = network.exchange("GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n",
                                          responses: 2)
        network.run { connection.closed }
        let responses = connection.responses()
        try #require(responses.count == 1, "\(responses)")
        #expect(responses[0].status == 500)
        #expect(responses[0].field("connection")?.lowercased() == "close")
        #expect(connection.closedCleanly)
        let fileErrors = network.serverStatistics.fileErrors
        #expect(fileErrors == 1)
        let next = network.exchange("GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(next.responses().first?.body == root.small)
    }

    /// A file truncated while it is being streamed: the server cannot keep its
    /// Content-Length, so it resets the connection rather than hang or pad.
    @Test func fileTruncatedWhileStreamingResetsTheConnection() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.open(sending: Array("GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n".utf8), readLimit: 0)
        network.advance(.milliseconds(50))
        try #require(truncate(root.path + "/big.bin", 1000) == 0)
        connection.readLimit = .max
        network.run(for: .seconds(5)) { connection.closed }
        #expect(connection.closed)
        #expect(connection.error == .connectionReset, "\(String(describing: connection.error))")
        #expect(connection.responses().isEmpty, "never a complete response")
        let fileErrors = network.serverStatistics.fileErrors
        #expect(fileErrors == 1)
    }

    /// Descriptors of this process open on files under `directory` (tests run in
    /// parallel, so only this test's own temporary root counts).
    static func openDescriptors(under directory: String) -> Int {
        guard let stream = opendir("/proc/self/fd") else { return -1 }
        defer { closedir(stream) }
        var count = 0
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            var target = [CChar](repeating: 0, count: 4096)
            let length = readlink("/proc/self/fd/" + name, &target, target.count - 1)
            guard length > 0 else { continue }
            if String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self).hasPrefix(directory) {
                count += 1
            }
        }
        return count
    }
}
