import Testing
@testable import MTCPHTTP

/// `error_pages`: pages of the document root sent for error statuses.
@Suite struct ErrorPageTests {
    static func page(_ box: CacheBox, _ status: HTTPStatus, keepAlive: Bool) -> String? {
        box.cache.errorPage(for: status, keepAlive: keepAlive).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func aConfiguredPageIsTheErrorsResponse() throws {
        let site = try TemporaryRoot()
        try site.write("404.html", "<h1>gone fishing</h1>")
        try site.write("errors/50x.txt", "try later")
        let cache = try CacheBox(.init(documentRoot: site.root, serverName: "test",
                                       errorPages: [404: "/404.html", 502: "/errors/50x.txt", 405: "/404.html"]),
                                 now: 784_111_777)
        let notFound = try #require(Self.page(cache, .notFound, keepAlive: true))
        #expect(notFound == "HTTP/1.1 404 Not Found\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: test\r\n"
            + "Content-Type: text/html; charset=utf-8\r\nContent-Length: 21\r\nConnection: keep-alive\r\n\r\n"
            + "<h1>gone fishing</h1>")
        let badGateway = try #require(Self.page(cache, .badGateway, keepAlive: false))
        #expect(badGateway.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        #expect(badGateway.contains("Content-Type: text/plain") && badGateway.hasSuffix("Connection: close\r\n\r\ntry later"))
        let notAllowed = try #require(Self.page(cache, .methodNotAllowed, keepAlive: true))
        #expect(notAllowed.contains("Allow: GET, HEAD, OPTIONS\r\n"))
        #expect(Self.page(cache, .forbidden, keepAlive: true) == nil, "no page: the built-in one")
        cache.cache.refreshDate(HTTPDateClock(now: 784_111_778))
        let redated = try #require(Self.page(cache, .notFound, keepAlive: false))
        #expect(redated.contains("Date: Sun, 06 Nov 1994 08:49:38 GMT\r\n"))
    }

    @Test func aMissingOrLargePageStopsTheBuild() throws {
        let site = try TemporaryRoot()
        try site.write("big.html", String(repeating: "x", count: 100))
        #expect(throws: StaticFileCacheError.self) {
            _ = try CacheBox(.init(documentRoot: site.root, errorPages: [404: "/absent.html"]))
        }
        do {
            _ = try CacheBox(.init(documentRoot: site.root, maxFileBytes: 10, errorPages: [500: "/big.html"]))
            Issue.record("a page beyond max_file_bytes was accepted")
        } catch {
            #expect("\(error)".contains("error page for 500: /big.html is larger than"))
        }
    }

    @Test func theConfigurationDecodesAndChecksStatusesAndPaths() throws {
        let configuration = try decodeConfiguration(#"{"error_pages": {"404": "/404.html", "503": "/50x.html"}}"#)
        #expect(configuration.errorPages == [404: "/404.html", 503: "/50x.html"])
        #expect(configuration.staticFileCache.errorPages == configuration.errorPages)
        #expect(configurationError("{\n\"error_pages\": {\n\"200\": \"/ok.html\"}}")?
            .hasPrefix("conf/test.json:3: error_pages.200: not an error status the server sends (400, ") == true)
        #expect(configurationError(#"{"error_pages": {"404": "404.html"}}"#)?
            .contains("error_pages.404: must be a path of the document root") == true)
        #expect(configurationError(#"{"error_pages": {"four": "/x"}}"#)?.contains("\"four\" is not a status code") == true)
    }
}
