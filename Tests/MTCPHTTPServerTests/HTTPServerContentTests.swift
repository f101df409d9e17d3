import Testing
@testable import MTCP
import MTCPHTTP
@testable import MTCPHTTPServer

/// What is served: never anything outside the root; conditional requests; ranges.
@Suite struct HTTPServerContentTests {
    // MARK: Error pages

    /// `error_pages`: a 404 (kept alive) and a 405 are answered with the page
    /// of the root; a 403 without a page gets the built-in one.
    @Test func configuredErrorPagesAreServed() throws {
        let root = DocumentRoot()
        var options = HTTPTestNetwork.options(root: root.path)
        options.cache.errorPages = [404: "/page.html", 405: "/small.txt"]
        var network = HTTPTestNetwork(options: options)
        let connection = network.exchange("GET /missing HTTP/1.1\r\nHost: t\r\n\r\n"
                                          + "DELETE /small.txt HTTP/1.1\r\nHost: t\r\n\r\n"
                                          + "GET /../secret.txt HTTP/1.1\r\nHost: t\r\n\r\n", responses: 3)
        let responses = connection.responses()
        try #require(responses.count == 3, "\(responses)")
        #expect(responses[0].status == 404 && responses[0].body == root.page)
        #expect(responses[0].field("content-type")?.hasPrefix("text/html") == true)
        #expect(responses[0].field("connection") == "keep-alive")
        #expect(responses[1].status == 405 && responses[1].body == root.small)
        #expect(responses[1].field("allow") == "GET, HEAD, OPTIONS")
        #expect(responses[2].status == 403 && String(decoding: responses[2].body, as: UTF8.self).contains("403 Forbidden"))
        #expect(!connection.closed)
    }

    // MARK: Traversal

    struct Attempt: CustomStringConvertible, Sendable {
        var target: String
        var status: Int
        var description: String { target }
    }

    /// Targets that try to leave the root (the secret file lies beside it, and two
    /// symlinks inside the root lead out). 403 when `..` climbs above the root,
    /// 400 for what must never reach a lookup (encoded `/`, `\`, NUL), 404 for
    /// what is not served (symlinks leaving the root are never loaded).
    static let attempts: [Attempt] = [
        Attempt(target: "/../secret.txt", status: 403),
        Attempt(target: "/../../../../../etc/passwd", status: 403),
        Attempt(target: "/dir/../../secret.txt", status: 403),
        Attempt(target: "//../secret.txt", status: 403),
        Attempt(target: "/%2e%2e/secret.txt", status: 403),
        Attempt(target: "/%2E%2E/secret.txt", status: 403),
        Attempt(target: "/.%2e/secret.txt", status: 403),
        Attempt(target: "/%2e%2e%2fsecret.txt", status: 400),
        Attempt(target: "/..%2fsecret.txt", status: 400),
        Attempt(target: "/..%2Fsecret.txt", status: 400),
        Attempt(target: "/..%5csecret.txt", status: 400),
        Attempt(target: "/..\\secret.txt", status: 400),
        Attempt(target: "/small.txt%00", status: 400),
        Attempt(target: "/%00../secret.txt", status: 400),
        Attempt(target: "/%252e%252e/secret.txt", status: 404),
        Attempt(target: "http://t/../secret.txt", status: 403),
        Attempt(target: "/escape.txt", status: 404),
        Attempt(target: "/up/secret.txt", status: 404),
        Attempt(target: "/up/www/small.txt", status: 404),
        Attempt(target: "/.hidden", status: 404),
    ]

