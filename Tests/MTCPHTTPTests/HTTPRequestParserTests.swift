import Testing
@testable import MTCPHTTP

@Suite struct HTTPRequestParserTests {
    static let full = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com:80\r\nUser-Agent: curl/8.0\r\n"
        + "Referer: http://a/b\r\nIf-None-Match: \"abc\", W/\"d\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        + "Range: bytes=0-99\r\nIf-Range: \"abc\"\r\nX-Custom:   spaced value  \r\n\r\n"

    @Test func parsesEveryPartOfAHead() throws {
        let bytes = Array(Self.full.utf8)
        let head = try #require(try parse(bytes).get())
        #expect(head.method == .get)
        #expect(bytes.string(head.methodSpan) == "GET")
        #expect(bytes.string(head.target) == "/index.html?q=1")
        #expect(head.version == .http11)
        #expect(bytes.string(head.requestLine) == "GET /index.html?q=1 HTTP/1.1")
        #expect(bytes.string(head.host) == "example.com:80")
        #expect(bytes.string(head.userAgent) == "curl/8.0")
        #expect(bytes.string(head.referer) == "http://a/b")
        #expect(bytes.string(head.ifNoneMatch) == "\"abc\", W/\"d\"")
        #expect(bytes.string(head.ifModifiedSince) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(bytes.string(head.range) == "bytes=0-99")
        #expect(bytes.string(head.ifRange) == "\"abc\"")
        #expect(head.fieldCount == 8)
        #expect(head.keepAlive)
        #expect(head.body == .none)
        #expect(head.headLength == bytes.count)
        let fields = bytes.withUnsafeBytes { buffer in
            head.fields(in: buffer).map { "\(bytes.string($0.name)!)=\(bytes.string($0.value)!)" }
        }
        #expect(fields.count == 8)
        #expect(fields.last == "X-Custom=spaced value")
        let custom = bytes.withUnsafeBytes { head.fields(in: $0).first("x-custom") }
        #expect(bytes.string(custom) == "spaced value")
    }

    static let valid = [
        full,
        "GET / HTTP/1.0\r\n\r\n",
        "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n",
        "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
        "\r\nDELETE /x HTTP/1.1\nHost: h\nConnection: close\n\n",
    ]

    @Test(arguments: valid)
    func everySplitGivesTheSameHead(_ text: String) throws {
        let bytes = Array(text.utf8)
        let whole = try parse(bytes).get()
        #expect(whole != nil)
        for cut in 0...bytes.count {
            #expect(try parse(bytes, cuts: [cut]).get() == whole, "split at \(cut)")
        }
        #expect(try parse(bytes, cuts: Array(0..<bytes.count)).get() == whole, "one byte at a time")
    }

    static let malformed: [(String, HTTPParseError)] = [
        ("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", .invalidRequestLine),
        ("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", .invalidVersion),
        ("GET /\r\n\r\n", .invalidRequestLine),
        ("GET / http/1.1\r\nHost: h\r\n\r\n", .invalidVersion),
        ("GET / HTTP/1.10\r\nHost: h\r\n\r\n", .invalidVersion),
        ("GET / HTTP/2.0\r\nHost: h\r\n\r\n", .unsupportedVersion),
        ("GET / HTTP/0.9\r\nHost: h\r\n\r\n", .unsupportedVersion),
        ("G@T / HTTP/1.1\r\nHost: h\r\n\r\n", .invalidMethod),
        (" GET / HTTP/1.1\r\nHost: h\r\n\r\n", .invalidMethod),
        ("\u{16}\u{03}\u{01}\u{02}\u{00}", .invalidMethod),
        ("GET /a\u{01}b HTTP/1.1\r\nHost: h\r\n\r\n", .invalidRequestLine),
        ("GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n", .invalidRequestLine),
        ("GET /é HTTP/1.1\r\nHost: h\r\n\r\n", .invalidRequestLine),
        ("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", .unexpectedEmptyLine),
        ("GET / HTTP/1.1\r\n\r\n", .missingHost),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", .multipleHosts),
        ("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", .invalidHost),
        ("GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", .invalidFieldName),
        ("GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", .invalidFieldName),
        ("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", .invalidFieldName),
        ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length : 0\r\n\r\n", .whitespaceBeforeColon),
        ("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  folded\r\n\r\n", .obsoleteLineFolding),
        ("GET / HTTP/1.1\r\n Host: h\r\n\r\n", .obsoleteLineFolding),
        ("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{00}b\r\n\r\n", .invalidFieldValue),
        ("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", .invalidFieldValue),
        // Past the first eight bytes of a value, where the scan tests words.
        ("GET / HTTP/1.1\r\nHost: h\r\nX-A: 0123456789abcdef\u{00}xyz\r\n\r\n", .invalidFieldValue),
        ("GET / HTTP/1.1\r\nHost: h\r\nX-A: 0123456789\rabcdef0\r\n\r\n", .invalidFieldValue),
        ("GET / HTTP/1.1\r\nHost: h\r\nX-A: 0123456789abcdef\u{7F}\r\n\r\n", .invalidFieldValue),
        ("GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: a\tb\tcdefgh\u{1B}ijklmnop\r\n\r\n", .invalidFieldValue),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1,\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", .conflictingContentLength),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\n", .conflictingContentLength),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
         .contentLengthWithTransferEncoding),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
         .contentLengthWithTransferEncoding),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferCoding),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n", .unsupportedTransferCoding),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
         .invalidTransferEncoding),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", .invalidTransferEncoding),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", .transferEncodingInHTTP10),
        ("POST / HTTP/1.1\r\nHost: h\r\n\r\n", .lengthRequired),
        ("PUT / HTTP/1.1\r\nHost: h\r\n\r\n", .lengthRequired),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n", .bodyTooLarge),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", .bodyTooLarge),
    ]

    @Test(arguments: malformed)
    func malformedRequestsAreRefusedAtEverySplit(_ text: String, _ expected: HTTPParseError) {
        let bytes = Array(text.utf8)
        #expect(parse(bytes) == .failure(expected))
        for cut in 0...bytes.count {
            #expect(parse(bytes, cuts: [cut]) == .failure(expected), "split at \(cut)")
        }
        #expect(parse(bytes, cuts: Array(0..<bytes.count)) == .failure(expected), "one byte at a time")
    }

    @Test func errorsMapToTheirStatus() {
        #expect(HTTPParseError.invalidMethod.status == .badRequest)
        #expect(HTTPParseError.contentLengthWithTransferEncoding.status == .badRequest)
        #expect(HTTPParseError.lengthRequired.status == .lengthRequired)
        #expect(HTTPParseError.bodyTooLarge.status == .contentTooLarge)
        #expect(HTTPParseError.requestLineTooLong.status == .uriTooLong)
        #expect(HTTPParseError.tooManyFields.status == .requestHeaderFieldsTooLarge)
        #expect(HTTPParseError.headerSectionTooLarge.status == .requestHeaderFieldsTooLarge)
        #expect(HTTPParseError.unsupportedTransferCoding.status == .notImplemented)
        #expect(HTTPParseError.unsupportedVersion.status == .httpVersionNotSupported)
    }

    @Test func methodsAreRecognisedCaseSensitively() {
        let methods: [(String, HTTPMethod)] = [
            ("GET", .get), ("HEAD", .head), ("POST", .post), ("PUT", .put), ("DELETE", .delete),
            ("OPTIONS", .options), ("PATCH", .patch), ("CONNECT", .connect), ("TRACE", .trace),
            ("get", .other), ("BREW", .other), ("PROPFIND", .other),
        ]
        for (name, method) in methods {
            let parsed = head("\(name) / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
            #expect(parsed?.method == method, "\(name)")
        }
    }

    @Test func connectionPersistenceFollowsTheVersion() {
        #expect(head("GET / HTTP/1.1\r\nHost: h\r\n\r\n")?.keepAlive == true)
        #expect(head("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")?.keepAlive == false)
        #expect(head("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n")?.keepAlive == false)
        #expect(head("GET / HTTP/1.0\r\n\r\n")?.keepAlive == false)
        #expect(head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")?.keepAlive == true)
        #expect(head("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")?.keepAlive == false)
        // A later 1.x minor version is read as 1.1 (RFC 9110 §2.5).
        #expect(head("GET / HTTP/1.2\r\nHost: h\r\n\r\n")?.version == .http11)
    }

    @Test func bodyFraming() {
        #expect(head("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n")?.body == .contentLength(5))
        #expect(head("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n")?.body
                == .contentLength(5))
        #expect(head("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n")?.body == .chunked)
        #expect(head("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")?.body == .contentLength(0))
        #expect(head("GET / HTTP/1.1\r\nHost: h\r\n\r\n")?.body == HTTPBodyFraming.none)
        var lenient = HTTPLimits()
        lenient.lengthRequired = false
        #expect(head("POST / HTTP/1.1\r\nHost: h\r\n\r\n", limits: lenient)?.body == HTTPBodyFraming.none)
        #expect(head("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")?
            .expectsContinue == true)
    }

    /// RFC 9110 §10.1.1: an expectation other than 100-continue is one the server cannot meet (417).
    @Test func unknownExpectationsAreFlagged() throws {
        let continues = head("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n")
        #expect(continues?.expectsContinue == true && continues?.hasUnknownExpectation == false)
        let unknown = head("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue, x-fast\r\n\r\n")
        #expect(unknown?.expectsContinue == true && unknown?.hasUnknownExpectation == true)
        #expect(head("GET / HTTP/1.1\r\nHost: h\r\n\r\n")?.hasUnknownExpectation == false)
    }

    @Test func repeatedConditionalFieldsAreIgnoredOrKeptFirst() throws {
        let bytes = Array(("GET / HTTP/1.1\r\nHost: h\r\nRange: bytes=1-2\r\nRange: bytes=3-4\r\n"
            + "If-Modified-Since: a\r\nIf-Modified-Since: b\r\nIf-None-Match: \"x\"\r\nIf-None-Match: \"y\"\r\n\r\n").utf8)
        let head = try #require(try parse(bytes).get())
        #expect(head.range == nil)
        #expect(head.ifModifiedSince == nil)
        #expect(bytes.string(head.ifNoneMatch) == "\"x\"")
    }

    @Test func limits() {
        let limits = HTTPLimits(maxRequestLineLength: 20, maxHeaderCount: 3, maxHeaderBytes: 40)
        let line20 = "GET /" + String(repeating: "a", count: 6) + " HTTP/1.1"   // exactly 20
        #expect(head(line20 + "\r\nHost: h\r\n\r\n", limits: limits) != nil)
        #expect(error("GET /" + String(repeating: "a", count: 7) + " HTTP/1.1\r\nHost: h\r\n\r\n", limits: limits)
                == .requestLineTooLong)
        // Without a line end, the limit is enforced as soon as it is exceeded.
        #expect(error("GET /" + String(repeating: "a", count: 20), limits: limits) == .requestLineTooLong)
        #expect(error("GET /" + String(repeating: "a", count: 16), limits: limits) == nil)
        #expect(head("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", limits: limits) != nil)
        #expect(error("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: limits) == .tooManyFields)
        // 40 bytes of header section exactly: "Host: h\r\n" (9) + "X: " + 26 + "\r\n" (31) = 40... plus the
        // final CRLF is 42: too large.
        #expect(error("GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "v", count: 26) + "\r\n\r\n",
                      limits: limits) == .headerSectionTooLarge)
        #expect(head("GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "v", count: 24) + "\r\n\r\n",
                     limits: limits) != nil)
        #expect(error("GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "v", count: 40), limits: limits)
                == .headerSectionTooLarge)
        #expect(limits.maxHeadLength >= ("\r\n" + line20 + "\r\nHost: h\r\n\r\n").utf8.count)
    }

    @Test func pipelinedRequestsFollowTheHeadAndBody() throws {
        let bytes = Array(("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
            + "GET /b HTTP/1.1\r\nHost: h\r\n\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\nGET /d").utf8)
        var parser = HTTPRequestParser()
        var offset = 0
        var targets: [String] = []
        try bytes.withUnsafeBytes { buffer in
            while true {
                let rest = UnsafeRawBufferPointer(rebasing: buffer[offset...])
                guard try parser.parse(rest) else { break }
                let head = parser.head
                targets.append(Array(rest).string(head.target)!)
                if case .contentLength(let length) = head.body { offset += length }
                offset += head.headLength
                parser.reset()
            }
        }
        #expect(targets == ["/a", "/b", "/c"])
        #expect(String(decoding: bytes[offset...], as: UTF8.self) == "GET /d")
    }

    @Test func errorsAndHeadsRepeatOnFurtherCalls() throws {
        var parser = HTTPRequestParser()
        withBytes("BAD@ / HTTP/1.1\r\n") { buffer in
            #expect(throws: HTTPParseError.invalidMethod) { try parser.parse(buffer) }
            #expect(throws: HTTPParseError.invalidMethod) { try parser.parse(buffer) }
        }
        parser.reset()
        try withBytes("GET / HTTP/1.0\r\n\r\n") { buffer in
            let complete = try parser.parse(buffer)
            let again = try parser.parse(buffer)
            #expect(complete && again)
            #expect(parser.head.version == .http10 && parser.head.headLength == buffer.count)
        }
    }
}