    @Test(arguments: attempts)
    func traversalNeverServesOutsideTheRoot(_ attempt: Attempt) throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.exchange("GET \(attempt.target) HTTP/1.1\r\nHost: t\r\n\r\n")
        let responses = connection.responses()
        try #require(responses.count == 1, "\(connection.received.count) bytes")
        #expect(responses[0].status == attempt.status)
        #expect([400, 403, 404].contains(responses[0].status))
        let text = String(decoding: connection.received, as: UTF8.self)
        #expect(!text.contains(DocumentRoot.secret))
        #expect(!text.contains("root:"))
        if responses[0].status == 400 {
            network.run { connection.closed }
            #expect(connection.closed, "a 400 closes")
        } else {
            network.advance(.milliseconds(50))
            #expect(!connection.closed, "a 403/404 keeps the connection")
        }
    }

    @Test func dotSegmentsInsideTheRootAreNormalised() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let connection = network.exchange("GET /dir/../small.txt HTTP/1.1\r\nHost: t\r\n\r\n"
                                          + "GET /dir/./%69ndex.html HTTP/1.1\r\nHost: t\r\n\r\n"
                                          + "GET //small.txt?x=/../../secret.txt HTTP/1.1\r\nHost: t\r\n\r\n",
                                          responses: 3)
        let responses = connection.responses()
        try #require(responses.count == 3)
        #expect(responses.map(\.status) == [200, 200, 200])
        #expect(responses.map(\.body) == [root.small, root.index, root.small])
    }

    // MARK: Conditional requests

    /// The validators of a file, from a plain GET.
    static func validators(_ network: inout HTTPTestNetwork, _ path: String) throws -> (etag: String, lastModified: String) {
        let connection = network.exchange("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n", limit: .seconds(10))
        let responses = connection.responses()
        try #require(responses.count == 1)
        let etag = try #require(responses[0].field("etag"))
        let lastModified = try #require(responses[0].field("last-modified"))
        return (etag, lastModified)
    }

    @Test(arguments: ["/small.txt", "/big.bin"])
    func conditionalRequests(path: String) throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let (etag, lastModified) = try Self.validators(&network, path)
        #expect(etag.hasPrefix("\"") && etag.hasSuffix("\""), "a strong entity-tag: \(etag)")
        let full = path == "/big.bin" ? root.big : root.small
        let cases: [(fields: String, status: Int)] = [
            ("If-None-Match: \(etag)", 304),
            ("If-None-Match: \"nope\", \(etag)", 304),
            ("If-None-Match: W/\(etag)", 304),  // weak comparison (RFC 9110 §13.1.2)
            ("If-None-Match: *", 304),
            ("If-None-Match: \"nope\"", 200),
            ("If-Modified-Since: \(lastModified)", 304),
            ("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT", 200),
            ("If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT", 200),  // in the future: invalid, ignored
            ("If-Modified-Since: not a date", 200),
            // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
            ("If-None-Match: \"nope\"\r\nIf-Modified-Since: \(lastModified)", 200),
        ]
        // All on one connection, pipelined: a 304 must carry no body.
        let requests = cases.map { "GET \(path) HTTP/1.1\r\nHost: t\r\n\($0.fields)\r\n\r\n" }.joined()
        let connection = network.exchange(requests, responses: cases.count, limit: .seconds(20))
        let responses = connection.responses()
        try #require(responses.count == cases.count, "\(responses)")
        for (response, expected) in zip(responses, cases) {
            #expect(response.status == expected.status, "\(expected.fields)")
            if response.status == 304 {
                #expect(response.field("etag") == etag, "\(expected.fields)")
                #expect(response.field("content-length") == nil, "\(expected.fields)")
                #expect(response.body.isEmpty)
            } else {
                #expect(response.body == full, "\(expected.fields)")
            }
        }
        #expect(HTTPTestResponse.parseAll(connection.received).rest == 0)
        // HEAD with a matching validator is a 304 too.
        let head = network.exchange("HEAD \(path) HTTP/1.1\r\nHost: t\r\nIf-None-Match: \(etag)\r\n\r\n",
                                    headRequests: [0])
        #expect(head.responses(headRequests: [0]).first?.status == 304)
    }

    // MARK: Ranges

    @Test(arguments: ["/small.txt", "/medium.bin", "/big.bin"])
    func singleByteRanges(path: String) throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let full = path == "/small.txt" ? root.small : path == "/medium.bin" ? root.medium : root.big
        let size = full.count
        let (etag, _) = try Self.validators(&network, path)
        let cases: [(range: String, first: Int, last: Int)] = [
            ("bytes=0-4", 0, 4),
            ("bytes=5-", 5, size - 1),
            ("bytes=-5", size - 5, size - 1),
            ("bytes=3-3", 3, 3),
            ("bytes=\(size - 2)-\(size + 100)", size - 2, size - 1),  // last clamped to the end
            ("bytes=-\(size * 2)", 0, size - 1),                       // suffix longer than the file
            ("BYTES=1-2", 1, 2),
            ("bytes=\(size / 2)-\(size / 2 + 9999)", size / 2, min(size - 1, size / 2 + 9999)),
        ]
        for (range, first, last) in cases {
            let connection = network.exchange("GET \(path) HTTP/1.1\r\nHost: t\r\nRange: \(range)\r\n\r\n",
                                              limit: .seconds(10))
            let responses = connection.responses()
            try #require(responses.count == 1, "\(range)")
            #expect(responses[0].status == 206, "\(range)")
            #expect(responses[0].field("content-range") == "bytes \(first)-\(last)/\(size)", "\(range)")
            #expect(responses[0].field("content-length") == String(last - first + 1), "\(range)")
            #expect(responses[0].body == Array(full[first...last]), "\(range)")
            #expect(!connection.closed)
        }
        // If-Range: the current entity-tag gives the part, another the whole.
        let matching = network.exchange("GET \(path) HTTP/1.1\r\nHost: t\r\nRange: bytes=1-3\r\nIf-Range: \(etag)\r\n\r\n",
                                        limit: .seconds(10))
        #expect(matching.responses().first?.status == 206)
        #expect(matching.responses().first?.body == Array(full[1...3]))
        let stale = network.exchange("GET \(path) HTTP/1.1\r\nHost: t\r\nRange: bytes=1-3\r\nIf-Range: \"old\"\r\n\r\n",
                                     limit: .seconds(10))
        #expect(stale.responses().first?.status == 200)
        #expect(stale.responses().first?.body == full)
        // Several ranges: the whole representation (allowed by RFC 9110 §14.2).
        let several = network.exchange("GET \(path) HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1,4-5\r\n\r\n",
                                       limit: .seconds(10))
        #expect(several.responses().first?.status == 200)
        #expect(several.responses().first?.body == full)
        // HEAD ignores Range.
        let head = network.exchange("HEAD \(path) HTTP/1.1\r\nHost: t\r\nRange: bytes=0-4\r\n\r\n", headRequests: [0])
        #expect(head.responses(headRequests: [0]).first?.status == 200)
    }

    @Test(arguments: ["/small.txt", "/big.bin"])
    func unsatisfiableRange(path: String) throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let size = path == "/small.txt" ? root.small.count : root.big.count
        let connection = network.exchange("GET \(path) HTTP/1.1\r\nHost: t\r\nRange: bytes=\(size)-\r\n\r\n"
                                          + "GET \(path) HTTP/1.1\r\nHost: t\r\nRange: bytes=\(size + 1000)-\(size + 2000)\r\n\r\n"
                                          + "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n", responses: 3)
        let responses = connection.responses()
        try #require(responses.count == 3)
        for response in responses[0..<2] {
            #expect(response.status == 416)
            #expect(response.field("content-range") == "bytes */\(size)")
            #expect(response.body.isEmpty)
        }
        #expect(responses[2].body == root.small, "the connection goes on after a 416")
        #expect(!connection.closed)
    }

    // MARK: Reload

    /// SIGHUP reaches the server through `EngineApplication.reload` (the runtime's
    /// core loop calls it): the cache keeps serving what it loaded until then.
    @Test func reloadServesTheFilesAsTheyAreNow() throws {
        let root = DocumentRoot()
        var network = HTTPTestNetwork(options: HTTPTestNetwork.options(root: root.path))
        let changed = Array("hello again, after the reload\n".utf8)
        root.write("small.txt", changed)
        let before = network.exchange("GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n").responses()
        try #require(before.count == 1)
        #expect(before[0].body == root.small, "still the cached file")

        try network.http.reload(&network.server)
        let after = network.exchange("GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n").responses()
        try #require(after.count == 1)
        #expect(after[0].status == 200)
        #expect(after[0].body == changed)
    }
}
